// The conformance suite run over every local backend.
#include "tests/backend_conformance.h"

#include "backends/disk_backend.h"
#include "backends/memory_backend.h"
#include "backends/tiered_backend.h"
#include "backends/torch_dir_backend.h"
#include "tests/backend_test_util.h"

namespace cachepack::testing {
namespace {

std::unique_ptr<Backend> make_disk() {
  auto b = DiskBackend::open({.root = make_temp_dir()});
  return b ? std::move(*b) : nullptr;
}

std::unique_ptr<Backend> make_torch_dir() {
  auto b = TorchDirBackend::open({.root = make_temp_dir()});
  return b ? std::move(*b) : nullptr;
}

// Memory in front of disk, as a CLI user would stack them.
std::unique_ptr<Backend> make_tiered() {
  std::vector<std::unique_ptr<Backend>> tiers;
  tiers.push_back(std::make_unique<MemoryBackend>());
  tiers.push_back(make_disk());
  auto b = TieredBackend::open(std::move(tiers));
  return b ? std::move(*b) : nullptr;
}

// PyTorch-shaped keys: FX graph keys are "f" + 51 base32 characters;
// autotune keys are "<2 chars>/<64 hex>.best_config".
std::string torch_key(const std::string& ns, int i) {
  std::string n = std::to_string(i);
  if (ns == "inductor") return "f" + std::string(51 - n.size(), 'a') + n;
  return "k" + n + "/" + std::string(64 - n.size(), 'e') + n + ".best_config";
}

INSTANTIATE_TEST_SUITE_P(
    Local, BackendConformance,
    ::testing::Values(
        ConformanceTarget{
            .name = "Memory",
            .make = [] { return std::make_unique<MemoryBackend>(); }},
        ConformanceTarget{.name = "Disk", .make = make_disk},
        ConformanceTarget{.name = "MemoryOverDisk", .make = make_tiered},
        ConformanceTarget{.name = "TorchDir",
                          .make = make_torch_dir,
                          .caps = {.namespaces = {"inductor", "autotune"},
                                   .make_key = torch_key,
                                   .arbitrary_keys = false}}),
    ConformanceTarget::Name);

}  // namespace
}  // namespace cachepack::testing
