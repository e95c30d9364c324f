// The shared backend conformance suite on a real three-master Redis Cluster
// (redis+cluster://), in both key layouts. One cluster serves the whole
// binary; every test gets an empty key space through a prefix of its own.
#include <atomic>

#include "cachepack/backend_registry.h"
#include "cachepack/register_remote_backends.h"
#include "tests/backend_conformance.h"
#include "tests/redis_cluster_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::testing {
namespace {

RedisCluster* shared_cluster() {
  // Stopped by its destructor when the test binary exits.
  static std::unique_ptr<RedisCluster> cluster = [] {
    std::string error;
    auto c = RedisCluster::start(&error);
    if (!c) ADD_FAILURE() << error;
    return c;
  }();
  return cluster.get();
}

std::function<std::unique_ptr<Backend>()> make_cluster(std::string query) {
  return [query]() -> std::unique_ptr<Backend> {
    static std::atomic<int> next{0};
    RedisCluster* cluster = shared_cluster();
    if (cluster == nullptr) return nullptr;
    BackendRegistry registry;
    EXPECT_THAT(register_remote_backends(registry), IsOk());
    auto b = registry.open(
        cluster->url("prefix=conf" + std::to_string(next++) + ":" + query));
    EXPECT_THAT(b, IsOk());
    if (!b) return nullptr;
    return std::move(*b);
  };
}

std::vector<ConformanceTarget> targets() {
  // setup.sh installs redis-server and redis-cli; without them nothing runs.
  if (!executable_exists(kRedisServer) || !executable_exists(kRedisCli)) {
    return {};
  }
  return {
      ConformanceTarget{.name = "redis_cluster", .make = make_cluster("")},
      ConformanceTarget{.name = "redis_cluster_pytorch_layout",
                        .make = make_cluster("&layout=pytorch")},
  };
}

INSTANTIATE_TEST_SUITE_P(RedisCluster, BackendConformance,
                         ::testing::ValuesIn(targets()),
                         ConformanceTarget::Name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendConformance);

}  // namespace
}  // namespace cachepack::testing
