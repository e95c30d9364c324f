// A real Redis Cluster for tests: three `redis-server --cluster-enabled yes`
// masters on free loopback ports, joined with `redis-cli --cluster create`.
#ifndef CACHEPACK_TESTS_REDIS_CLUSTER_FIXTURE_H_
#define CACHEPACK_TESTS_REDIS_CLUSTER_FIXTURE_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/server_fixture.h"

namespace cachepack::testing {

inline constexpr const char* kRedisCli = "/usr/bin/redis-cli";

// Runs a command line with its output in `log`; the exit status.
int run_shell(const std::string& command, const std::filesystem::path& log);
std::string read_text(const std::filesystem::path& p);

class RedisCluster {
 public:
  // nullptr with *error set when the cluster did not reach cluster_state:ok.
  static std::unique_ptr<RedisCluster> start(std::string* error,
                                             size_t masters = 3);

  RedisServer& server(size_t i) { return *servers_.at(i); }
  size_t size() const { return servers_.size(); }
  // "redis+cluster://127.0.0.1:P0,127.0.0.1:P1?" + query: two seeds, the
  // rest found through CLUSTER SLOTS.
  std::string url(const std::string& query = "") const;
  // CLUSTER MYID of master i.
  std::string id(size_t i);

 private:
  std::vector<std::unique_ptr<RedisServer>> servers_;
};

}  // namespace cachepack::testing

#endif  // CACHEPACK_TESTS_REDIS_CLUSTER_FIXTURE_H_
