// The shared backend conformance suite on the Bazel HTTP protocol, against
// one nginx for the whole binary; every test gets its own base path. The
// protocol cannot list, which its capabilities say.
#include <atomic>

#include "backends/http_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_remote_backends.h"
#include "cachepack/url.h"
#include "tests/backend_conformance.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::testing {
namespace {

NginxServer* shared_server() {
  static std::unique_ptr<NginxServer> server = [] {
    std::string error;
    auto s = NginxServer::start(&error);
    if (!s) ADD_FAILURE() << error;
    return s;
  }();
  return server.get();
}

std::unique_ptr<Backend> make_http() {
  static std::atomic<int> next{0};
  NginxServer* server = shared_server();
  if (server == nullptr) return nullptr;
  BackendRegistry registry;
  EXPECT_THAT(register_remote_backends(registry), IsOk());
  auto b = registry.open(
      server->url("/conf" + std::to_string(next++) + "?timeout_ms=10000"));
  EXPECT_THAT(b, IsOk());
  if (!b) return nullptr;
  return std::move(*b);
}

std::vector<ConformanceTarget> targets() {
  if (!executable_exists(kNginx)) return {};
  BackendCapabilities caps;
  caps.can_list = false;  // The Bazel protocol cannot enumerate keys.
  return {ConformanceTarget{.name = "http", .make = make_http, .caps = caps}};
}

INSTANTIATE_TEST_SUITE_P(Http, BackendConformance,
                         ::testing::ValuesIn(targets()),
                         ConformanceTarget::Name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendConformance);

}  // namespace
}  // namespace cachepack::testing
