// PyTorch's codecache.sha256_hash, which names FX-graph and AOTAutograd
// keys and the files their cache entries are stored in.
#ifndef CACHEPACK_ARTIFACTS_PYTORCH_HASH_H_
#define CACHEPACK_ARTIFACTS_PYTORCH_HASH_H_

#include <string>

#include "util/bytes.h"

namespace cachepack {

// Lowercase base32 of SHA-256(data), first 51 characters.
std::string pytorch_sha256_hash(ByteSpan data);

}  // namespace cachepack

#endif  // CACHEPACK_ARTIFACTS_PYTORCH_HASH_H_
