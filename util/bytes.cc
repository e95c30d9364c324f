#include "cachepack/bytes.h"

namespace cachepack {

std::string to_hex(ByteSpan data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::byte b : data) {
    auto v = static_cast<uint8_t>(b);
    out += kHex[v >> 4];
    out += kHex[v & 0xf];
  }
  return out;
}

}  // namespace cachepack
