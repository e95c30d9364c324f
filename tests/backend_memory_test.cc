// Memory backend: byte budget and LRU eviction.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/memory_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_builtin_backends.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::_;
using ::testing::Optional;
using ::testing::SizeIs;

using testing::IsOk;
using testing::IsOkAndHolds;

// Entry cost is |ns| + |key| + |value|: "n" + "kN" + 7 = 10 bytes.
Bytes seven() { return Bytes(7); }

TEST(MemoryBackend, EvictsLeastRecentlyUsedWhenOverBudget) {
  MemoryBackend mem({.max_bytes = 30});
  ASSERT_TRUE(mem.put("n", "k1", seven(), PutMode::kOverwrite));
  ASSERT_TRUE(mem.put("n", "k2", seven(), PutMode::kOverwrite));
  ASSERT_TRUE(mem.put("n", "k3", seven(), PutMode::kOverwrite));
  ASSERT_THAT(mem.get("n", "k1"),
              IsOkAndHolds(Optional(_)));  // k2 is now the oldest.
  ASSERT_TRUE(mem.put("n", "k4", seven(), PutMode::kOverwrite));
  EXPECT_THAT(mem.get("n", "k2"), IsOkAndHolds(std::nullopt));
  EXPECT_THAT(mem.get("n", "k1"), IsOkAndHolds(Optional(_)));
  EXPECT_THAT(mem.get("n", "k4"), IsOkAndHolds(Optional(_)));
  EXPECT_EQ(mem.bytes_used(), 30u);
  EXPECT_EQ(mem.evictions(), 1u);
}

TEST(MemoryBackend, EntryLargerThanTheBudgetIsResourceExhausted) {
  MemoryBackend mem({.max_bytes = 10});
  auto r = mem.put("n", "k", Bytes(100), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(mem.bytes_used(), 0u);
}

TEST(MemoryBackend, ErrorsNameTheUrlAsAUrl) {
  MemoryBackend mem({.max_bytes = 10});
  auto r = mem.put("n", "k", Bytes(100), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where().url, "mem://?max_bytes=10");
  EXPECT_EQ(r.error().where().file, "");
  EXPECT_EQ(r.error().to_string(),
            "resource exhausted: put: entry of 102 bytes exceeds the budget of "
            "10 bytes [url mem://?max_bytes=10, key \"k\"]");
}

TEST(MemoryBackend, OverwriteChargesOnlyTheNewValue) {
  MemoryBackend mem;
  ASSERT_TRUE(mem.put("n", "k", Bytes(100), PutMode::kOverwrite));
  ASSERT_TRUE(mem.put("n", "k", Bytes(10), PutMode::kOverwrite));
  EXPECT_EQ(mem.bytes_used(), 12u);
}

TEST(MemoryBackend, GcTrimsToTheGivenSize) {
  MemoryBackend mem;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        mem.put("n", "k" + std::to_string(i), seven(), PutMode::kOverwrite));
  }
  auto report = mem.gc(20);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->bytes_before, 50u);
  EXPECT_EQ(report->entries_removed, 3u);
  EXPECT_THAT(mem.list("n"), IsOkAndHolds(SizeIs(2u)));
}

TEST(MemoryBackend, OpensFromMemUrl) {
  BackendRegistry registry;
  ASSERT_TRUE(register_builtin_backends(registry));
  auto b = registry.open("mem://?max_bytes=1024");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ((*b)->url(), "mem://?max_bytes=1024");
  auto bad = registry.open("mem://?max_bytes=lots");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("mem://[?max_bytes=N]"),
            std::string::npos);
}

// Registries are independent: each takes the built-in schemes once (a
// second time into one registry is kAlreadyExists: backend_registry_test).
TEST(MemoryBackend, RegisteringBuiltinsInTwoRegistriesIsHarmless) {
  BackendRegistry first;
  BackendRegistry second;
  EXPECT_TRUE(register_builtin_backends(first));
  EXPECT_TRUE(register_builtin_backends(second));
}

}  // namespace
}  // namespace cachepack
