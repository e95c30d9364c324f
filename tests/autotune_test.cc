// PyTorch's autotune cache in cachepack: keys, best-config records,
// _load_cached_autotuning's selection rules case by case, local-then-remote
// lookup and the bundler, over the in-memory backend. Expected keys and JSON
// were produced by torch 2.13 itself (tests/torch/test_autotune_keys.py
// compares 1,200 generated inputs).
#include "cachepack/autotune.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/memory_backend.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::autotune {
namespace {

using ::cachepack::testing::IsOk;
using ::cachepack::testing::IsOkAndHolds;

Bytes counting_key() {
  Bytes key;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<std::byte>(i));
  return key;
}

Record record(std::string_view json) {
  auto r = Record::parse(json);
  EXPECT_TRUE(r.has_value()) << json;
  return r.value_or(Record{});
}

TritonConfig config(std::vector<std::pair<std::string, JsonText>> kwargs,
                    int64_t num_warps, int64_t num_stages) {
  return TritonConfig{.kwargs = std::move(kwargs),
                      .num_warps = num_warps,
                      .num_stages = num_stages};
}

constexpr std::string_view kStored =
    R"({"XBLOCK": 64, "num_warps": 4, "num_stages": 1, "configs_hash": "h", )"
    R"("found_by_coordesc": false, "time_taken_ms": 12, )"
    R"("triton_cache_hash": null})";

// ---- Keys ------------------------------------------------------------------

TEST(AutotuneKey, MatchesTorchForTritonKernelFile) {
  KernelKeys keys =
      kernel_keys({.kernel_file = "/tmp/torchinductor_u/ab/cabcdef.py",
                   .cache_key_tag = "",
                   .torch_key = counting_key(),
                   .backend_hash = "BH",
                   .configs_hash = "CH"});
  EXPECT_EQ(keys.prepared_key,
            "80904e5fdb36c2f285b07f1523a7271b19124cc8abb32147d48a1617181a065f");
  EXPECT_EQ(keys.local_path,
            "/tmp/torchinductor_u/ab/"
            "d7efb164024ce94da778562cff2d4776336414f38759eeea6bb29c783c4ea77c"
            ".best_config");
  EXPECT_EQ(
      keys.artifact_key,
      "ab/d7efb164024ce94da778562cff2d4776336414f38759eeea6bb29c783c4ea77c"
      ".best_config");
  EXPECT_EQ(keys.remote_cache_id,
            "e94f73d7067a3634d76ce34fe0880b8c24374d06560b9c80d605f7807449d652");
}

TEST(AutotuneKey, NoRemoteCacheIdWithoutBackendHash) {
  KernelKeys keys = kernel_keys({.kernel_file = "k.py",
                                 .torch_key = counting_key(),
                                 .configs_hash = "CH"});
  EXPECT_FALSE(keys.remote_cache_id.has_value());
  EXPECT_EQ(keys.artifact_key, keys.local_path);  // No directory.
}

TEST(AutotuneKey, CodeHashIgnoresCommentsAsTorchDoes) {
  std::string hash = comment_stripped_hash("x = 1  # run 7\ny = 2\n# only\n");
  EXPECT_EQ(hash, "cbmnjtznpnv7nwrmeyzlydrwee7tlvjsvtawjgtnoaet7vfah63t");
  EXPECT_EQ(hash, code_hash("x = 1  \ny = 2\n\n"));
  EXPECT_EQ(bundle_key(hash, "BH"),
            "13d69987ede942070925d388778ee5a11d4b3d3ede339aa5d679bf9c7673b637");
}

TEST(AutotuneKey, BundleEntryGoesWhereTorchsGetPathPutsIt) {
  EXPECT_THAT(bundle_entry_artifact_key("0abc.best_config"),
              IsOkAndHolds(std::string("ab/0abc.best_config")));
  EXPECT_THAT(bundle_entry_artifact_key("ab"),
              IsOkAndHolds(std::string("b/ab.")));
  EXPECT_THAT(bundle_entry_artifact_key("a..b"),
              IsOkAndHolds(std::string("a..b")));  // <cache>/./a..b
}

TEST(AutotuneKey, BundleEntryThatLeavesTheCacheDirIsRefused) {
  for (std::string_view name : {"", ".", "..", "a/b", "x..y.best_config"}) {
    auto key = bundle_entry_artifact_key(name);
    ASSERT_FALSE(key.has_value()) << name;
    EXPECT_EQ(key.error().reason(), ErrorReason::kInvalidKey);
  }
}

// ---- Records ---------------------------------------------------------------

TEST(AutotuneRecord, FromConfigWritesWhatTorchSaves) {
  Record r = Record::from_config(
      config({{"XBLOCK", "64"}, {"R0_BLOCK", "8"}}, 4, 1), "abc", true,
      1'234'567'891, std::nullopt, R"({"k": "é"})");
  EXPECT_EQ(r.to_json(),
            R"({"XBLOCK": 64, "R0_BLOCK": 8, "num_warps": 4, "num_stages": 1, )"
            R"("configs_hash": "abc", "found_by_coordesc": true, )"
            R"("time_taken_ms": 1234, "triton_cache_hash": null, )"
            R"("extra_options": {"k": "\u00e9"}})");
  EXPECT_EQ(r.time_taken_ms(), 1234);
  EXPECT_TRUE(r.found_by_coordesc());
  EXPECT_EQ(r.configs_hash(), "abc");
}

TEST(AutotuneRecord, WarpSpecializationFieldsWhenTritonHasThem) {
  TritonConfig c = config({}, 8, 3);
  c.num_consumer_groups = 2;
  Record r = Record::from_config(c, "h", false, 0, "th", {}, true);
  EXPECT_EQ(r.get("num_consumer_groups"), "2");
  EXPECT_EQ(r.get("num_buffers_warp_spec"), "0");
  EXPECT_EQ(r.triton_cache_hash(), "th");
}

TEST(AutotuneRecord, ParseKeepsFieldOrderAndRoundTrips) {
  Record r = record(kStored);
  EXPECT_EQ(r.to_json(), kStored);
  EXPECT_EQ(r.fields().front().first, "XBLOCK");
  EXPECT_EQ(r.describe_config(), "XBLOCK=64, num_warps=4, num_stages=1");
}

TEST(AutotuneRecord, ParseRejectsWhatIsNotAnObject) {
  for (std::string_view bad : {"[1]", "{\"a\": ", "", "null"}) {
    auto r = Record::parse(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(r.error().reason(), ErrorReason::kInvalidJson);
  }
}

TEST(AutotuneRecord, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep = R"({"XBLOCK": )" + std::string(100'000, '[') +
                     std::string(100'000, ']') + "}";
  auto r = Record::parse(deep);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason(), ErrorReason::kLimitExceeded);
  auto b = parse_bundle(deep);
  ASSERT_FALSE(b.has_value());
  // Brackets inside strings do not count.
  EXPECT_TRUE(Record::parse(R"({"s": ")" + std::string(1000, '[') + R"("})")
                  .has_value());
}

TEST(AutotuneRecord, TruncationsAndByteFlipsNeverCrash) {
  const std::string bundle =
      R"({"0abc.best_config": {"XBLOCK": 8, "time_taken_ms": 40, "s": "é"}, )"
      R"("0xyz.best_config": {"XBLOCK": [1, {"a": null}], "time_taken_ms": 2}})";
  size_t parsed = 0;
  for (size_t n = 0; n <= bundle.size(); ++n) {
    parsed += parse_bundle(bundle.substr(0, n)).has_value();
  }
  for (size_t i = 0; i < bundle.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bundle;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto entries = parse_bundle(flipped);
      if (!entries) continue;
      ++parsed;
      for (const auto& [name, record] : *entries) {
        (void)bundle_entry_artifact_key(name);
        EXPECT_TRUE(Record::parse(record.to_json()).has_value());
      }
    }
  }
  EXPECT_GT(parsed, 1u);  // The whole bundle, and harmless flips.
}

// ---- Selection (_load_cached_autotuning) -----------------------------------

TEST(AutotuneSelect, PicksTheOneMatchingCandidate) {
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "32"}}, 4, 1),
                                          config({{"XBLOCK", "64"}}, 4, 1),
                                          config({{"XBLOCK", "64"}}, 8, 1)};
  auto s = select(record(kStored), "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ((*s)->candidate, 1u);
  EXPECT_EQ((*s)->config, candidates[1]);
  EXPECT_FALSE((*s)->found_by_coordesc);
}

TEST(AutotuneSelect, AnotherConfigsHashIsNotAccepted) {
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "64"}}, 4, 1)};
  EXPECT_THAT(select(record(kStored), "other", candidates),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
  EXPECT_THAT(
      select(record(R"({"XBLOCK": 64, "num_warps": 4, "num_stages": 1})"), "h",
             candidates),
      IsOkAndHolds(::testing::Eq(std::nullopt)));
  EXPECT_THAT(select(record(R"({"configs_hash": 7})"), "7", candidates),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
}

TEST(AutotuneSelect, NoMatchingCandidateRebuildsTheConfig) {
  // torch 2.13 rebuilds (configs added at run time, _dynamic_scale_rblock).
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "32"}}, 4, 1)};
  auto s = select(record(kStored), "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_FALSE((*s)->candidate.has_value());
  EXPECT_EQ((*s)->config, config({{"XBLOCK", "64"}}, 4, 1));
  EXPECT_FALSE((*s)->found_by_coordesc);
}

TEST(AutotuneSelect, SeveralMatchingCandidatesRebuildTheConfig) {
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "64"}}, 4, 1),
                                          config({{"XBLOCK", "64"}}, 4, 1)};
  auto s = select(record(kStored), "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_FALSE((*s)->candidate.has_value());
}

TEST(AutotuneSelect, CoordescResultIsRebuiltEvenWhenACandidateMatches) {
  Record r = record(
      R"({"XBLOCK": 128, "R0_BLOCK": 4, "num_warps": 2, "num_stages": 1, )"
      R"("configs_hash": "h", "found_by_coordesc": true, "time_taken_ms": 3})");
  std::vector<TritonConfig> candidates = {
      config({{"XBLOCK", "128"}, {"R0_BLOCK", "4"}}, 2, 1)};
  auto s = select(r, "h", candidates, {.coordinate_descent_tuning = true});
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_FALSE((*s)->candidate.has_value());
  EXPECT_TRUE((*s)->found_by_coordesc);
  EXPECT_EQ((*s)->config, config({{"XBLOCK", "128"}, {"R0_BLOCK", "4"}}, 2, 1));
}

TEST(AutotuneSelect, CoordescFlagIsIgnoredWithoutCoordinateDescentTuning) {
  Record r = record(R"({"XBLOCK": 128, "num_warps": 2, "num_stages": 1, )"
                    R"("configs_hash": "h", "found_by_coordesc": true})");
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "128"}}, 2, 1)};
  auto s = select(r, "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ((*s)->candidate, 0u);
  EXPECT_FALSE((*s)->found_by_coordesc);
}

TEST(AutotuneSelect, CoordescTuningWithAHeuristicRecordMatchesACandidate) {
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "64"}}, 4, 1)};
  auto s = select(record(kStored), "h", candidates,
                  {.coordinate_descent_tuning = true});
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ((*s)->candidate, 0u);
}

TEST(AutotuneSelect, ComparesValuesAsPythonDoes) {
  Record r = record(
      R"({"XBLOCK": 64.0, "FLAG": true, "num_warps": 4.0, "num_stages": 1, )"
      R"("configs_hash": "h"})");
  std::vector<TritonConfig> candidates = {
      config({{"XBLOCK", "64"}, {"FLAG", "1"}, {"MISSING", "null"}}, 4, 1)};
  auto s = select(r, "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ((*s)->candidate, 0u);

  // A kwarg the record lacks is None, which 8 is not.
  candidates = {config({{"XBLOCK", "64"}, {"R0_BLOCK", "8"}}, 4, 1)};
  s = select(r, "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_FALSE((*s)->candidate.has_value());
}

TEST(AutotuneSelect, ExtraOptionsAreCarriedToTheSelection) {
  Record r = record(
      R"({"XBLOCK": 64, "num_warps": 4, "num_stages": 1, "configs_hash": "h", )"
      R"("extra_options": {"maxnreg": 128}})");
  std::vector<TritonConfig> candidates = {config({{"XBLOCK", "64"}}, 4, 1)};
  auto s = select(r, "h", candidates);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ((*s)->candidate, 0u);
  EXPECT_EQ((*s)->extra_options, R"({"maxnreg":128})");
}

TEST(AutotuneSelect, RebuildWithoutNumWarpsIsDataLoss) {
  auto s =
      select(record(R"({"XBLOCK": 64, "num_stages": 1, "configs_hash": "h"})"),
             "h", {});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kDataLoss);
}

TEST(AutotuneSelect, WarpSpecializationFieldsOnlyWhenTritonHasThem) {
  Record r = record(
      R"({"XBLOCK": 64, "num_warps": 4, "num_stages": 1, "configs_hash": "h", )"
      R"("num_consumer_groups": 2, "num_buffers_warp_spec": 3})");
  auto with = select(r, "h", {}, {.has_warp_spec = true});
  ASSERT_TRUE(with.has_value() && with->has_value());
  EXPECT_EQ((*with)->config.num_consumer_groups, 2);
  EXPECT_EQ((*with)->config.kwargs.size(), 1u);
  // torch 2.13 (HAS_WARP_SPEC False) keeps them as kwargs.
  auto without = select(r, "h", {});
  ASSERT_TRUE(without.has_value() && without->has_value());
  EXPECT_EQ((*without)->config.kwargs.size(), 3u);
  EXPECT_FALSE((*without)->config.num_consumer_groups.has_value());
}

// ---- Lookup and save (AutotuneCache) ---------------------------------------

KernelKeys test_keys() {
  return kernel_keys({.kernel_file = "/c/ab/cabc.py",
                      .torch_key = counting_key(),
                      .backend_hash = "BH",
                      .configs_hash = "h"});
}

TEST(AutotuneLookup, LocalRecordComesFirst) {
  MemoryBackend local, remote;
  KernelCache cache{.keys = test_keys(), .local = &local, .remote = &remote};
  ASSERT_THAT(save(cache, record(kStored)), IsOk());
  ASSERT_THAT(remote.put(*cache.keys.remote_cache_id, cache.keys.prepared_key,
                         as_bytes(R"({"XBLOCK": 1, "configs_hash": "h"})"),
                         PutMode::kOverwrite),
              IsOk());
  auto found = read(cache);
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_FALSE((*found)->from_remote);
  EXPECT_EQ((*found)->record.to_json(), kStored);
}

TEST(AutotuneLookup, RemoteWhenLocalMissesIsEmptyOrCorrupt) {
  for (std::string_view local_value : {"", "{}", "{not json"}) {
    MemoryBackend local, remote;
    KernelCache cache{.keys = test_keys(), .local = &local, .remote = &remote};
    if (!local_value.empty()) {
      ASSERT_THAT(local.put(kLocalNamespace, cache.keys.artifact_key,
                            as_bytes(local_value), PutMode::kOverwrite),
                  IsOk());
    }
    KernelCache remote_only{.keys = cache.keys, .remote = &remote};
    ASSERT_THAT(save(remote_only, record(kStored)), IsOk());
    auto found = read(cache);
    ASSERT_TRUE(found.has_value() && found->has_value()) << local_value;
    EXPECT_TRUE((*found)->from_remote);
  }
}

TEST(AutotuneLookup, CorruptRemoteRecordIsDataLoss) {
  MemoryBackend remote;
  KernelCache cache{.keys = test_keys(), .remote = &remote};
  ASSERT_THAT(remote.put(*cache.keys.remote_cache_id, cache.keys.prepared_key,
                         as_bytes("{nope"), PutMode::kOverwrite),
              IsOk());
  auto found = read(cache);
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().code(), ErrorCode::kDataLoss);
}

TEST(AutotuneLookup, MissEverywhereIsEmpty) {
  MemoryBackend local, remote;
  KernelCache cache{.keys = test_keys(), .local = &local, .remote = &remote};
  EXPECT_THAT(read(cache), IsOkAndHolds(::testing::Eq(std::nullopt)));
}

// ---- Bundler ---------------------------------------------------------------

TEST(AutotuneBundler, MissCollectsLocalPutsAndStoresOneEntry) {
  MemoryBackend local, remote;
  auto bundler = Bundler::begin(remote, local, "ccode", "BH");
  ASSERT_TRUE(bundler.has_value());
  EXPECT_TRUE(bundler->collecting());
  KernelCache cache{.keys = test_keys(), .local = &local, .bundler = &*bundler};
  ASSERT_THAT(save(cache, record(kStored)), IsOk());
  bundler->put("/c/cd/other.best_config", record(R"({"time_taken_ms": 5})"));
  bundler->put("/c/cd/other.best_config", record(R"({"time_taken_ms": 6})"));
  EXPECT_THAT(bundler->end(), IsOkAndHolds(true));

  auto stored = remote.get(kBundleCacheId, bundle_key("ccode", "BH"));
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  auto entries = parse_bundle(as_chars(**stored));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].first, cache.keys.artifact_key.substr(
                                     cache.keys.artifact_key.find('/') + 1));
  EXPECT_EQ((*entries)[1].second.time_taken_ms(), 6);
}

TEST(AutotuneBundler, HitExpandsIntoTheLocalCacheAndReportsTimeSaved) {
  MemoryBackend local, remote;
  std::string bundle =
      R"({"0abc.best_config": {"XBLOCK": 8, "time_taken_ms": 40}, )"
      R"("0xyz.best_config": {"XBLOCK": 16, "time_taken_ms": 2, "time_saved_ns": 9}})";
  ASSERT_THAT(remote.put(kBundleCacheId, bundle_key("ccode", "BH"),
                         as_bytes(bundle), PutMode::kOverwrite),
              IsOk());
  auto bundler = Bundler::begin(remote, local, "ccode", "BH");
  ASSERT_TRUE(bundler.has_value());
  ASSERT_TRUE(bundler->hit().has_value());
  EXPECT_EQ(bundler->hit()->records, 2u);
  EXPECT_EQ(bundler->hit()->time_taken_ms, 42);
  EXPECT_EQ(bundler->hit()->time_saved_ns, 9);
  EXPECT_FALSE(bundler->collecting());
  auto entry = local.get(kLocalNamespace, "xy/0xyz.best_config");
  ASSERT_TRUE(entry.has_value() && entry->has_value());
  EXPECT_EQ(as_chars(**entry),
            R"({"XBLOCK": 16, "time_taken_ms": 2, "time_saved_ns": 9})");
  // A hit collects nothing: end() stores nothing.
  bundler->put("/c/zz/new.best_config", record(kStored));
  EXPECT_THAT(bundler->end(), IsOkAndHolds(false));
}

TEST(AutotuneBundler, EndWithoutRecordsStoresNothing) {
  MemoryBackend local, remote;
  auto bundler = Bundler::begin(remote, local, "ccode", "BH");
  ASSERT_TRUE(bundler.has_value());
  EXPECT_THAT(bundler->end(), IsOkAndHolds(false));
  EXPECT_THAT(remote.contains(kBundleCacheId, bundler->key()),
              IsOkAndHolds(false));
}

TEST(AutotuneBundler, BundleNamingAFileOutsideTheCacheIsRefused) {
  MemoryBackend local, remote;
  ASSERT_THAT(
      remote.put(kBundleCacheId, bundle_key("ccode", "BH"),
                 as_bytes(R"({"x..y.best_config": {}})"), PutMode::kOverwrite),
      IsOk());
  auto bundler = Bundler::begin(remote, local, "ccode", "BH");
  ASSERT_FALSE(bundler.has_value());
  EXPECT_EQ(bundler.error().reason(), ErrorReason::kInvalidKey);
}

}  // namespace
}  // namespace cachepack::autotune
