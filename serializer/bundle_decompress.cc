#include "serializer/bundle_decompress.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "cachepack/bundle_format.h"

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

struct SolidBlocks::Slot {
  uint32_t number = 0;
  ChunkInfo block;
  uint64_t last_use = 0;
  std::mutex mutex;  // Guards what follows.
  bool checked = false;
  std::optional<Error> failed;  // Sticks: the block is damaged.
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx;
  Bytes out;           // The decompressed prefix.
  size_t in_pos = 0;   // Stored bytes consumed.
  bool ended = false;  // The frame is complete.
};

SolidBlocks::~SolidBlocks() = default;

// The slot of block `number`, made (evicting the least recently used)
// when none holds it.
std::shared_ptr<SolidBlocks::Slot> SolidBlocks::slot(
    uint32_t number, const ChunkInfo& block) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& s : slots_) {
    if (s->number == number && s->block.offset == block.offset &&
        s->block.stored_size == block.stored_size) {
      s->last_use = ++clock_;
      return s;
    }
  }
  auto s = std::make_shared<Slot>();
  s->number = number;
  s->block = block;
  s->last_use = ++clock_;
  if (slots_.size() < kSlots) {
    slots_.push_back(s);
  } else {
    auto oldest = std::min_element(
        slots_.begin(), slots_.end(),
        [](const auto& a, const auto& b) { return a->last_use < b->last_use; });
    *oldest = s;  // A reader still using it keeps it alive.
  }
  return s;
}

tl::unexpected<Error> SolidBlocks::fail(Slot& s, ErrorReason reason,
                                        const std::string& what) {
  s.failed = Error(ErrorCode::kDataLoss, reason,
                   "solid block " + std::to_string(s.number) + ": " + what,
                   ErrorLocation{.offset = s.block.offset});
  s.out = Bytes();
  s.dctx.reset();
  return tl::unexpected(*s.failed);
}

// Decompresses slot `s`'s block until `want` bytes are out (or, for a raw
// block, just checks it). Called with s.mutex held.
Result<void> SolidBlocks::advance(Slot& s, uint64_t want) const {
  if (s.failed) return tl::unexpected(*s.failed);
  const ChunkInfo& b = s.block;
  ByteSpan src = file_.subspan(b.offset, b.stored_size);
  auto fail = [&s](ErrorReason reason, const std::string& what) {
    return SolidBlocks::fail(s, reason, what);
  };
  if (!s.checked) {
    if (xxh3_128(src) != b.xxh3) {
      return fail(ErrorReason::kChecksumMismatch,
                  "stored bytes do not match their XXH3-128");
    }
    if (b.codec == Codec::kZstd) {
      unsigned long long declared =
          ZSTD_getFrameContentSize(src.data(), src.size());
      if (declared == ZSTD_CONTENTSIZE_ERROR) {
        return fail(ErrorReason::kDecompression,
                    "stored bytes are not a zstd frame");
      }
      if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != b.original_size) {
        return fail(ErrorReason::kDecompression,
                    "zstd frame declares " + std::to_string(declared) +
                        " bytes but the index declares " +
                        std::to_string(b.original_size));
      }
      s.dctx.reset(ZSTD_createDCtx());
      if (!s.dctx) {
        return make_error(ErrorCode::kResourceExhausted,
                          "cannot make a zstd decompression context");
      }
    }
    s.checked = true;
  }
  if (b.codec == Codec::kRaw) return {};
  while (s.out.size() < want) {
    if (s.ended) {
      return fail(ErrorReason::kDecompression,
                  "zstd frame ends after " + std::to_string(s.out.size()) +
                      " bytes, the index declares " +
                      std::to_string(b.original_size));
    }
    const size_t had = s.out.size();
    const size_t consumed = s.in_pos;
    // Output goes straight into the prefix, never past what is wanted.
    s.out.resize(want);
    ZSTD_outBuffer o{s.out.data(), want, had};
    ZSTD_inBuffer i{src.data(), src.size(), s.in_pos};
    size_t r = ZSTD_decompressStream(s.dctx.get(), &o, &i);
    s.out.resize(o.pos);
    s.in_pos = i.pos;
    if (ZSTD_isError(r)) {
      return fail(ErrorReason::kDecompression,
                  std::string("zstd: ") + ZSTD_getErrorName(r) + " after " +
                      std::to_string(had) + " bytes");
    }
    if (r == 0) {
      s.ended = true;
      s.dctx.reset();  // Its window is no longer needed.
    } else if (o.pos == had && i.pos == consumed) {
      return fail(ErrorReason::kDecompression,
                  "zstd frame is cut short after " + std::to_string(had) +
                      " bytes, the index declares " +
                      std::to_string(b.original_size));
    }
  }
  return {};
}

Result<Bytes> SolidBlocks::read(uint32_t number, const ChunkInfo& block,
                                uint64_t offset, uint64_t size) const {
  auto s = slot(number, block);
  std::lock_guard<std::mutex> lock(s->mutex);
  CP_TRY(advance(*s, offset + size));
  const std::byte* from = block.codec == Codec::kRaw
                              ? file_.data() + block.offset + offset
                              : s->out.data() + offset;
  return Bytes(from, from + size);
}

Result<void> SolidBlocks::finish(uint32_t number,
                                 const ChunkInfo& block) const {
  auto s = slot(number, block);
  std::lock_guard<std::mutex> lock(s->mutex);
  CP_TRY(advance(*s, block.original_size));
  if (block.codec == Codec::kRaw) return {};
  if (!s->ended) {
    // The frame must end exactly at the declared size.
    std::byte extra[1];
    ZSTD_outBuffer o{extra, sizeof extra, 0};
    ByteSpan src = file_.subspan(block.offset, block.stored_size);
    ZSTD_inBuffer i{src.data(), src.size(), s->in_pos};
    size_t r = ZSTD_decompressStream(s->dctx.get(), &o, &i);
    s->in_pos = i.pos;
    if (!ZSTD_isError(r) && r == 0 && o.pos == 0) {
      s->ended = true;
      s->dctx.reset();
    }
  }
  if (s->ended && s->in_pos == block.stored_size) return {};
  return fail(*s, ErrorReason::kDecompression,
              "zstd frame does not end at the declared " +
                  std::to_string(block.original_size) +
                  " bytes and the stored end");
}

}  // namespace cachepack::bundle
