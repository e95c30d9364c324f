#include "serializer/bundle_decompress.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace cachepack::bundle {
namespace {

// The most a serial decompression reserves ahead: the entry's declared size
// is untrusted until its chunks decompress.
constexpr uint64_t kMaxReservedBytes = uint64_t{64} << 20;

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace

ChunkDecompressor::ChunkDecompressor(ByteSpan file,
                                     DictionaryBytes dictionary_bytes,
                                     uint64_t index_offset)
    : file_(file),
      dictionary_bytes_(std::move(dictionary_bytes)),
      index_offset_(index_offset) {}

ChunkDecompressor::~ChunkDecompressor() = default;

// Made on first use, under the lock, and kept: threads decompressing chunks
// of one entry share it.
Result<const ZSTD_DDict*> ChunkDecompressor::ddict(uint32_t number) const {
  std::lock_guard<std::mutex> lock(ddict_mutex_);
  auto it = ddicts_.find(number);
  if (it != ddicts_.end()) return it->second.get();
  CP_ASSIGN_OR_RETURN(ByteSpan content, dictionary_bytes_(number));
  std::unique_ptr<ZSTD_DDict, DDictFree> d(
      ZSTD_createDDict(content.data(), content.size()));
  if (!d) {
    return data_loss(
        ErrorReason::kDecompression, index_offset_,
        "dictionary " + std::to_string(number) + " is not usable by zstd");
  }
  const ZSTD_DDict* raw = d.get();
  ddicts_.emplace(number, std::move(d));
  return raw;
}

Result<void> ChunkDecompressor::decompress(const ChunkInfo& chunk,
                                           uint32_t dictionary,
                                           std::byte* out) const {
  ByteSpan src = file_.subspan(chunk.offset, chunk.stored_size);
  if (chunk.codec == Codec::kRaw) {
    if (!src.empty()) std::memcpy(out, src.data(), src.size());
    return {};
  }
  auto fail = [&](std::string what) {
    return data_loss(ErrorReason::kDecompression, chunk.offset,
                     std::move(what));
  };
  unsigned long long declared =
      ZSTD_getFrameContentSize(src.data(), src.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return fail("stored bytes are not a zstd frame");
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != chunk.original_size) {
    return fail("zstd frame declares " + std::to_string(declared) +
                " bytes but the index declares " +
                std::to_string(chunk.original_size));
  }
  ZSTD_DCtx* dctx = thread_dctx();
  size_t n;
  // The output buffer is exactly the declared size: zstd stops with an
  // error instead of writing more, so a frame cannot expand past it.
  if (dictionary != 0) {
    CP_ASSIGN_OR_RETURN(auto d, ddict(dictionary));
    n = ZSTD_decompress_usingDDict(dctx, out, chunk.original_size, src.data(),
                                   src.size(), d);
  } else {
    n = ZSTD_decompressDCtx(dctx, out, chunk.original_size, src.data(),
                            src.size());
  }
  if (ZSTD_isError(n)) {
    return fail(std::string("zstd: ") + ZSTD_getErrorName(n) +
                " (declared size " + std::to_string(chunk.original_size) + ")");
  }
  if (n != chunk.original_size) {
    return fail("decompressed to " + std::to_string(n) +
                " bytes, index declares " +
                std::to_string(chunk.original_size));
  }
  return {};
}

Result<Bytes> ChunkDecompressor::decompress_entry(const EntryInfo& entry,
                                                  int threads) const {
  size_t workers = std::min<size_t>(std::max(threads, 1), entry.chunks.size());
  if (workers > 1) return decompress_in_parallel(entry, workers);
  return decompress_serially(entry);
}

Result<Bytes> ChunkDecompressor::decompress_serially(
    const EntryInfo& entry) const {
  Bytes out;
  out.reserve(std::min<uint64_t>(entry.original_size, kMaxReservedBytes));
  for (const ChunkInfo& c : entry.chunks) {
    size_t start = out.size();
    out.resize(start + c.original_size);
    CP_TRY(decompress(c, entry.dictionary, out.data() + start));
  }
  return out;
}

// Chunks are independent frames: each of the `workers` threads takes every
// workers-th one, into an output of the entry's declared size.
Result<Bytes> ChunkDecompressor::decompress_in_parallel(const EntryInfo& entry,
                                                        size_t workers) const {
  Bytes out(entry.original_size);
  std::vector<uint64_t> starts;
  uint64_t pos = 0;
  for (const ChunkInfo& c : entry.chunks) {
    starts.push_back(pos);
    pos += c.original_size;
  }
  std::mutex mutex;
  std::optional<Error> first_error;
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (size_t i = w; i < entry.chunks.size(); i += workers) {
        auto ok = decompress(entry.chunks[i], entry.dictionary,
                             out.data() + starts[i]);
        if (!ok) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!first_error) first_error = std::move(ok.error());
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first_error) return tl::unexpected(std::move(*first_error));
  return out;
}

}  // namespace cachepack::bundle
