// The writer's compression machinery: a chunk compressed with zstd (or
// kept raw when that is no smaller) and digested, on the caller's thread or
// on a fixed pool of threads, into recycled buffers. Internal to serializer/
// and registry/ship.cc, which remakes stored bytes as the writer made them.
#ifndef CACHEPACK_SERIALIZER_BUNDLE_COMPRESSION_H_
#define CACHEPACK_SERIALIZER_BUNDLE_COMPRESSION_H_

#include <zstd.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "cachepack/bundle_format.h"
#include "cachepack/bytes.h"
#include "cachepack/hash.h"

namespace cachepack::bundle {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct CDictFree {
  void operator()(ZSTD_CDict* d) const { ZSTD_freeCDict(d); }
};
using CCtxPtr = std::unique_ptr<ZSTD_CCtx, CCtxFree>;
using CDictPtr = std::unique_ptr<ZSTD_CDict, CDictFree>;

// Recycles the chunk-sized buffers that carry data to and from the
// compression threads: fresh megabyte allocations cost page faults on every
// chunk, and at most a few buffers per thread are in use at any time.
class BufferPool {
 public:
  // A free buffer (of any size), or an empty one when none is free.
  Bytes get();
  void put(Bytes b);

 private:
  std::mutex mutex_;
  std::vector<Bytes> free_;
};

// One compressed (or raw) chunk, ready to be written: the first `size`
// bytes of `buffer`.
struct Compressed {
  Bytes buffer;
  size_t size = 0;
  Codec codec = Codec::kRaw;
  uint64_t original_size = 0;
  Xxh128 xxh3{};                           // Of the stored bytes.
  std::optional<Sha256Digest> sha256;      // For single-chunk entries.
  std::vector<Sha256Digest> entry_sha256;  // A solid block's, per entry.

  ByteSpan stored() const { return ByteSpan(buffer).first(size); }
};

// Compresses `in` at `level` (with `cdict` when not null) into `buffer`,
// grown as needed; stores it raw when `level` is 0 or zstd does not make
// it smaller. The SHA-256 of `in` only when `want_sha`.
Compressed compress_chunk(ZSTD_CCtx* cctx, ByteSpan in, int level,
                          const ZSTD_CDict* cdict, bool want_sha, Bytes buffer);

// Compresses a solid block (its entries' content back to back) as one zstd
// frame whose window spans the whole block, so an entry can match any
// entry before it; raw when `level` is 0 or that is no smaller. Also the
// SHA-256 of each entry, `(offset, size)` in `in`. Leaves `cctx` with its
// default parameters.
Compressed compress_block(
    ZSTD_CCtx* cctx, ByteSpan in, int level,
    std::span<const std::pair<uint64_t, uint64_t>> entries, Bytes buffer);

// A fixed set of threads, each with its own zstd context, running
// compression tasks in submission order. Destruction waits for the tasks
// already submitted.
class CompressionPool {
 public:
  explicit CompressionPool(int threads);
  ~CompressionPool();

  std::future<Compressed> submit(std::function<Compressed(ZSTD_CCtx*)> fn);

 private:
  using Task = std::packaged_task<Compressed(ZSTD_CCtx*)>;
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_SERIALIZER_BUNDLE_COMPRESSION_H_
