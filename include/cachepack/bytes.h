// Byte spans and fixed-width big-endian integers, as tiny inline functions
// (after leveldb's util/coding.h). Every format in cachepack is big-endian.
#ifndef CACHEPACK_BYTES_H_
#define CACHEPACK_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cachepack {

using ByteSpan = std::span<const std::byte>;
using Bytes = std::vector<std::byte>;

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string_view as_chars(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline Bytes to_bytes(std::string_view s) {
  ByteSpan b = as_bytes(s);
  return Bytes(b.begin(), b.end());
}

inline void encode_fixed64_be(std::byte* dst, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    dst[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}

inline void encode_fixed32_be(std::byte* dst, uint32_t value) {
  for (int i = 3; i >= 0; --i) {
    dst[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}

inline uint64_t decode_fixed64_be(const std::byte* src) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<uint8_t>(src[i]);
  }
  return value;
}

inline uint32_t decode_fixed32_be(const std::byte* src) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<uint8_t>(src[i]);
  }
  return value;
}

inline void append_fixed64_be(Bytes& out, uint64_t value) {
  size_t at = out.size();
  out.resize(at + 8);
  encode_fixed64_be(out.data() + at, value);
}

inline void append_bytes(Bytes& out, ByteSpan data) {
  out.insert(out.end(), data.begin(), data.end());
}

// Lowercase hex of bytes, e.g. for digests.
std::string to_hex(ByteSpan data);

}  // namespace cachepack

#endif  // CACHEPACK_BYTES_H_
