// PyTorch's codecache.sha256_hash, which names FX-graph and AOTAutograd
// keys and the files their cache entries are stored in.
#ifndef CACHEPACK_ARTIFACTS_PYTORCH_HASH_H_
#define CACHEPACK_ARTIFACTS_PYTORCH_HASH_H_

#include <string>

#include "cachepack/bytes.h"
#include "cachepack/hash.h"

namespace cachepack {

// Lowercase base32 of SHA-256(data), first 51 characters.
std::string pytorch_sha256_hash(ByteSpan data);
// The same from a SHA-256 already computed (content that was streamed).
std::string pytorch_sha256_hash(const Sha256Digest& digest);

}  // namespace cachepack

#endif  // CACHEPACK_ARTIFACTS_PYTORCH_HASH_H_
