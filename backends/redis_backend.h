// A Backend over one Redis server (hiredis): pipelined batches, TTLs,
// insert-if-absent with SET NX, and a key layout compatible with PyTorch's
// remote cache. A dead server costs a fast kUnavailable, never a hang, and the
// backend reconnects after a capped exponential back-off.
#ifndef CACHEPACK_BACKENDS_REDIS_BACKEND_H_
#define CACHEPACK_BACKENDS_REDIS_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cachepack/backend.h"
#include "cachepack/url.h"

struct redisContext;

namespace cachepack {

enum class RedisLayout {
  // <prefix><escaped ns>:<key>; prefix defaults to "cachepack:".
  kCachepack,
  // <prefix>pt2:<cache_id>::<key>:c1 as torch/_inductor/remote_cache.py
  // writes it. Types inductor, aot_autograd and pgo go to PyTorch's caches
  // fx-graph-v1, autograd-experimental and dynamo-pgo with their values
  // wrapped as PyTorch's JSON ({"data": base64, ...}); any other namespace
  // is the cache id, its values stored as given. A cache_id fixed by the
  // URL turns the translation off: every namespace uses it, values as given.
  kPytorch,
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string user;      // Redis 6 ACL user; empty for password-only AUTH.
  std::string password;  // Empty: no AUTH.
  int db = 0;
  RedisLayout layout = RedisLayout::kCachepack;
  std::optional<std::string> prefix;    // nullopt: the layout's default.
  std::optional<std::string> cache_id;  // kPytorch only: fixed cache id.
  std::optional<uint64_t> ttl_seconds;  // SET ... EX; nullopt: no expiry.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{5000};
  // After a failed connect, wait this long before the next attempt; doubles
  // on every further failure up to max_backoff.
  std::chrono::milliseconds backoff{100};
  std::chrono::milliseconds max_backoff{30000};
  // Commands per pipelined round trip in get_many/put_many.
  size_t pipeline_depth = 256;
};

// Parses a URL of RedisBackend::kUrlForm (docs/REMOTE.md); unknown
// parameters are kInvalidArgument quoting `form` (the scheme's URL form).
Result<RedisOptions> redis_options_from_url(const BackendUrl& url,
                                            std::string_view form);

// Connection health, for tests and stats output.
struct RedisConnectionStats {
  uint64_t connects = 0;          // Successful connects (first one included).
  uint64_t connect_failures = 0;  // Failed attempts (refused, timeout, AUTH).
  uint64_t disconnects = 0;       // Established connections lost.
  uint64_t fast_failures = 0;     // Operations refused during back-off.
};

// Thread-safe: one connection guarded by a mutex, so concurrent callers
// serialise; open several backends for parallel round trips.
class RedisBackend final : public Backend {
 public:
  static constexpr std::string_view kUrlForm =
      "redis://[user:password@]host[:port][/db][?prefix=P&ttl=SECONDS"
      "&connect_timeout_ms=N&timeout_ms=N&backoff_ms=N&max_backoff_ms=N"
      "&pipeline=N&layout=cachepack|pytorch&cache_id=ID]";

  // Does not connect: the first operation does, so opening never blocks.
  RedisBackend(RedisOptions options, std::string url_text);
  ~RedisBackend() override;
  // From a URL of kUrlForm; does not connect either.
  static Result<std::unique_ptr<Backend>> open_url(const BackendUrl& url);

  std::string url() const override { return url_text_; }
  // One server decides SET NX atomically; an entry that expires (ttl) could
  // be inserted again with another value, so a ttl makes it false.
  bool strongly_consistent() const override {
    return !options_.ttl_seconds.has_value();
  }

  // The exact Redis key an entry is stored under (binary-safe).
  Result<std::string> redis_key(std::string_view ns,
                                std::string_view key) const;

  RedisConnectionStats connection_stats() const;

  // For Redis Cluster (redis_cluster_backend.h): the batches with every
  // command preceded by ASKING, after an ASK redirection to this node. Not
  // seen by the Backend counters (the cluster backend counts).
  std::vector<Result<std::optional<Bytes>>> get_many_asking(
      std::span<const KeyRef> keys, Deadline deadline);
  std::vector<Result<bool>> put_many_asking(
      std::span<const PutRequest> requests, PutMode mode, Deadline deadline);

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline deadline) override;
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan value,
                      PutMode mode, Deadline deadline) override;
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline deadline) override;
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline deadline) override;
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline deadline) override;
  Result<std::vector<std::string>> do_namespaces(Deadline deadline) override;
  std::vector<Result<std::optional<Bytes>>> do_get_many(
      std::span<const KeyRef> keys, Deadline deadline) override;
  std::vector<Result<bool>> do_put_many(std::span<const PutRequest> requests,
                                        PutMode mode,
                                        Deadline deadline) override;

 private:
  struct Connection;
  class Pipeline;

  std::vector<Result<std::optional<Bytes>>> get_many_impl(
      std::span<const KeyRef> keys, Deadline deadline, bool asking);
  std::vector<Result<bool>> put_many_impl(std::span<const PutRequest> requests,
                                          PutMode mode, Deadline deadline,
                                          bool asking);

  // Both require mutex_ held.
  Result<void> ensure_connected(std::string_view op, Deadline deadline);
  void drop_connection();

  // Splits a Redis key found by SCAN back into (ns, key); nullopt for keys
  // that are not ours.
  std::optional<std::pair<std::string, std::string>> parse_redis_key(
      std::string_view redis_key) const;
  Result<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view op, const std::string& pattern, Deadline deadline);
  std::string ns_pattern(std::string_view ns) const;

  const RedisOptions options_;
  const std::string url_text_;
  const std::string prefix_;

  mutable std::mutex mutex_;
  std::unique_ptr<Connection> conn_;
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds current_backoff_;
  std::optional<Error> last_connect_error_;
  RedisConnectionStats conn_stats_;
  std::string wire_;  // RESP of one round trip, reused to spare page faults.
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_REDIS_BACKEND_H_
