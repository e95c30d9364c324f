#include "artifacts/pytorch_hash.h"

#include "cachepack/hash.h"

namespace cachepack {

std::string pytorch_sha256_hash(ByteSpan data) {
  return pytorch_sha256_hash(sha256(data));
}

std::string pytorch_sha256_hash(const Sha256Digest& d) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (std::byte b : d) {
    buffer = (buffer << 8) | static_cast<uint8_t>(b);
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  // 256 bits = 51 full groups + 1 bit; PyTorch keeps the first 51.
  return out.substr(0, 51);
}

}  // namespace cachepack
