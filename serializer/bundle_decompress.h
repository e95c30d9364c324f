// The reader's decompression: a bundle chunk's stored bytes into exactly its
// declared size, with a zstd context per thread and the bundle's
// dictionaries made into zstd's form once and shared; an entry's chunks on
// one thread or several. Internal to serializer/.
#ifndef CACHEPACK_SERIALIZER_BUNDLE_DECOMPRESS_H_
#define CACHEPACK_SERIALIZER_BUNDLE_DECOMPRESS_H_

#include <zstd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "cachepack/bundle_reader.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::bundle {

class ChunkDecompressor {
 public:
  // The bytes of dictionary `number` (1-based) in the index, or the index's
  // error when there is no such dictionary. They must outlive the
  // decompressor.
  using DictionaryBytes = std::function<Result<ByteSpan>(uint32_t number)>;

  // Decompresses chunks of `file`, with the dictionaries `dictionary_bytes`
  // returns; a dictionary zstd cannot use is kDecompression at
  // `index_offset`.
  ChunkDecompressor(ByteSpan file, DictionaryBytes dictionary_bytes,
                    uint64_t index_offset);
  ~ChunkDecompressor();
  ChunkDecompressor(const ChunkDecompressor&) = delete;
  ChunkDecompressor& operator=(const ChunkDecompressor&) = delete;

  // Writes `chunk`'s content, exactly chunk.original_size bytes, to `out`:
  // a raw chunk is copied; a zstd frame (with dictionary `dictionary`, 0 for
  // none) must declare no other size, cannot write past it and must fill it,
  // else kDecompression at the chunk's offset. Its XXH3 is not checked here.
  Result<void> decompress(const ChunkInfo& chunk, uint32_t dictionary,
                          std::byte* out) const;

  // All of `entry`'s chunks, in order, on up to `threads` threads. On one
  // thread the output grows chunk by chunk, so memory follows what actually
  // decompresses rather than what the index claims. Errors are
  // decompress()'s, without the file or key.
  Result<Bytes> decompress_entry(const EntryInfo& entry, int threads) const;

 private:
  struct DDictFree {
    void operator()(ZSTD_DDict* d) const { ZSTD_freeDDict(d); }
  };

  Result<const ZSTD_DDict*> ddict(uint32_t number) const;
  Result<Bytes> decompress_serially(const EntryInfo& entry) const;
  Result<Bytes> decompress_in_parallel(const EntryInfo& entry,
                                       size_t workers) const;

  ByteSpan file_;
  DictionaryBytes dictionary_bytes_;
  uint64_t index_offset_;
  mutable std::mutex ddict_mutex_;
  mutable std::map<uint32_t, std::unique_ptr<ZSTD_DDict, DDictFree>> ddicts_;
};

// The decompressed bytes of recently read solid blocks (docs/FORMAT.md,
// "Solid blocks"), each as far as some read needed it, with the zstd
// stream that stopped there: reading a block's entries in order
// decompresses it once; reading one entry decompresses the block only up
// to that entry's end. At most kSlots blocks are kept, so memory stays
// bounded by a few blocks (each within ReaderLimits::max_chunk_size).
class SolidBlocks {
 public:
  static constexpr size_t kSlots = 4;

  explicit SolidBlocks(ByteSpan file) : file_(file) {}
  ~SolidBlocks();
  SolidBlocks(const SolidBlocks&) = delete;
  SolidBlocks& operator=(const SolidBlocks&) = delete;

  // Bytes [offset, offset + size) of solid block `number` (stored as
  // `block`), which the caller has checked lie within its declared size.
  // The first use of a block checks its stored bytes' XXH3-128
  // (kChecksumMismatch) and its frame's declared size; a frame that ends
  // early or is not zstd is kDecompression; all at the block's offset.
  Result<Bytes> read(uint32_t number, const ChunkInfo& block, uint64_t offset,
                     uint64_t size) const;
  // Decompresses block `number` to its end: kDecompression unless the frame
  // gives exactly its declared size and nothing follows the frame.
  Result<void> finish(uint32_t number, const ChunkInfo& block) const;

 private:
  struct Slot;
  std::shared_ptr<Slot> slot(uint32_t number, const ChunkInfo& block) const;
  Result<void> advance(Slot& s, uint64_t want) const;
  // Marks slot `s`'s block damaged for good (kDataLoss at its offset) and
  // frees what it held.
  static tl::unexpected<Error> fail(Slot& s, ErrorReason reason,
                                    const std::string& what);

  ByteSpan file_;
  mutable std::mutex mutex_;
  mutable std::vector<std::shared_ptr<Slot>> slots_;
  mutable uint64_t clock_ = 0;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_SERIALIZER_BUNDLE_DECOMPRESS_H_
