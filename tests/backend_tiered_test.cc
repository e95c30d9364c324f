// Tiered backend: fall-through reads with promotion, write policies, and a
// failing tier degrading to a miss instead of an error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/memory_backend.h"
#include "backends/tiered_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_builtin_backends.h"
#include "tests/backend_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::_;
using ::testing::Optional;

using testing::IsOk;
using testing::IsOkAndHolds;
using testing::value_or_die;

// A remote cache whose server is down: every call fails with kUnavailable.
class DeadBackend final : public Backend {
 public:
  std::string url() const override { return "test://dead"; }

 protected:
  tl::unexpected<Error> down() const {
    return backend_error(ErrorCode::kUnavailable, "call", "connection refused");
  }
  Result<std::optional<Bytes>> do_get(std::string_view, std::string_view,
                                      Deadline) override {
    return down();
  }
  Result<bool> do_put(std::string_view, std::string_view, ByteSpan, PutMode,
                      Deadline) override {
    return down();
  }
  Result<bool> do_remove(std::string_view, std::string_view,
                         Deadline) override {
    return down();
  }
  Result<std::vector<std::string>> do_list(std::string_view,
                                           Deadline) override {
    return down();
  }
  Result<std::vector<std::string>> do_namespaces(Deadline) override {
    return down();
  }
};

struct Stack {
  MemoryBackend* top;
  MemoryBackend* bottom;
  std::unique_ptr<TieredBackend> tiered;
};

Stack two_memory_tiers(TieredOptions options = {}) {
  auto top = std::make_unique<MemoryBackend>();
  auto bottom = std::make_unique<MemoryBackend>();
  Stack s{top.get(), bottom.get(), nullptr};
  std::vector<std::unique_ptr<Backend>> tiers;
  tiers.push_back(std::move(top));
  tiers.push_back(std::move(bottom));
  s.tiered = value_or_die(TieredBackend::open(std::move(tiers), options));
  return s;
}

TEST(TieredBackend, ReadsFallThroughAndCopyHitsUp) {
  auto s = two_memory_tiers();
  ASSERT_TRUE(s.bottom->put("ns", "k", to_bytes("v"), PutMode::kOverwrite));
  auto got = s.tiered->get("ns", "k");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, to_bytes("v"));
  EXPECT_THAT(s.top->get("ns", "k"),
              IsOkAndHolds(Optional(to_bytes("v"))));  // Promoted.
}

TEST(TieredBackend, PromotionCanBeTurnedOff) {
  auto s = two_memory_tiers({.promote = false});
  ASSERT_TRUE(s.bottom->put("ns", "k", to_bytes("v"), PutMode::kOverwrite));
  ASSERT_THAT(s.tiered->get("ns", "k"), IsOkAndHolds(Optional(_)));
  EXPECT_THAT(s.top->get("ns", "k"), IsOkAndHolds(std::nullopt));
}

TEST(TieredBackend, WritesReachEveryTierOrOnlyTheFirst) {
  auto all = two_memory_tiers();
  ASSERT_TRUE(all.tiered->put("ns", "k", to_bytes("v"), PutMode::kOverwrite));
  EXPECT_THAT(all.top->get("ns", "k"), IsOkAndHolds(Optional(_)));
  EXPECT_THAT(all.bottom->get("ns", "k"), IsOkAndHolds(Optional(_)));

  auto first = two_memory_tiers({.writes = TierWrites::kFirst});
  ASSERT_TRUE(first.tiered->put("ns", "k", to_bytes("v"), PutMode::kOverwrite));
  EXPECT_THAT(first.top->get("ns", "k"), IsOkAndHolds(Optional(_)));
  EXPECT_THAT(first.bottom->get("ns", "k"), IsOkAndHolds(std::nullopt));
}

TEST(TieredBackend, DeadLowerTierDegradesToAMissAndIsCounted) {
  std::vector<std::unique_ptr<Backend>> tiers;
  tiers.push_back(std::make_unique<MemoryBackend>());
  tiers.push_back(std::make_unique<DeadBackend>());
  auto tiered = value_or_die(TieredBackend::open(std::move(tiers)));
  auto miss = tiered->get("ns", "k");
  ASSERT_THAT(miss, IsOk());
  EXPECT_FALSE(miss->has_value());
  auto put = tiered->put("ns", "k", to_bytes("v"), PutMode::kOverwrite);
  ASSERT_TRUE(put && *put);
  EXPECT_THAT(tiered->get("ns", "k"), IsOkAndHolds(Optional(_)));
  EXPECT_THAT(tiered->list("ns"), IsOkAndHolds(std::vector<std::string>{"k"}));
  EXPECT_EQ(tiered->degraded(), 3u);  // get, put, list on the dead tier.
  EXPECT_EQ(tiered->tier(1).stats().errors, 3u);
  EXPECT_EQ(tiered->stats().errors, 0u);
}

TEST(TieredBackend, WriteFailureInTheFirstTierIsAnError) {
  std::vector<std::unique_ptr<Backend>> tiers;
  tiers.push_back(std::make_unique<DeadBackend>());
  tiers.push_back(std::make_unique<MemoryBackend>());
  auto tiered = value_or_die(TieredBackend::open(std::move(tiers)));
  auto put = tiered->put("ns", "k", to_bytes("v"), PutMode::kOverwrite);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kUnavailable);
}

TEST(TieredBackend, EveryTierFailingIsAnErrorNotAMiss) {
  std::vector<std::unique_ptr<Backend>> tiers;
  tiers.push_back(std::make_unique<DeadBackend>());
  auto tiered = value_or_die(TieredBackend::open(std::move(tiers)));
  auto r = tiered->get("ns", "k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

TEST(TieredBackend, EmptyTierListIsInvalid) {
  auto r = TieredBackend::open({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(TieredBackend, OpensFromTieredUrl) {
  BackendRegistry registry;
  ASSERT_TRUE(register_builtin_backends(registry));
  std::string root = testing::make_temp_dir();
  auto b = registry.open("tiered://?tiers=mem://?max_bytes=100|file://" + root +
                         "&write=first");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ((*b)->url(), "tiered://?tiers=mem://?max_bytes=100|file://" + root +
                             "&write=first");
  auto bad = registry.open("tiered://?tiers=mem://||mem://");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("tiered://?tiers=URL|URL"),
            std::string::npos);
}

}  // namespace
}  // namespace cachepack
