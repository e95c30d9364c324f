#include "serializer/bundle_compression.h"

#include <cstring>
#include <utility>

namespace cachepack::bundle {

Bytes BufferPool::get() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.empty()) return {};
  Bytes b = std::move(free_.back());
  free_.pop_back();
  return b;
}

void BufferPool::put(Bytes b) {
  std::lock_guard<std::mutex> lock(mutex_);
  free_.push_back(std::move(b));
}

namespace {

// What is left after zstd ran (or did not pay): the stored bytes are the
// input itself when not compressed, and their checksum.
Compressed finish(Compressed out, ByteSpan in) {
  if (out.codec == Codec::kRaw) {
    if (out.buffer.size() < in.size()) out.buffer.resize(in.size());
    if (!in.empty()) std::memcpy(out.buffer.data(), in.data(), in.size());
    out.size = in.size();
  }
  out.xxh3 = xxh3_128(out.stored());
  return out;
}

}  // namespace

Compressed compress_chunk(ZSTD_CCtx* cctx, ByteSpan in, int level,
                          const ZSTD_CDict* cdict, bool want_sha,
                          Bytes buffer) {
  Compressed out;
  out.buffer = std::move(buffer);
  out.original_size = in.size();
  if (want_sha) out.sha256 = sha256(in);
  if (level > 0 && !in.empty()) {
    size_t bound = ZSTD_compressBound(in.size());
    if (out.buffer.size() < bound) out.buffer.resize(bound);
    size_t n =
        cdict != nullptr
            ? ZSTD_compress_usingCDict(cctx, out.buffer.data(),
                                       out.buffer.size(), in.data(), in.size(),
                                       cdict)
            : ZSTD_compressCCtx(cctx, out.buffer.data(), out.buffer.size(),
                                in.data(), in.size(), level);
    if (!ZSTD_isError(n) && n < in.size()) {
      out.size = n;
      out.codec = Codec::kZstd;
    }
  }
  return finish(std::move(out), in);
}

Compressed compress_block(
    ZSTD_CCtx* cctx, ByteSpan in, int level,
    std::span<const std::pair<uint64_t, uint64_t>> entries, Bytes buffer) {
  Compressed out;
  out.buffer = std::move(buffer);
  out.original_size = in.size();
  for (auto [offset, size] : entries) {
    out.entry_sha256.push_back(sha256(in.subspan(offset, size)));
  }
  if (level > 0 && !in.empty()) {
    // The level's window may be shorter than the block (2 MiB at level 3):
    // widen it to the block, so a match anywhere in it counts.
    const int window = solid_block_window_log(in.size());
    size_t bound = ZSTD_compressBound(in.size());
    if (out.buffer.size() < bound) out.buffer.resize(bound);
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    size_t n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(n)) {
      n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window);
    }
    if (!ZSTD_isError(n)) {
      n = ZSTD_compress2(cctx, out.buffer.data(), out.buffer.size(), in.data(),
                         in.size());
    }
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    if (!ZSTD_isError(n) && n < in.size()) {
      out.size = n;
      out.codec = Codec::kZstd;
    }
  }
  return finish(std::move(out), in);
}

CompressionPool::CompressionPool(int threads) {
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
}

CompressionPool::~CompressionPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

std::future<Compressed> CompressionPool::submit(
    std::function<Compressed(ZSTD_CCtx*)> fn) {
  Task task(std::move(fn));
  auto future = task.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return future;
}

void CompressionPool::run() {
  CCtxPtr cctx(ZSTD_createCCtx());
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task(cctx.get());
  }
}

}  // namespace cachepack::bundle
