// The shared backend conformance suite on Redis, in both key layouts. One
// redis-server serves the whole binary; every test gets an empty key space
// through a prefix of its own.
#include <atomic>

#include "backends/redis_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_remote_backends.h"
#include "cachepack/url.h"
#include "tests/backend_conformance.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::testing {
namespace {

RedisServer* shared_server() {
  // Stopped by its destructor when the test binary exits.
  static std::unique_ptr<RedisServer> server = [] {
    std::string error;
    auto s = RedisServer::start(&error);
    if (!s) ADD_FAILURE() << error;
    return s;
  }();
  return server.get();
}

std::function<std::unique_ptr<Backend>()> make_redis(std::string query) {
  return [query]() -> std::unique_ptr<Backend> {
    static std::atomic<int> next{0};
    RedisServer* server = shared_server();
    if (server == nullptr) return nullptr;
    BackendRegistry registry;
    EXPECT_THAT(register_remote_backends(registry), IsOk());
    auto b = registry.open(
        server->url("?prefix=conf" + std::to_string(next++) + ":" + query));
    EXPECT_THAT(b, IsOk());
    if (!b) return nullptr;
    return std::move(*b);
  };
}

std::vector<ConformanceTarget> targets() {
  // setup.sh installs redis-server; without it there is nothing to run.
  if (!executable_exists(kRedisServer)) return {};
  return {
      ConformanceTarget{.name = "redis", .make = make_redis("")},
      ConformanceTarget{.name = "redis_pytorch_layout",
                        .make = make_redis("&layout=pytorch")},
  };
}

INSTANTIATE_TEST_SUITE_P(Redis, BackendConformance,
                         ::testing::ValuesIn(targets()),
                         ConformanceTarget::Name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendConformance);

}  // namespace
}  // namespace cachepack::testing
