// Populate throughput into Redis: registry populate() into a redis:// backend
// (one thread: put_many, pipelined) against redis-benchmark's SET with the
// same value size, request count, pipeline depth and a single connection, on
// one redis-server started by this program. Prints a ratio per workload;
// ratios near 1 mean cachepack adds little over the raw protocol.
//
//   bazel run -c opt //bench:redis_bench
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/redis_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/populate.h"
#include "cachepack/register_remote_backends.h"
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
constexpr int kRepeats = 5;  // Best of five, for every side.

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

// One populate() of the workload into a flushed server, in artifacts per
// second; nullopt (with a message) when anything failed.
std::optional<double> populate_rps(Backend& backend, uint16_t port,
                                   std::span<const ArtifactView> artifacts,
                                   PopulatePolicy policy) {
  if (!flush(port)) return std::nullopt;
  auto start = Clock::now();
  auto report = populate(artifacts, backend, {.policy = policy});
  std::chrono::duration<double> secs = Clock::now() - start;
  if (!report || report->stored() != artifacts.size()) {
    std::cerr << "populate failed: "
              << (report ? std::to_string(report->failed()) + " failures"
                         : report.error().to_string())
              << "\n";
    return std::nullopt;
  }
  return static_cast<double>(artifacts.size()) / secs.count();
}

int run() {
  if (!testing::executable_exists(testing::kRedisServer) ||
      !testing::executable_exists("/usr/bin/redis-benchmark")) {
    std::cerr << "needs /usr/bin/redis-server and /usr/bin/redis-benchmark\n";
    return 1;
  }
  BackendRegistry registry;
  if (auto registered = register_remote_backends(registry); !registered) {
    std::cerr << registered.error().to_string() << "\n";
    return 1;
  }
  std::string error;
  auto server = RedisServer::start(&error);
  if (!server) {
    std::cerr << error << "\n";
    return 1;
  }
  std::printf("%-22s %-14s %12s %14s %10s %7s\n", "workload", "policy",
              "populate/s", "redis-bench/s", "MiB/s", "ratio");
  for (const Workload& w : kWorkloads) {
    auto opened = registry.open(server->url(
        "?pipeline=" + std::to_string(w.pipeline) + "&timeout_ms=60000"));
    if (!opened) {
      std::cerr << opened.error().to_string() << "\n";
      return 1;
    }
    Bytes value(w.value_size, std::byte{'v'});
    std::vector<std::string> keys;
    for (size_t i = 0; i < w.count; ++i) {
      keys.push_back("artifact-" + std::to_string(i));
    }
    std::vector<ArtifactView> artifacts;
    for (const auto& k : keys) artifacts.push_back({"inductor", k, value});

    // Repetitions interleave the three runs, so a busy moment on the machine
    // falls on all of them alike; each keeps its best.
    double bench = 0, overwrite = 0, skip = 0;
    for (int r = 0; r < kRepeats; ++r) {
      if (!flush(server->port())) return 1;
      auto rps = redis_benchmark_rps(server->port(), w);
      auto o = populate_rps(**opened, server->port(), artifacts,
                            PopulatePolicy::kOverwrite);
      auto s = populate_rps(**opened, server->port(), artifacts,
                            PopulatePolicy::kSkipExisting);
      if (!rps || !o || !s) return 1;
      bench = std::max(bench, *rps);
      overwrite = std::max(overwrite, *o);
      skip = std::max(skip, *s);
    }
    for (auto [name, rate] : {std::pair{"overwrite", overwrite},
                              std::pair{"skip-existing", skip}}) {
      std::printf(
          "%-22s %-14s %12.0f %14.0f %10.1f %7.2f\n", w.name, name, rate, bench,
          rate * static_cast<double>(w.value_size) / (1 << 20), rate / bench);
    }
  }
  std::printf(
      "ratio = populate() (SET / SET NX, pipelined) / redis-benchmark -t set "
      "-c 1 with the same -d, -n, -r, -P; best of %d interleaved runs\n",
      kRepeats);
  return 0;
}

}  // namespace
}  // namespace cachepack

int main() { return cachepack::run(); }
