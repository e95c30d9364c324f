#include "cachepack/megacache.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>

#include "cachepack/hash.h"
#include "util/append_buffer.h"
#include "util/text.h"

namespace cachepack::megacache {
namespace {

std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08" PRIx32, v);
  return buf;
}

// Reads fields front to back, never past the end: every length is compared
// with what is left before it is used.
class Cursor {
 public:
  Cursor(ByteSpan data, size_t pos) : data_(data), pos_(pos) {}

  size_t pos() const { return pos_; }
  size_t left() const { return data_.size() - pos_; }

  Result<uint64_t> u64(std::string_view what) {
    if (left() < 8) {
      return data_loss(ErrorReason::kTooShort, pos_,
                       "blob ends inside the 8-byte " + std::string(what) +
                           " (" + std::to_string(left()) + " bytes left)");
    }
    uint64_t v = decode_fixed64_be(data_.data() + pos_);
    pos_ += 8;
    return v;
  }

  // A u64 length, then that many bytes.
  Result<ByteSpan> bytes(std::string_view what) {
    size_t at = pos_;
    CP_ASSIGN_OR_RETURN(auto length, u64(std::string(what) + " length"));
    if (length > left()) {
      return data_loss(ErrorReason::kLengthOverrun, at,
                       std::string(what) + " length " + std::to_string(length) +
                           " exceeds the " + std::to_string(left()) +
                           " bytes left");
    }
    ByteSpan out = data_.subspan(pos_, length);
    pos_ += length;
    return out;
  }

  // A base64 field holding UTF-8 text.
  Result<std::string> str(std::string_view what, Base64Mode mode) {
    CP_ASSIGN_OR_RETURN(auto field, bytes(what));
    size_t at = pos_ - field.size();
    std::string_view text = as_chars(field);
    std::optional<std::string> decoded = mode == Base64Mode::kStrict
                                             ? base64_decode_strict(text)
                                             : base64_decode_lenient(text);
    if (!decoded) {
      return data_loss(ErrorReason::kInvalidBase64, at,
                       std::string(what) + " is not valid base64: \"" +
                           printable(text.substr(0, 80)) + "\"");
    }
    if (!is_valid_utf8(*decoded)) {
      return data_loss(ErrorReason::kInvalidUtf8, at,
                       std::string(what) + " is not valid UTF-8 (bytes " +
                           to_hex(as_bytes(*decoded).first(
                               std::min<size_t>(decoded->size(), 32))) +
                           ")");
    }
    return std::move(*decoded);
  }

 private:
  ByteSpan data_;
  size_t pos_;
};

// The smallest encoded artifact: two empty fields, each a u64 length.
constexpr uint64_t kMinArtifactSize = 16;

// Writers of the fields into memory already sized by group_size().
std::byte* put_u64(std::byte* at, uint64_t value) {
  encode_fixed64_be(at, value);
  return at + 8;
}

std::byte* put_str(std::byte* at, std::string_view s) {
  uint64_t size = base64_encoded_size(s.size());
  at = put_u64(at, size);
  base64_encode_into(as_bytes(s), reinterpret_cast<char*>(at));
  return at + size;
}

}  // namespace

size_t Blob::artifact_count() const {
  size_t n = 0;
  for (const auto& g : groups) n += g.artifacts.size();
  return n;
}

std::vector<ArtifactView> Blob::artifacts() const {
  std::vector<ArtifactView> out;
  out.reserve(artifact_count());
  for (const auto& g : groups) {
    out.insert(out.end(), g.artifacts.begin(), g.artifacts.end());
  }
  return out;
}

Result<Blob> parse(ByteSpan data, const ReadOptions& options) {
  if (data.size() < 4) {
    return data_loss(ErrorReason::kTooShort, 0,
                     "input is " + std::to_string(data.size()) +
                         " bytes, too short for the 4-byte CRC-32");
  }
  Blob blob;
  blob.size = data.size();
  blob.crc = decode_fixed32_be(data.data());
  // Step by which the input is checked and handed to done_reading.
  constexpr size_t kReadStep = size_t{8} << 20;
  uint32_t computed = 0;
  for (size_t at = 4; at < data.size(); at += kReadStep) {
    ByteSpan piece = data.subspan(at, std::min(kReadStep, data.size() - at));
    computed = crc32(piece, computed);
    if (options.done_reading) options.done_reading(piece);
  }
  if (computed != blob.crc) {
    return data_loss(ErrorReason::kChecksumMismatch, 0,
                     "CRC-32 mismatch: stored " + hex32(blob.crc) +
                         ", computed " + hex32(computed));
  }
  Cursor in(data, 4);
  CP_ASSIGN_OR_RETURN(auto version, in.u64("encoding version"));
  if (version != kEncodingVersion) {
    return make_error(ErrorCode::kUnimplemented,
                      ErrorReason::kUnsupportedVersion,
                      "encoding version " + std::to_string(version) +
                          " (this reader knows version 1)",
                      ErrorLocation{.offset = 4});
  }
  size_t read_behind = 0;  // Handed to done_reading up to here.
  auto done_up_to = [&](size_t end) {
    if (options.done_reading && end > read_behind) {
      options.done_reading(data.subspan(read_behind, end - read_behind));
      read_behind = end;
    }
  };
  while (in.left() > 0) {
    Group group;
    group.offset = in.pos();
    if (in.left() < 8) {
      return data_loss(ErrorReason::kTrailingBytes, in.pos(),
                       std::to_string(in.left()) +
                           " bytes after the last group, too few for a group");
    }
    CP_ASSIGN_OR_RETURN(auto type, in.str("type name", options.base64));
    group.type = std::move(type);
    std::optional<TypeDescriptor> descriptor;
    if (options.types != nullptr) {
      descriptor = options.types->find(group.type);
      if (!descriptor && options.strict_types) {
        return make_error(
            ErrorCode::kUnimplemented, ErrorReason::kUnknownType,
            "artifact type '" + printable(group.type) + "' is not registered",
            ErrorLocation{.offset = group.offset});
      }
    }
    size_t count_at = in.pos();
    CP_ASSIGN_OR_RETURN(auto count, in.u64("artifact count"));
    if (count > in.left() / kMinArtifactSize) {
      return data_loss(ErrorReason::kLengthOverrun, count_at,
                       "artifact count " + std::to_string(count) +
                           " cannot fit in the " + std::to_string(in.left()) +
                           " bytes left");
    }
    group.artifacts.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      size_t artifact_at = in.pos();
      CP_ASSIGN_OR_RETURN(auto key, in.str("key", options.base64));
      CP_ASSIGN_OR_RETURN(auto content, with_key(in.bytes("content"), key));
      if (descriptor && descriptor->required) {
        CP_TRY(at_offset(descriptor->required(key, content), artifact_at));
      }
      uint64_t content_offset = in.pos() - content.size();
      group.artifacts.push_back(
          ArtifactView{group.type, std::move(key), content, content_offset});
      if (in.pos() - read_behind >= kReadStep) done_up_to(in.pos());
    }
    blob.groups.push_back(std::move(group));
  }
  done_up_to(data.size());
  return blob;
}

Writer::Writer() : buffer_(std::make_unique<AppendBuffer>()) { clear(); }
Writer::~Writer() = default;
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;

size_t Writer::size() const { return buffer_->size(); }

void Writer::clear() {
  buffer_->truncate(0);
  // 12 bytes fit in the first mapping or there is no memory at all; then
  // the writer stays empty and the next append_group reports it.
  if (auto header = buffer_->extend(12)) {
    std::memset(*header, 0, 4);
    put_u64(*header + 4, kEncodingVersion);
  }
  crc_ = 0;
  crc_end_ = 4;
}

uint64_t group_size(std::string_view type,
                    std::span<const KeyedContent> entries) {
  uint64_t size = 8 + base64_encoded_size(type.size()) + 8;
  for (const auto& e : entries) {
    size += 8 + base64_encoded_size(e.key.size()) + 8 + e.content.size();
  }
  return size;
}

Result<void> Writer::append_group(std::string_view type,
                                  std::span<const KeyedContent> entries) {
  if (!is_valid_utf8(type)) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidUtf8,
                      "type name is not valid UTF-8");
  }
  for (const auto& e : entries) {
    if (!is_valid_utf8(e.key)) {
      return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidUtf8,
                        "key is not valid UTF-8",
                        ErrorLocation{.key = std::string(e.key)});
    }
  }
  if (buffer_->size() < 12) {
    clear();
    if (buffer_->size() < 12) {
      return make_error(ErrorCode::kResourceExhausted,
                        ErrorReason::kLimitExceeded,
                        "no memory for the blob's header");
    }
  }
  CP_ASSIGN_OR_RETURN(std::byte * at,
                      buffer_->extend(group_size(type, entries)));
  at = put_str(at, type);
  at = put_u64(at, entries.size());
  for (const auto& e : entries) {
    at = put_str(at, e.key);
    at = put_u64(at, e.content.size());
    if (!e.content.empty()) std::memcpy(at, e.content.data(), e.content.size());
    at += e.content.size();
  }
  return {};
}

ByteSpan Writer::bytes() {
  // Only the bytes appended since the last call are hashed again.
  ByteSpan all(buffer_->data(), buffer_->size());
  if (all.size() < 12) return {};
  crc_ = crc32(all.subspan(crc_end_), crc_);
  crc_end_ = all.size();
  encode_fixed32_be(buffer_->data(), crc_);
  return all;
}

}  // namespace cachepack::megacache
