// Populate throughput into Redis: RedisBackend::put_many (what populate calls
// for a redis:// URL) against redis-benchmark's SET with the same value size,
// request count, pipeline depth and a single connection, on one redis-server
// started by this program. Prints a ratio per workload; ratios near 1 mean
// the backend adds little over the raw protocol.
//
//   bazel run -c opt //bench:redis_bench
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/redis_backend.h"
#include "backends/remote.h"
#include "backends/url.h"
#include "tests/server_fixture.h"

namespace cachepack {
namespace {

using testing::RedisServer;

struct Workload {
  const char* name;
  size_t count;
  size_t value_size;
  size_t pipeline;
};

constexpr Workload kWorkloads[] = {
    {"10000 small (4 KiB)", 10000, 4 * 1024, 256},
    {"100 large (4 MiB)", 100, 4 * 1024 * 1024, 8},
};
constexpr int kRepeats = 3;  // Best of three, for both sides.

std::string run_command(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"),
                                             pclose);
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  return out;
}

// redis-benchmark --csv prints a header, then "SET","<rps>",...
std::optional<double> redis_benchmark_rps(uint16_t port, const Workload& w) {
  std::string command =
      "/usr/bin/redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) +
      " -t set -c 1 -d " + std::to_string(w.value_size) + " -n " +
      std::to_string(w.count) + " -r " + std::to_string(w.count) + " -P " +
      std::to_string(w.pipeline) + " --csv 2>/dev/null";
  std::string out = run_command(command);
  size_t at = out.find("\"SET\",\"");
  if (at == std::string::npos) {
    std::cerr << "unexpected redis-benchmark output:\n" << out << "\n";
    return std::nullopt;
  }
  return std::stod(out.substr(at + 7));
}

// redis-cli prints "OK"; nothing means the server is gone.
bool flush(uint16_t port) {
  return !run_command("/usr/bin/redis-cli -p " + std::to_string(port) +
                      " FLUSHALL")
              .empty();
}

std::optional<double> backend_rps(RedisServer& server, const Workload& w,
                                  PutMode mode) {
  auto opened = open_backend(server.url(
      "?pipeline=" + std::to_string(w.pipeline) + "&timeout_ms=60000"));
  if (!opened) {
    std::cerr << opened.error().to_string() << "\n";
    return std::nullopt;
  }
  Backend& b = **opened;
  Bytes value(w.value_size, std::byte{'v'});
  std::vector<std::string> keys;
  for (size_t i = 0; i < w.count; ++i) {
    keys.push_back("artifact-" + std::to_string(i));
  }
  std::vector<PutRequest> requests;
  for (const auto& k : keys) requests.push_back({"inductor", k, value});
  double best = 0;
  for (int r = 0; r < kRepeats; ++r) {
    if (!flush(server.port())) return std::nullopt;
    auto start = Clock::now();
    auto results = b.put_many(requests, mode);
    std::chrono::duration<double> secs = Clock::now() - start;
    for (const auto& res : results) {
      if (!res || !*res) {
        std::cerr << "put failed: "
                  << (res ? "skipped" : res.error().to_string()) << "\n";
        return std::nullopt;
      }
    }
    best = std::max(best, static_cast<double>(w.count) / secs.count());
  }
  return best;
}

int run() {
  if (!testing::executable_exists(testing::kRedisServer) ||
      !testing::executable_exists("/usr/bin/redis-benchmark")) {
    std::cerr << "needs /usr/bin/redis-server and /usr/bin/redis-benchmark\n";
    return 1;
  }
  register_remote_backends();
  std::string error;
  auto server = RedisServer::start(&error);
  if (!server) {
    std::cerr << error << "\n";
    return 1;
  }
  std::printf("%-22s %-8s %14s %14s %12s %8s\n", "workload", "mode",
              "cachepack/s", "redis-bench/s", "MiB/s", "ratio");
  for (const Workload& w : kWorkloads) {
    double bench = 0;
    for (int r = 0; r < kRepeats; ++r) {
      if (!flush(server->port())) return 1;
      auto rps = redis_benchmark_rps(server->port(), w);
      if (!rps) return 1;
      bench = std::max(bench, *rps);
    }
    for (PutMode mode : {PutMode::kOverwrite, PutMode::kInsertIfAbsent}) {
      auto ours = backend_rps(*server, w, mode);
      if (!ours) return 1;
      std::printf("%-22s %-8s %14.0f %14.0f %12.1f %8.2f\n", w.name,
                  mode == PutMode::kOverwrite ? "SET" : "SET NX", *ours, bench,
                  *ours * static_cast<double>(w.value_size) / (1 << 20),
                  *ours / bench);
    }
  }
  std::printf(
      "ratio = cachepack put_many / redis-benchmark SET (-c 1, same -d, -n, "
      "-r, -P); best of %d each\n",
      kRepeats);
  return 0;
}

}  // namespace
}  // namespace cachepack

int main() { return cachepack::run(); }
