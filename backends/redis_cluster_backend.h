// A Backend over a Redis Cluster: keys routed by hash slot (CRC16 of the
// Redis key, or of its {hash tag}) to the master serving the slot, one
// RedisBackend per master (so the layouts, pipelining, deadlines, back-off
// and typed errors are redis://'s), batches split per node and run on all
// nodes at once, MOVED followed after a topology refresh, ASK followed with
// ASKING, and list/namespaces a SCAN of every master. See docs/REMOTE.md.
#ifndef CACHEPACK_BACKENDS_REDIS_CLUSTER_BACKEND_H_
#define CACHEPACK_BACKENDS_REDIS_CLUSTER_BACKEND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/redis_backend.h"
#include "cachepack/backend.h"
#include "cachepack/url.h"

namespace cachepack {

// The cluster hash slot of a Redis key (0..16383): CRC16-XMODEM of the
// key, or of the part between the first '{' and the next '}' when that part
// is not empty.
uint16_t redis_cluster_slot(std::string_view redis_key);

struct RedisClusterStats {
  uint64_t topology_refreshes = 0;  // CLUSTER SLOTS fetched.
  uint64_t moved = 0;               // MOVED redirections followed.
  uint64_t ask = 0;                 // ASK redirections followed.
};

class RedisClusterBackend final : public Backend {
 public:
  static constexpr std::string_view kUrlForm =
      "redis+cluster://[user:password@]host:port[,host:port...][?prefix=P"
      "&ttl=SECONDS&connect_timeout_ms=N&timeout_ms=N&backoff_ms=N"
      "&max_backoff_ms=N&pipeline=N&layout=cachepack|pytorch&cache_id=ID]";

  // Does not connect; the first operation fetches the slot map from a seed.
  RedisClusterBackend(RedisOptions options,
                      std::vector<std::pair<std::string, uint16_t>> seeds,
                      std::string url_text);
  ~RedisClusterBackend() override;
  static Result<std::unique_ptr<Backend>> open_url(const BackendUrl& url);

  std::string url() const override { return url_text_; }
  RedisClusterStats cluster_stats() const;

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
  template <typename Out, typename Call>
  std::vector<Out> routed(std::string_view op,
                          const std::vector<std::string>& redis_keys,
                          std::vector<Out> out, Deadline deadline, Call call);
  Result<void> refresh(Deadline deadline);
  Result<void> ensure_topology(Deadline deadline);
  RedisBackend& node(const std::string& addr);
  std::vector<std::string> masters();

  const RedisOptions options_;
  const std::vector<std::pair<std::string, uint16_t>> seeds_;
  const std::string url_text_;
  RedisBackend keyer_;  // Never connects: builds Redis keys.

  mutable std::mutex mutex_;             // Guards everything below.
  std::vector<std::string> slot_owner_;  // "host:port" per slot; "" unknown.
  bool have_topology_ = false;
  std::map<std::string, std::unique_ptr<RedisBackend>> nodes_;
  RedisClusterStats stats_;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_REDIS_CLUSTER_BACKEND_H_
