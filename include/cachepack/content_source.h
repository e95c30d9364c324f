// Content that arrives in pieces: an artifact streamed from a bundle's
// chunks or from a file, so that no layer has to hold a large value whole
// (populate's memory stays bounded whatever the entry sizes).
#ifndef CACHEPACK_CONTENT_SOURCE_H_
#define CACHEPACK_CONTENT_SOURCE_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "cachepack/bytes.h"
#include "cachepack/error.h"
#include "cachepack/hash.h"

namespace cachepack {

class ContentSource {
 public:
  virtual ~ContentSource() = default;

  // Total bytes the source yields.
  virtual uint64_t size() const = 0;

  // The next piece, valid until the following call; empty at the end. An
  // error ends the source, and whatever was written from it must be
  // discarded: sources that check a digest report a mismatch there, on
  // the last piece, so a consumer commits only after seeing the end.
  virtual Result<ByteSpan> next() = 0;

  // The content's SHA-256 when known before reading (a bundle's index
  // holds it; the source then checks it on the way), so a consumer that
  // names files by content can skip content it already has.
  virtual std::optional<Sha256Digest> known_sha256() const {
    return std::nullopt;
  }
};

// Bytes held elsewhere, in pieces of at most `piece` bytes.
class SpanSource final : public ContentSource {
 public:
  explicit SpanSource(ByteSpan data, size_t piece = size_t{1} << 20)
      : data_(data), piece_(piece) {}
  // Bytes whose SHA-256 the caller computed already (and vouches for).
  SpanSource(ByteSpan data, const Sha256Digest& sha256)
      : data_(data), piece_(size_t{1} << 20), sha256_(sha256) {}
  uint64_t size() const override { return data_.size(); }
  std::optional<Sha256Digest> known_sha256() const override { return sha256_; }
  Result<ByteSpan> next() override {
    ByteSpan out = data_.subspan(at_, std::min(piece_, data_.size() - at_));
    at_ += out.size();
    return out;
  }

 private:
  ByteSpan data_;
  size_t piece_;
  size_t at_ = 0;
  std::optional<Sha256Digest> sha256_;
};

// Reads a whole source into memory, its size reserved first;
// kResourceExhausted naming `what` when that much cannot be allocated.
Result<Bytes> read_all(ContentSource& source, std::string_view what);

}  // namespace cachepack

#endif  // CACHEPACK_CONTENT_SOURCE_H_
