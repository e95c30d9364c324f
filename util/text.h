// Text encodings found in cache formats: base64 (PyTorch writes every string
// field as base64 of its UTF-8 bytes) and UTF-8 validation.
#ifndef CACHEPACK_UTIL_TEXT_H_
#define CACHEPACK_UTIL_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

#include "cachepack/bytes.h"

namespace cachepack {

// Standard base64 (RFC 4648 alphabet, '=' padding, no line breaks).
std::string base64_encode(ByteSpan data);

// Length of base64_encode() output for n input bytes.
constexpr uint64_t base64_encoded_size(uint64_t n) { return (n + 2) / 3 * 4; }

// base64_encode() into `out`, which has base64_encoded_size(data.size())
// bytes.
void base64_encode_into(ByteSpan data, char* out);

// Strict: accepts exactly the canonical encoding base64_encode() produces
// (length a multiple of 4, alphabet only, padding only at the end, unused
// bits zero). Returns nullopt on anything else.
std::optional<std::string> base64_decode_strict(std::string_view text);

// Lenient: what Python's base64.b64decode(validate=False) accepts, which is
// what PyTorch's reader uses: characters outside the alphabet are skipped,
// decoding stops at a complete padding sequence, and only a wrong number of
// data characters ("Incorrect padding") fails.
std::optional<std::string> base64_decode_lenient(std::string_view text);

// True when `s` is well-formed UTF-8 as Python's strict decoder sees it
// (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Escapes control bytes and backslashes as \xNN so a key prints on one line.
std::string printable(std::string_view s);

}  // namespace cachepack

#endif  // CACHEPACK_UTIL_TEXT_H_
