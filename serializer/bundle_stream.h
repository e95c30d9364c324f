// One bundle entry's content as a ContentSource: decompressed one chunk at
// a time, so a consumer that writes as it reads (populate into a file
// backend) holds one chunk, never the whole entry.
#ifndef CACHEPACK_SERIALIZER_BUNDLE_STREAM_H_
#define CACHEPACK_SERIALIZER_BUNDLE_STREAM_H_

#include "cachepack/bundle_reader.h"
#include "cachepack/content_source.h"

namespace cachepack::bundle {

// Each chunk's XXH3-128 is checked before it is decompressed; the
// content's SHA-256 is computed on the way and a mismatch with the index is
// kDataLoss on the last piece, so a consumer that commits only after the
// end never keeps content the index does not vouch for. Offers the
// index's SHA-256 as known_sha256(). `reader` must outlive the source.
class EntryContentSource final : public ContentSource {
 public:
  EntryContentSource(const BundleReader& reader, EntryInfo entry)
      : reader_(reader), entry_(std::move(entry)) {}

  uint64_t size() const override { return entry_.original_size; }
  Result<ByteSpan> next() override;
  std::optional<Sha256Digest> known_sha256() const override {
    return entry_.sha256;
  }

 private:
  const BundleReader& reader_;
  const EntryInfo entry_;
  size_t next_chunk_ = 0;
  bool done_ = false;
  Bytes chunk_;
  Sha256 hash_;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_SERIALIZER_BUNDLE_STREAM_H_
