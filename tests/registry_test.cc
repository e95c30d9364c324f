// ArtifactManager: PyTorch's recording, dedup, appending saves and loading.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "cachepack/artifact_manager.h"
#include "cachepack/artifact_types.h"
#include "cachepack/hash.h"

namespace cachepack {
namespace {

TEST(ArtifactManager,
     DropsAnIdenticalRecordButKeepsOtherContentUnderTheSameKey) {
  ArtifactManager m;
  EXPECT_EQ(m.record("autotune", "k", as_bytes("a")), true);
  EXPECT_EQ(m.record("autotune", "k", as_bytes("a")), false);
  EXPECT_EQ(m.record("autotune", "k", as_bytes("b")), true);
  EXPECT_EQ(m.record("pgo", "k", as_bytes("a")), true);  // Other type.
  CacheInfo info = m.cache_info();
  EXPECT_EQ(info.keys("autotune"), (std::vector<std::string>{"k", "k"}));
  EXPECT_EQ(info.count("pgo"), 1u);
  EXPECT_EQ(info.total(), 3u);
}

TEST(ArtifactManager, DedupSurvivesASave) {
  ArtifactManager m;
  ASSERT_TRUE(m.record("pgo", "k", as_bytes("a")));
  ASSERT_TRUE(m.serialize());
  EXPECT_FALSE(m.need_serialize());
  EXPECT_EQ(m.record("pgo", "k", as_bytes("a")), false);  // A cache hit.
  EXPECT_FALSE(m.need_serialize());
  EXPECT_EQ(m.record("pgo", "k2", as_bytes("a")), true);
  EXPECT_TRUE(m.need_serialize());
}

TEST(ArtifactManager, SerializeReturnsNothingWhenNothingWasEverRecorded) {
  ArtifactManager m;
  auto saved = m.serialize();
  ASSERT_TRUE(saved);
  EXPECT_FALSE(saved->has_value());
}

TEST(ArtifactManager, ASaveWithNothingNewReturnsTheUnchangedBlob) {
  ArtifactManager m;
  ASSERT_TRUE(m.record("pgo", "k", as_bytes("a")));
  auto first = m.serialize();
  auto second = m.serialize();
  ASSERT_TRUE(first && *first && second && *second);
  EXPECT_EQ((*first)->bytes, (*second)->bytes);
  EXPECT_EQ((*first)->info, (*second)->info);
}

TEST(ArtifactManager, GroupsByTypeInFirstRecordOrder) {
  ArtifactManager m;
  ASSERT_TRUE(m.record("pgo", "p1", as_bytes("1")));
  ASSERT_TRUE(m.record("autotune", "a1", as_bytes("2")));
  ASSERT_TRUE(m.record("pgo", "p2", as_bytes("3")));
  auto saved = m.serialize();
  ASSERT_TRUE(saved && *saved);
  auto blob = megacache::parse((*saved)->bytes);
  ASSERT_TRUE(blob);
  ASSERT_EQ(blob->groups.size(), 2u);
  EXPECT_EQ(blob->groups[0].type, "pgo");
  EXPECT_EQ(blob->groups[0].artifacts[1].key, "p2");
  EXPECT_EQ(blob->groups[1].type, "autotune");
}

TEST(ArtifactManager, SecondSaveAppendsToTheSameBlob) {
  ArtifactManager m;
  ASSERT_TRUE(m.record("inductor", "f1", as_bytes("x")));
  auto first = m.serialize();
  ASSERT_TRUE(m.record("autotune", "a", as_bytes("y")));
  ASSERT_TRUE(m.record("inductor", "f2", as_bytes("z")));
  auto second = m.serialize();
  ASSERT_TRUE(first && *first && second && *second);
  const Bytes& a = (*first)->bytes;
  const Bytes& b = (*second)->bytes;
  EXPECT_TRUE(std::equal(a.begin() + 4, a.end(), b.begin() + 4));
  EXPECT_EQ(decode_fixed32_be(b.data()), crc32(ByteSpan(b).subspan(4)));
  auto merged = load_groups(b, GroupPolicy::kMerge);
  ASSERT_TRUE(merged);
  EXPECT_EQ(cache_info_of(*merged).keys("inductor"),
            (std::vector<std::string>{"f1", "f2"}));
  auto pytorch = load_groups(b, GroupPolicy::kPyTorchCompatible);
  ASSERT_TRUE(pytorch);
  EXPECT_EQ(cache_info_of(*pytorch).keys("inductor"),
            (std::vector<std::string>{"f2"}));
  EXPECT_EQ((*second)->info.total(), 3u);
}

TEST(ArtifactManager, RejectsUnknownTypesAndBrokenTypeRules) {
  ArtifactManager m;
  auto unknown = m.record("nope", "k", as_bytes("v"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().reason(), ErrorReason::kUnknownType);
  auto triton =
      m.record("inductor_triton", std::string(64, '0'), as_bytes("v"));
  ASSERT_FALSE(triton);
  EXPECT_EQ(triton.error().reason(), ErrorReason::kInvalidContent);
  EXPECT_FALSE(m.need_serialize());
}

TEST(ArtifactManager, WithFreshCacheIsolatesAndRestoresState) {
  ArtifactManager m;
  ASSERT_TRUE(m.record("pgo", "outer", as_bytes("1")));
  auto inner = m.with_fresh_cache([&m] {
    EXPECT_FALSE(m.need_serialize());
    EXPECT_EQ(m.record("pgo", "outer", as_bytes("1")), true);  // Not seen here.
    EXPECT_TRUE(m.record("pgo", "inner", as_bytes("2")));
    return m.serialize();
  });
  ASSERT_TRUE(inner && *inner);
  EXPECT_EQ((*inner)->info.total(), 2u);
  EXPECT_TRUE(m.need_serialize());
  EXPECT_EQ(m.cache_info().keys("pgo"), (std::vector<std::string>{"outer"}));
}

TEST(ArtifactManager, WithFreshCacheRestoresStateWhenTheBodyThrows) {
  ArtifactManager m;
  ASSERT_TRUE(m.record("pgo", "outer", as_bytes("1")));
  EXPECT_THROW(m.with_fresh_cache([&m]() -> int {
    (void)m.record("pgo", "inner", as_bytes("2"));
    throw std::runtime_error("compile failed");
  }),
               std::runtime_error);
  EXPECT_EQ(m.cache_info().keys("pgo"), (std::vector<std::string>{"outer"}));
}

TEST(ArtifactManager, ConcurrentRecordingKeepsEveryDistinctArtifactOnce) {
  ArtifactManager m;
  constexpr int kThreads = 16;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  std::atomic<int> kept{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, &kept, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every artifact is recorded by two threads: exactly one keeps it.
        int id = (t / 2) * kPerThread + i;
        std::string key = "key" + std::to_string(id);
        auto r = m.record("autotune", key, as_bytes("content"));
        if (r && *r) ++kept;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(kept.load(), kThreads / 2 * kPerThread);
  auto saved = m.serialize();
  ASSERT_TRUE(saved && *saved);
  auto blob = megacache::parse((*saved)->bytes);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->artifact_count(), size_t{kThreads / 2 * kPerThread});
  std::set<std::string> keys;
  for (const auto& a : blob->artifacts()) keys.insert(a.key);
  EXPECT_EQ(keys.size(), blob->artifact_count());
}

TEST(ArtifactTypes, HoldsPyTorchsTypes) {
  ArtifactTypes r;
  EXPECT_EQ(r.names(),
            (std::vector<std::string>{"aot_autograd", "autotune", "inductor",
                                      "inductor_cpp", "inductor_triton", "pgo",
                                      "precompile", "triton_runtime"}));
}

TEST(ArtifactTypes, NewerInProcessTypesAreKeyedByTheirContentsSha256) {
  ArtifactTypes r;
  Bytes content = to_bytes("kernels");
  for (std::string_view type : {kTritonRuntime, kInductorCpp}) {
    EXPECT_TRUE(r.check(type, sha256_hex(content), content)) << type;
    auto bad = r.check(type, std::string(64, 'a'), content);
    ASSERT_FALSE(bad) << type;
    EXPECT_EQ(bad.error().reason(), ErrorReason::kInvalidContent);
  }
}

TEST(ArtifactTypes, RegistersUserTypesAndRefusesDuplicates) {
  ArtifactTypes r;
  ASSERT_TRUE(r.register_type({"test", "anything", nullptr, nullptr}));
  EXPECT_TRUE(r.contains("test"));
  auto again = r.register_type({"test", "", nullptr, nullptr});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  auto builtin = r.register_type({"inductor", "", nullptr, nullptr});
  EXPECT_FALSE(builtin);
  EXPECT_FALSE(r.register_type({"", "", nullptr, nullptr}));
  // A manager over this registry records the new type.
  ArtifactManager m(r);
  EXPECT_TRUE(m.record("test", "k", as_bytes("v")));
}

TEST(ArtifactTypes, CanonicalChecksMatchPyTorchsKeyForms) {
  ArtifactTypes r;
  auto ok = [&r](std::string_view type, std::string_view key,
                 std::string_view content = "{}") {
    return r.check(type, key, as_bytes(content), CheckLevel::kCanonical)
        .has_value();
  };
  std::string b32(51, 'a');
  EXPECT_TRUE(ok("inductor", "f" + b32));
  EXPECT_FALSE(ok("inductor", "a" + b32));
  EXPECT_FALSE(ok("inductor", "clé-✓"));
  EXPECT_TRUE(ok("aot_autograd", "a" + b32));
  std::string hex64(64, 'e');
  EXPECT_TRUE(ok("autotune", "ug/" + hex64 + ".best_config"));
  EXPECT_FALSE(ok("autotune", std::string("k\0nul", 5)));
  EXPECT_FALSE(ok("autotune", "ug/" + hex64 + ".best_config", "\xff"));
  EXPECT_TRUE(ok("pgo", "job-1:None:"));
  EXPECT_TRUE(ok("pgo", "mast:name:3:0:tag"));
  EXPECT_FALSE(ok("pgo", "🔥kernel🔥"));
  EXPECT_TRUE(ok("precompile", hex64));
  EXPECT_FALSE(ok("precompile", "ä/ö/ü"));
  std::string content = "cubin";
  EXPECT_TRUE(ok("inductor_triton", sha256_hex(as_bytes(content)), content));
  EXPECT_FALSE(ok("inductor_triton", hex64, content));
  // Required level ignores the key shape of the other types.
  EXPECT_TRUE(r.check("inductor", "clé-✓", {}, CheckLevel::kRequired));
}

TEST(CacheInfo, AskingForAnAbsentTypeDoesNotCreateIt) {
  CacheInfo info;
  EXPECT_TRUE(info.keys("inductor").empty());
  EXPECT_EQ(info.count("inductor"), 0u);
  EXPECT_TRUE(info.empty());
}

}  // namespace
}  // namespace cachepack
