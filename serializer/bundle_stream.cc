#include "serializer/bundle_stream.h"

namespace cachepack::bundle {

Result<ByteSpan> EntryContentSource::next() {
  if (done_) return ByteSpan();
  if (entry_.block != 0 && next_chunk_ == 0) {
    // In a solid block: at most a chunk, read in one piece.
    ++next_chunk_;
    CP_ASSIGN_OR_RETURN(auto content, reader_.read(entry_));
    chunk_ = std::move(content);
    hash_.update(chunk_);
    if (!chunk_.empty()) return ByteSpan(chunk_);
  }
  if (next_chunk_ < entry_.chunks.size()) {
    CP_ASSIGN_OR_RETURN(auto chunk, reader_.read_chunk(entry_, next_chunk_++));
    chunk_ = std::move(chunk);
    hash_.update(chunk_);
    return ByteSpan(chunk_);
  }
  done_ = true;
  chunk_ = Bytes();
  if (hash_.finish() != entry_.sha256) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
                      "content of entry " + std::to_string(entry_.position) +
                          " does not match its SHA-256",
                      ErrorLocation{.file = reader_.path(),
                                    .offset = entry_.offset,
                                    .key = entry_.key});
  }
  return ByteSpan();
}

}  // namespace cachepack::bundle
