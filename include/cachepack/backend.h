// A storage backend keeps bytes under (namespace, key); the namespace is the
// artifact type. Public calls are non-virtual: they check the deadline,
// count hits, misses, bytes, errors and time the same way for every backend,
// then call the implementation's do_* hooks.
#ifndef CACHEPACK_BACKEND_H_
#define CACHEPACK_BACKEND_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/bytes.h"
#include "cachepack/content_source.h"
#include "cachepack/error.h"

namespace cachepack {

using Clock = std::chrono::steady_clock;

// When an operation must be finished; never() for no limit.
class Deadline {
 public:
  static Deadline never() { return Deadline(Clock::time_point::max()); }
  static Deadline after(Clock::duration d) {
    return Deadline(Clock::now() + d);
  }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  bool is_never() const { return at_ == Clock::time_point::max(); }
  // Time left, zero once expired; a large value for never().
  Clock::duration remaining() const;

 private:
  Clock::time_point at_;
};

enum class PutMode {
  kInsertIfAbsent,  // As PyTorch's caches: an existing entry wins.
  kOverwrite,
};

struct BackendStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t puts = 0;          // Values stored.
  uint64_t puts_skipped = 0;  // Insert-if-absent found an entry.
  uint64_t removes = 0;
  uint64_t bytes_in = 0;   // Written to the backend.
  uint64_t bytes_out = 0;  // Read from the backend.
  uint64_t errors = 0;
  std::chrono::nanoseconds time{0};  // Spent inside operations.
};

struct KeyRef {
  std::string_view ns;
  std::string_view key;
};

struct PutRequest {
  std::string_view ns;
  std::string_view key;
  ByteSpan value;
};

// Thread safety: every Backend may be called from several threads at once,
// on the same key or different ones, as populate() does with its workers on
// one shared backend; concurrent insert-if-absent puts of one key have one
// winner (tests/backend_conformance.h checks both). An implementation locks
// what it shares; one that serialises all calls (Redis: one connection)
// says so. stats() and notices() may be read while calls run, and
// MultiValued (multi_value.h) follows the same rule.
class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // The URL this backend was opened from, without any password; used in
  // error messages and stats output.
  virtual std::string url() const = 0;

  // True when insert-if-absent is linearizable: once put(kInsertIfAbsent)
  // of a key returned true, every later get of it, from any client, sees
  // that value and every later insert-if-absent of it returns false. The
  // GLOBAL mode of deterministic caching needs it (docs/RUNTIME.md). False
  // unless a backend says otherwise (memory, disk, single-server redis).
  virtual bool strongly_consistent() const { return false; }

  // A miss is an empty optional, not an error.
  Result<std::optional<Bytes>> get(std::string_view ns, std::string_view key,
                                   Deadline deadline = Deadline::never());
  // true when the value was stored; false when kInsertIfAbsent found one.
  Result<bool> put(std::string_view ns, std::string_view key, ByteSpan value,
                   PutMode mode, Deadline deadline = Deadline::never());
  // As put(), with the value read piece by piece from `source`: the local
  // backends stream it into a file, so memory does not grow with the value;
  // the others read it whole first. An error from the source stores
  // nothing.
  Result<bool> put_stream(std::string_view ns, std::string_view key,
                          ContentSource& source, PutMode mode,
                          Deadline deadline = Deadline::never());
  Result<bool> contains(std::string_view ns, std::string_view key,
                        Deadline deadline = Deadline::never());
  // true when something was removed.
  Result<bool> remove(std::string_view ns, std::string_view key,
                      Deadline deadline = Deadline::never());
  // Keys of one namespace, in no particular order.
  Result<std::vector<std::string>> list(std::string_view ns,
                                        Deadline deadline = Deadline::never());
  // Namespaces that hold at least one key.
  Result<std::vector<std::string>> namespaces(
      Deadline deadline = Deadline::never());

  // Batches: one result per request, in request order. Remote backends
  // override the hooks to pipeline; the defaults loop.
  std::vector<Result<std::optional<Bytes>>> get_many(
      std::span<const KeyRef> keys, Deadline deadline = Deadline::never());
  std::vector<Result<bool>> put_many(std::span<const PutRequest> requests,
                                     PutMode mode,
                                     Deadline deadline = Deadline::never());

  BackendStats stats() const;

  // What reads and walks skipped instead of failing on (a symbolic link or
  // a FIFO inside a cache root, ...), each once, in the order first seen.
  std::vector<std::string> notices() const;

 protected:
  virtual Result<std::optional<Bytes>> do_get(std::string_view ns,
                                              std::string_view key,
                                              Deadline deadline) = 0;
  virtual Result<bool> do_put(std::string_view ns, std::string_view key,
                              ByteSpan value, PutMode mode,
                              Deadline deadline) = 0;
  virtual Result<bool> do_put_stream(std::string_view ns, std::string_view key,
                                     ContentSource& source, PutMode mode,
                                     Deadline deadline);
  virtual Result<bool> do_contains(std::string_view ns, std::string_view key,
                                   Deadline deadline);
  virtual Result<bool> do_remove(std::string_view ns, std::string_view key,
                                 Deadline deadline) = 0;
  virtual Result<std::vector<std::string>> do_list(std::string_view ns,
                                                   Deadline deadline) = 0;
  virtual Result<std::vector<std::string>> do_namespaces(Deadline deadline) = 0;
  virtual std::vector<Result<std::optional<Bytes>>> do_get_many(
      std::span<const KeyRef> keys, Deadline deadline);
  virtual std::vector<Result<bool>> do_put_many(
      std::span<const PutRequest> requests, PutMode mode, Deadline deadline);

  // Records a notice once; safe from any thread.
  void notice(std::string text) const;

  // Error helper: names this backend's URL and the operation.
  tl::unexpected<Error> backend_error(ErrorCode code, std::string_view op,
                                      std::string message,
                                      std::string_view key = {}) const;

 private:
  struct Counters {
    std::atomic<uint64_t> hits{0}, misses{0}, puts{0}, puts_skipped{0},
        removes{0}, bytes_in{0}, bytes_out{0}, errors{0}, nanos{0};
  };
  void count_get(const Result<std::optional<Bytes>>& r);
  void count_put(const Result<bool>& r, size_t bytes);
  void add_time(Clock::time_point start);

  Counters counters_;
  mutable std::mutex notices_mutex_;
  mutable std::vector<std::string> notices_;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKEND_H_
