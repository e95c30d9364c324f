// Comparing what two caches hold, by content: bundles, Mega-Cache blobs or
// backends, in any combination (`cachepack diff`).
#ifndef CACHEPACK_DIFF_H_
#define CACHEPACK_DIFF_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/error.h"
#include "cachepack/hash.h"
#include "cachepack/pack.h"

namespace cachepack {

// For each type and key, the SHA-256 of every content stored under it: a
// Mega-Cache blob or a multi-valued backend may hold several.
using ContentDigests =
    std::map<std::string, std::map<std::string, std::set<Sha256Digest>>>;

// What `source` holds. A bundle's digests come from its index, so nothing
// is decompressed (`verify` checks them against the contents); a blob's and
// a backend's contents are hashed as they are read.
Result<ContentDigests> digest_contents(const PackSource& source,
                                       Deadline deadline = Deadline::never());

// How one type differs between A and B; keys sorted.
struct TypeDifference {
  std::string type;
  std::vector<std::string> only_in_a;
  std::vector<std::string> only_in_b;
  std::vector<std::string> changed;  // In both, with different contents.
};

// The types that differ, by name; empty when A and B hold the same
// contents under the same keys.
std::vector<TypeDifference> diff_contents(const ContentDigests& a,
                                          const ContentDigests& b);

}  // namespace cachepack

#endif  // CACHEPACK_DIFF_H_
