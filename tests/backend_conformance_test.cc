// The conformance suite run over every local backend.
#include "tests/backend_conformance.h"

#include "backends/disk_backend.h"
#include "backends/memory_backend.h"
#include "tests/backend_test_util.h"

namespace cachepack::testing {
namespace {

std::unique_ptr<Backend> make_disk() {
  auto b = DiskBackend::open({.root = make_temp_dir()});
  return b ? std::move(*b) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(
    Local, BackendConformance,
    ::testing::Values(
        ConformanceTarget{
            .name = "Memory",
            .make = [] { return std::make_unique<MemoryBackend>(); }},
        ConformanceTarget{.name = "Disk", .make = make_disk}),
    ConformanceTarget::Name);

}  // namespace
}  // namespace cachepack::testing
