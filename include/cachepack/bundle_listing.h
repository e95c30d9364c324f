// What the format-neutral CLI commands (ls, verify) need from a bundle, in
// one small header: detect it, list it, verify it.
#ifndef CACHEPACK_BUNDLE_LISTING_H_
#define CACHEPACK_BUNDLE_LISTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cachepack/bundle_reader.h"
#include "cachepack/error.h"

namespace cachepack::bundle {

// is_bundle() (cachepack/bundle_format.h) of the file at `path`: whether
// the bundle reader rather than the Mega-Cache parser should read it. False
// for unreadable files (the caller's own open reports those).
bool is_bundle_file(const std::string& path);

struct ListedArtifact {
  std::string type;
  std::string key;
  uint64_t size = 0;         // Original content bytes.
  uint64_t stored_size = 0;  // Bytes in the bundle.
  std::string sha256;        // Lowercase hex of the content's SHA-256.
};

// Every entry of an open bundle in stored order, from the index alone
// (nothing decompressed).
Result<std::vector<ListedArtifact>> list_bundle(const BundleReader& reader);

// Full verification (BundleReader::verify_all) of an open bundle; open it
// with ReaderOptions::trusted_keys to require a valid signature by one of
// them. With `canonical_keys`, every artifact of a registered type must also
// pass its canonical key rules (ArtifactTypes::global(), kCanonical). Returns a
// one-line summary such as
// "20 entries, 5761 bytes, 1 valid signature (trusted)".
Result<std::string> verify_bundle(const BundleReader& reader,
                                  bool canonical_keys = false);

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_LISTING_H_
