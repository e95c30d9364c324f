// Populate throughput into a disk cache (file://) and a PyTorch cache
// directory (torch://), against the baseline a user would otherwise use:
// `tar -x` of an archive holding the same files. The tar is made in the
// same run from the populated PyTorch directory, so both sides write the
// same bytes into the same file layout. Reports medians and ratios
// (populate time / tar -x time; below 1.0 = faster than tar). Rounds are
// interleaved and each run starts after sync(), so neither the machine's
// load nor the previous run's write-back favours one target.
//
//   bazel run -c opt //bench:populate_bench -- [--dir D] [--reps N]
//       [--small-count N] [--small-bytes N] [--large-count N]
//       [--large-bytes N] [--threads N]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backends/disk_backend.h"
#include "backends/torch_dir_backend.h"
#include "cachepack/populate.h"

namespace cachepack {
namespace {

using Seconds = std::chrono::duration<double>;

struct Config {
  std::string dir = "/tmp";
  int reps = 3;
  size_t small_count = 10000;
  size_t small_bytes = 2048;
  size_t large_count = 100;
  size_t large_bytes = 2 << 20;
  unsigned threads = 2;
};

// FX-graph-shaped artifacts with incompressible content.
std::vector<Artifact> make_artifacts(size_t count, size_t bytes,
                                     uint64_t seed) {
  std::mt19937_64 rng(seed);
  static constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::vector<Artifact> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Artifact a{"inductor", "f", Bytes(bytes)};
    for (int c = 0; c < 51; ++c) a.key += kBase32[rng() % 32];
    for (size_t b = 0; b < bytes; b += 8) {
      uint64_t v = rng();
      std::memcpy(a.content.data() + b, &v, std::min<size_t>(8, bytes - b));
    }
    out.push_back(std::move(a));
  }
  return out;
}

int run_command(const std::vector<std::string>& argv) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  std::string target;
  double seconds;
};

void run_workload(const Config& cfg, const std::string& name,
                  const std::vector<Artifact>& artifacts) {
  namespace fs = std::filesystem;
  std::vector<ArtifactView> views;
  uint64_t total = 0;
  for (const auto& a : artifacts) {
    views.push_back({a.type, a.key, a.content});
    total += a.content.size();
  }
  std::string base = cfg.dir + "/populate_bench." + std::to_string(::getpid());
  fs::remove_all(base);
  fs::create_directories(base);

  auto open_disk = [](const std::string& root) -> std::unique_ptr<Backend> {
    return std::move(*DiskBackend::open({.root = root}));
  };
  auto open_torch = [](const std::string& root) -> std::unique_ptr<Backend> {
    return std::move(*TorchDirBackend::open({.root = root}));
  };
  auto populate_once = [&](const auto& open, unsigned threads) {
    std::string root = base + "/target";
    fs::remove_all(root);
    auto backend = open(root);
    ::sync();  // Earlier runs' deferred write-back must not be timed here.
    auto start = std::chrono::steady_clock::now();
    auto report =
        populate(views, *backend,
                 {.policy = PopulatePolicy::kOverwrite, .threads = threads});
    double s = Seconds(std::chrono::steady_clock::now() - start).count();
    if (!report || !report->ok()) {
      std::fprintf(stderr, "populate into %s failed\n", backend->url().c_str());
      std::exit(1);
    }
    return s;
  };

  // Baseline input: the same PyTorch-layout files as a tar.
  std::string src = base + "/tar_src";
  auto src_backend = open_torch(src);
  if (!populate(views, *src_backend, {.policy = PopulatePolicy::kOverwrite})) {
    std::exit(1);
  }
  std::string tarball = base + "/cache.tar";
  if (run_command({"tar", "-cf", tarball, "-C", src, "."}) != 0) {
    std::fprintf(stderr, "tar -c failed\n");
    std::exit(1);
  }
  fs::remove_all(src);
  auto tar_once = [&] {
    std::string out = base + "/tar_out";
    fs::remove_all(out);
    fs::create_directories(out);
    ::sync();
    auto start = std::chrono::steady_clock::now();
    if (run_command({"tar", "-xf", tarball, "-C", out}) != 0) {
      std::fprintf(stderr, "tar -x failed\n");
      std::exit(1);
    }
    return Seconds(std::chrono::steady_clock::now() - start).count();
  };

  // Repetitions are interleaved (every target once per round) so that the
  // load of a shared machine falls on all targets alike.
  std::string many = "(" + std::to_string(cfg.threads) + " threads)";
  std::vector<std::string> names = {"file:// (1 thread)", "file:// " + many,
                                    "torch:// (1 thread)", "torch:// " + many};
  std::vector<std::vector<double>> times(names.size());
  std::vector<double> tar_times;
  for (int r = 0; r < cfg.reps; ++r) {
    tar_times.push_back(tar_once());
    times[0].push_back(populate_once(open_disk, 1));
    times[1].push_back(populate_once(open_disk, cfg.threads));
    times[2].push_back(populate_once(open_torch, 1));
    times[3].push_back(populate_once(open_torch, cfg.threads));
  }
  double tar_s = median(tar_times);
  std::vector<Row> rows;
  for (size_t i = 0; i < names.size(); ++i) {
    rows.push_back({names[i], median(times[i])});
  }
  fs::remove_all(base);

  double mib = static_cast<double>(total) / (1 << 20);
  std::printf("\n%s: %zu artifacts, %.1f MiB (median of %d)\n", name.c_str(),
              artifacts.size(), mib, cfg.reps);
  std::printf("  %-24s %10s %12s %12s %14s\n", "target", "ms", "MiB/s",
              "artifacts/s", "time vs tar -x");
  std::printf("  %-24s %10.1f %12.1f %12.0f %14s\n", "tar -x (baseline)",
              tar_s * 1e3, mib / tar_s, artifacts.size() / tar_s, "1.00");
  for (const auto& r : rows) {
    std::printf("  %-24s %10.1f %12.1f %12.0f %13.2fx\n", r.target.c_str(),
                r.seconds * 1e3, mib / r.seconds, artifacts.size() / r.seconds,
                r.seconds / tar_s);
  }
}

}  // namespace
}  // namespace cachepack

int main(int argc, char** argv) {
  cachepack::Config cfg;
  if (const char* t = std::getenv("TMPDIR")) cfg.dir = t;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--dir")
      cfg.dir = value;
    else if (flag == "--reps")
      cfg.reps = std::stoi(value);
    else if (flag == "--small-count")
      cfg.small_count = std::stoul(value);
    else if (flag == "--small-bytes")
      cfg.small_bytes = std::stoul(value);
    else if (flag == "--large-count")
      cfg.large_count = std::stoul(value);
    else if (flag == "--large-bytes")
      cfg.large_bytes = std::stoul(value);
    else if (flag == "--threads")
      cfg.threads = std::stoul(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (cfg.reps < 1 || cfg.threads < 1) {
    std::fprintf(stderr, "--reps and --threads must be at least 1\n");
    return 2;
  }
  std::printf(
      "populate_bench: fsync off everywhere (tar does not fsync); "
      "dir %s\n",
      cfg.dir.c_str());
  cachepack::run_workload(
      cfg, "small",
      cachepack::make_artifacts(cfg.small_count, cfg.small_bytes, 1));
  cachepack::run_workload(
      cfg, "large",
      cachepack::make_artifacts(cfg.large_count, cfg.large_bytes, 2));
  return 0;
}
