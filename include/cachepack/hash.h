// Digests used across formats: CRC-32 (zlib's, as PyTorch's blob checksum)
// and SHA-256 (content identity, PyTorch's inductor_triton keys).
#ifndef CACHEPACK_HASH_H_
#define CACHEPACK_HASH_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "cachepack/bytes.h"

namespace cachepack {

// CRC-32/ISO-HDLC as zlib.crc32 computes it; `crc` continues a running value.
uint32_t crc32(ByteSpan data, uint32_t crc = 0);

using Sha256Digest = std::array<std::byte, 32>;

Sha256Digest sha256(ByteSpan data);
std::string sha256_hex(ByteSpan data);

// Incremental SHA-256 for data that arrives in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(ByteSpan data);
  Sha256Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cachepack

#endif  // CACHEPACK_HASH_H_
