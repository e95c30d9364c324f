// Issue 14's "done means": 8 processes record the same key through a real
// redis-server in GLOBAL deterministic mode, each computing a different
// value (its pid); all 8 return the first writer's value, and exactly one
// insert succeeded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cachepack/all_backends.h"
#include "cachepack/runtime_interfaces.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::runtime {
namespace {

using testing::IsOk;
using testing::RedisServer;

constexpr int kWorkers = 8;

struct Report {
  int64_t pid = 0;
  int64_t returned = 0;  // What record() returned; -1 on an error.
  int32_t computed = 0;  // Whether the worker ran the function.
};

// A worker: waits at the barrier (a pipe the parent closes), then records
// ("compile", (7,)) through its own connection, computing its pid.
[[noreturn]] void worker(const std::string& url, int barrier, int out) {
  Report r{.pid = ::getpid()};
  char c;
  (void)!::read(barrier, &c, 1);  // EOF once the parent closes its end.
  auto run = [&]() -> Result<Value> {
    CP_ASSIGN_OR_RETURN(auto registry, registry_with_all_backends());
    CP_ASSIGN_OR_RETURN(std::unique_ptr<Backend> b, registry->open(url));
    RuntimeConfig config;
    config.memo_caching_module_enabled = true;
    config.deterministic_caching_enabled = true;
    config.global_determinism = true;
    CP_ASSIGN_OR_RETURN(auto cache,
                        DeterministicMemoCache::create(
                            config, std::shared_ptr<Backend>(std::move(b))));
    return cache->record(
        "compile", Params{pickle::tuple({7}), pickle::Dict{}},
        [&]() -> Result<Value> {
          r.computed = 1;
          // A compile takes a while: every worker gets past its miss
          // before the first insert, so the inserts really race.
          std::this_thread::sleep_for(std::chrono::milliseconds(1000));
          return Value(static_cast<int64_t>(::getpid()));
        },
        {.isolation_key = "race"});
  };
  Result<Value> v = run();
  if (v && v->as<pickle::Int>()) {
    r.returned = v->as<pickle::Int>()->to_int64().value_or(-1);
  } else {
    r.returned = -1;
    if (!v) std::fprintf(stderr, "worker: %s\n", v.error().to_string().c_str());
  }
  (void)!::write(out, &r, sizeof r);
  ::_exit(0);
}

TEST(DeterministicCacheRace, EightProcessesThroughRedisAgreeOnTheFirstWrite) {
  if (!cachepack::testing::executable_exists(
          cachepack::testing::kRedisServer)) {
    GTEST_SKIP() << "redis-server is not installed";
  }
  std::string error;
  std::unique_ptr<RedisServer> server = RedisServer::start(&error);
  ASSERT_NE(server, nullptr) << error;
  std::string url = server->url();

  int barrier[2], results[2];
  ASSERT_EQ(::pipe(barrier), 0);
  ASSERT_EQ(::pipe(results), 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < kWorkers; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(barrier[1]);
      ::close(results[0]);
      worker(url, barrier[0], results[1]);
    }
    pids.push_back(pid);
  }
  ::close(barrier[0]);
  ::close(results[1]);
  ::close(barrier[1]);  // All workers start together.

  std::vector<Report> reports;
  Report r;
  while (::read(results[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r)) {
    reports.push_back(r);
  }
  ::close(results[0]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  ASSERT_EQ(reports.size(), static_cast<size_t>(kWorkers));

  std::set<int64_t> returned, workers;
  int computed = 0, won = 0;
  for (const Report& rep : reports) {
    returned.insert(rep.returned);
    workers.insert(rep.pid);
    computed += rep.computed;
    won += rep.returned == rep.pid;
  }
  // Everyone agrees, on a value one of them computed...
  ASSERT_EQ(returned.size(), 1u);
  EXPECT_TRUE(workers.count(*returned.begin())) << *returned.begin();
  // ...exactly one insert won, and the race was real: every worker missed
  // and computed, so seven took the lost-insert path.
  EXPECT_EQ(won, 1);
  EXPECT_EQ(computed, kWorkers);

  // Redis holds that one entry, and a late worker replays it.
  auto registry = registry_with_all_backends();
  ASSERT_THAT(registry, IsOk());
  auto backend = (*registry)->open(url);
  ASSERT_THAT(backend, IsOk());
  EXPECT_THAT((*backend)->list("dcache"),
              testing::IsOkAndHolds(::testing::SizeIs(1)));
  RuntimeConfig config;
  config.memo_caching_module_enabled = true;
  config.deterministic_caching_enabled = true;
  config.global_determinism = true;
  auto late = DeterministicMemoCache::create(
      config, std::shared_ptr<Backend>(std::move(*backend)));
  ASSERT_THAT(late, IsOk());
  auto got = (*late)->get("compile", Params{pickle::tuple({7}), pickle::Dict{}},
                          {.isolation_key = "race"});
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE(**got == Value(*returned.begin()));
}

}  // namespace
}  // namespace cachepack::runtime
