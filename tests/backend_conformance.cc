#include "tests/backend_conformance.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "tests/testing/result_matchers.h"

namespace cachepack::testing {
namespace {

using ::testing::_;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::UnorderedElementsAreArray;

Bytes bytes_of(std::string_view s) { return to_bytes(s); }

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) {
    b[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  }
  return b;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

void BackendConformance::SetUp() {
  backend_ = GetParam().make();
  ASSERT_NE(backend_, nullptr);
}

std::string BackendConformance::ns(size_t i) const {
  return GetParam().caps.namespaces.at(i);
}

std::string BackendConformance::key(int i, size_t ns_index) const {
  const auto& caps = GetParam().caps;
  if (caps.make_key) return caps.make_key(ns(ns_index), i);
  return "key-" + std::to_string(i);
}

TEST_P(BackendConformance, GetOfMissingKeyIsAMissNotAnError) {
  auto r = backend_->get(ns(), key(0));
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->has_value());
}

TEST_P(BackendConformance, PutThenGetReturnsTheValue) {
  auto put =
      backend_->put(ns(), key(1), bytes_of("hello"), PutMode::kInsertIfAbsent);
  ASSERT_THAT(put, IsOk());
  EXPECT_TRUE(*put);
  auto got = backend_->get(ns(), key(1));
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, bytes_of("hello"));
}

TEST_P(BackendConformance, InsertIfAbsentKeepsTheFirstValue) {
  ASSERT_THAT(
      backend_->put(ns(), key(2), bytes_of("first"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(true));
  auto second =
      backend_->put(ns(), key(2), bytes_of("second"), PutMode::kInsertIfAbsent);
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(*second);
  EXPECT_THAT(backend_->get(ns(), key(2)),
              IsOkAndHolds(Optional(bytes_of("first"))));
}

TEST_P(BackendConformance, OverwriteReplacesTheValue) {
  ASSERT_THAT(
      backend_->put(ns(), key(3), bytes_of("old"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(true));
  auto r =
      backend_->put(ns(), key(3), bytes_of("new value"), PutMode::kOverwrite);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(*r);
  EXPECT_THAT(backend_->get(ns(), key(3)),
              IsOkAndHolds(Optional(bytes_of("new value"))));
}

TEST_P(BackendConformance, ContainsReflectsPresence) {
  EXPECT_THAT(backend_->contains(ns(), key(4)), IsOkAndHolds(false));
  ASSERT_THAT(
      backend_->put(ns(), key(4), bytes_of("x"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(true));
  EXPECT_THAT(backend_->contains(ns(), key(4)), IsOkAndHolds(true));
}

TEST_P(BackendConformance, RemoveDeletesAndReportsWhetherAnythingWas) {
  if (!GetParam().caps.can_remove) GTEST_SKIP() << "backend cannot remove";
  ASSERT_THAT(
      backend_->put(ns(), key(5), bytes_of("x"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(true));
  auto removed = backend_->remove(ns(), key(5));
  ASSERT_THAT(removed, IsOk());
  EXPECT_TRUE(*removed);
  EXPECT_THAT(backend_->get(ns(), key(5)), IsOkAndHolds(std::nullopt));
  EXPECT_THAT(backend_->remove(ns(), key(5)), IsOkAndHolds(false));
}

TEST_P(BackendConformance, NamespacesAreIndependent) {
  // Same index: for shaped keys the key strings may differ, which is fine.
  ASSERT_THAT(
      backend_->put(ns(0), key(6, 0), bytes_of("a"), PutMode::kOverwrite),
      IsOkAndHolds(true));
  EXPECT_THAT(backend_->get(ns(1), key(6, 1)), IsOkAndHolds(std::nullopt));
  ASSERT_THAT(
      backend_->put(ns(1), key(6, 1), bytes_of("b"), PutMode::kOverwrite),
      IsOkAndHolds(true));
  EXPECT_THAT(backend_->get(ns(0), key(6, 0)),
              IsOkAndHolds(Optional(bytes_of("a"))));
  EXPECT_THAT(backend_->get(ns(1), key(6, 1)),
              IsOkAndHolds(Optional(bytes_of("b"))));
}

TEST_P(BackendConformance, ListReturnsExactlyTheKeysOfANamespace) {
  if (!GetParam().caps.can_list) GTEST_SKIP() << "backend cannot list";
  std::vector<std::string> expected;
  for (int i = 10; i < 15; ++i) {
    ASSERT_THAT(backend_->put(ns(0), key(i, 0), pattern(10, i),
                              PutMode::kInsertIfAbsent),
                IsOkAndHolds(true));
    expected.push_back(key(i, 0));
  }
  ASSERT_THAT(backend_->put(ns(1), key(20, 1), bytes_of("other"),
                            PutMode::kInsertIfAbsent),
              IsOkAndHolds(true));
  auto listed = backend_->list(ns(0));
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(sorted(*listed), sorted(expected));
}

TEST_P(BackendConformance, NamespacesListsOnlyNonEmptyNamespaces) {
  if (!GetParam().caps.can_list || !GetParam().caps.can_remove)
    GTEST_SKIP() << "backend cannot list or remove";
  auto none = backend_->namespaces();
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
  ASSERT_THAT(
      backend_->put(ns(1), key(7, 1), bytes_of("x"), PutMode::kOverwrite),
      IsOkAndHolds(true));
  auto one = backend_->namespaces();
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, std::vector<std::string>{ns(1)});
  ASSERT_THAT(backend_->remove(ns(1), key(7, 1)), IsOkAndHolds(true));
  EXPECT_THAT(backend_->namespaces(), IsOkAndHolds(IsEmpty()));
}

TEST_P(BackendConformance, EmptyValueRoundTrips) {
  ASSERT_THAT(backend_->put(ns(), key(8), {}, PutMode::kOverwrite),
              IsOkAndHolds(true));
  auto got = backend_->get(ns(), key(8));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_TRUE((*got)->empty());
}

TEST_P(BackendConformance, LargeBinaryValueRoundTrips) {
  Bytes big = pattern(4 << 20, 7);  // Every byte value, 4 MiB.
  ASSERT_THAT(backend_->put(ns(), key(9), big, PutMode::kOverwrite),
              IsOkAndHolds(true));
  auto got = backend_->get(ns(), key(9));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_TRUE(**got == big);
}

TEST_P(BackendConformance, BatchesAnswerInRequestOrder) {
  // PutRequest and KeyRef borrow their strings: keep them alive here.
  const std::string n = ns();
  std::vector<std::string> keys = {key(30), key(31), key(32)};
  Bytes v0 = bytes_of("zero"), v2 = bytes_of("two");
  std::vector<PutRequest> puts = {{n, keys[0], v0}, {n, keys[2], v2}};
  auto put_results = backend_->put_many(puts, PutMode::kInsertIfAbsent);
  ASSERT_EQ(put_results.size(), 2u);
  EXPECT_TRUE(put_results[0] && *put_results[0]);
  EXPECT_TRUE(put_results[1] && *put_results[1]);

  std::vector<KeyRef> refs = {{n, keys[0]}, {n, keys[1]}, {n, keys[2]}};
  auto got = backend_->get_many(refs);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0] && got[1] && got[2]);
  EXPECT_EQ(*got[0], std::optional<Bytes>(v0));
  EXPECT_FALSE(got[1]->has_value());
  EXPECT_EQ(*got[2], std::optional<Bytes>(v2));
}

TEST_P(BackendConformance, ExpiredDeadlineFailsWithDeadlineExceeded) {
  Deadline past(Clock::now() - std::chrono::seconds(1));
  auto r = backend_->get(ns(), key(0), past);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  auto p =
      backend_->put(ns(), key(0), bytes_of("x"), PutMode::kOverwrite, past);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::kDeadlineExceeded);
}

TEST_P(BackendConformance, FailedCallsAreCountedAsErrors) {
  Deadline past(Clock::now() - std::chrono::seconds(1));
  uint64_t before = backend_->stats().errors;
  ASSERT_FALSE(backend_->get(ns(), key(0), past));
  ASSERT_FALSE(backend_->contains(ns(), key(0), past));
  EXPECT_EQ(backend_->stats().errors - before, 2u);
}

TEST_P(BackendConformance, CountersTrackHitsMissesPutsAndBytes) {
  BackendStats before = backend_->stats();
  ASSERT_THAT(
      backend_->put(ns(), key(40), bytes_of("12345"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(true));
  ASSERT_THAT(
      backend_->put(ns(), key(40), bytes_of("67890"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(false));
  ASSERT_THAT(backend_->get(ns(), key(40)), IsOkAndHolds(Optional(_)));
  ASSERT_THAT(backend_->get(ns(), key(41)), IsOkAndHolds(std::nullopt));
  BackendStats after = backend_->stats();
  EXPECT_EQ(after.puts - before.puts, 1u);
  EXPECT_EQ(after.puts_skipped - before.puts_skipped, 1u);
  EXPECT_EQ(after.hits - before.hits, 1u);
  EXPECT_EQ(after.misses - before.misses, 1u);
  EXPECT_EQ(after.bytes_in - before.bytes_in, 5u);
  EXPECT_EQ(after.bytes_out - before.bytes_out, 5u);
  EXPECT_EQ(after.errors, before.errors);
}

// Backends with arbitrary keys store and return every one of these; the
// others must refuse them as invalid keys. Either way nothing escapes,
// crashes, or comes back different.
TEST_P(BackendConformance, HostileKeysAreStoredExactlyOrRejected) {
  const bool arbitrary = GetParam().caps.arbitrary_keys;
  std::vector<std::string> keys = {
      "../../../../etc/passwd", "/etc/passwd", std::string("a\0b", 3),
      std::string(4096, 'k'),   "..",          "sp ace/\\ and \xc3\xa9",
  };
  std::vector<std::string> stored;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto r = backend_->put(ns(), keys[i], pattern(16, i), PutMode::kOverwrite);
    if (arbitrary) {
      ASSERT_THAT(r, IsOk()) << i;
    } else if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << i;
      EXPECT_FALSE(backend_->get(ns(), keys[i])) << i;
      continue;
    }
    stored.push_back(keys[i]);
    auto got = backend_->get(ns(), keys[i]);
    ASSERT_TRUE(got && got->has_value()) << i;
    EXPECT_TRUE(**got == pattern(16, i)) << i;
  }
  if (GetParam().caps.can_list) {
    EXPECT_THAT(backend_->list(ns()),
                IsOkAndHolds(UnorderedElementsAreArray(stored)));
  }
}

TEST_P(BackendConformance, ConcurrentInsertIfAbsentHasOneWinnerPerKey) {
  if (!GetParam().caps.thread_safe) GTEST_SKIP() << "not thread-safe";
  constexpr int kThreads = 4, kKeys = 20;
  std::atomic<int> wins[kKeys] = {};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kKeys; ++k) {
        auto r = backend_->put(ns(), key(100 + k),
                               bytes_of("writer " + std::to_string(t)),
                               PutMode::kInsertIfAbsent);
        if (!r) {
          ++errors;
        } else if (*r) {
          ++wins[k];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(wins[k].load(), 1) << "key " << k;
}

}  // namespace cachepack::testing
