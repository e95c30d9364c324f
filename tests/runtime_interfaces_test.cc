// Generation A's memoization caches (cachepack/runtime_interfaces.h): fcache,
// dcache and its modes, pre-population and the exit dump, the literal
// parser, and the backends' strong-consistency capability.
#include "cachepack/runtime_interfaces.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "backends/memory_backend.h"
#include "cachepack/hash.h"
#include "cachepack/runtime_cache.h"
#include "tests/testing/result_matchers.h"
#include "tests/testing/temp_dir.h"
#include "util/file.h"

namespace cachepack::runtime {
namespace {

using testing::HasError;
using testing::IsOk;
using testing::IsOkAndHolds;
namespace fs = std::filesystem;

std::string temp_dir() { return testing::make_temp_dir("memo"); }

void write_text(const std::string& path, std::string_view text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  Result<Bytes> b = read_file(path);
  return b ? std::string(as_chars(*b)) : std::string();
}

RuntimeConfig enabled() {
  RuntimeConfig c;
  c.memo_caching_module_enabled = true;
  c.deterministic_caching_enabled = true;
  return c;  // LOCAL determinism, as torch's OSS default.
}

Params params_of(Value args, Value kwargs = pickle::Dict{}) {
  return Params{std::move(args), std::move(kwargs)};
}

// A value the codec cannot pickle: a dict keyed by a list.
Value unpicklable() { return pickle::dict({{pickle::list({1}), 2}}); }

MATCHER_P(HoldsValue, v, "holds " + pickle::repr(v)) {
  return arg && *arg && **arg == v;
}
MATCHER(HoldsMiss, "is a miss") { return arg && !*arg; }

// ---- Keys, coders, the caching module switch ------------------------------

TEST(MemoKey, IsFnNameAndParamsThenTheIsolationKey) {
  Params p = params_of(pickle::tuple({1, "a"}), pickle::dict({{"k", 2}}));
  Result<Value> key = memo_key("add", p, {.isolation_key = "ikey"});
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(pickle::repr(*key), "(('add', ((1, 'a'), {'k': 2})), 'ikey')");
}

TEST(MemoKey, CustomParamsEncoderReplacesParams) {
  MemoOptions o{.isolation_key = "i"};
  o.custom_params_encoder = [](const Params& p) -> Result<Value> {
    return pickle::tuple({"enc", p.args});
  };
  Result<Value> key = memo_key("f", params_of(pickle::tuple({7})), o);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(pickle::repr(*key), "(('f', ('enc', (7,))), 'i')");
}

TEST(ResultCoders, EncoderWithoutDecoderIsDecoderRequired) {
  MemoOptions o;
  o.custom_result_encoder = [](const Value& v) -> Result<Value> { return v; };
  EXPECT_THAT(check_result_coders(o),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kCustomResultDecoderRequired));
}

TEST(ResultCoders, DecoderWithoutEncoderIsEncoderRequired) {
  MemoOptions o;
  o.custom_result_decoder = [](const Value& v) -> Result<Value> { return v; };
  EXPECT_THAT(check_result_coders(o),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kCustomResultEncoderRequired));
}

TEST(FastMemoCache, CachingModuleOffMissesRefusesAndOnlyCalls) {
  std::string root = temp_dir();
  RuntimeConfig off;  // TORCHINDUCTOR_ENABLE_CACHING_MODULE unset.
  FastMemoCache cache(off, root);
  Params p = params_of(pickle::tuple({1}));
  EXPECT_THAT(cache.insert("f", p, 5), IsOkAndHolds(false));
  EXPECT_THAT(cache.get("f", p), HoldsMiss());
  int calls = 0;
  auto call = [&]() -> Result<Value> { return ++calls; };
  EXPECT_THAT(cache.record("f", p, call), IsOkAndHolds(Value(1)));
  EXPECT_THAT(cache.record("f", p, call), IsOkAndHolds(Value(2)));
  EXPECT_FALSE(fs::exists(root + "/f"));
  // The pairing rule holds even then, as torch checks it at decoration.
  MemoOptions bad;
  bad.custom_result_encoder = [](const Value& v) -> Result<Value> { return v; };
  EXPECT_THAT(cache.record("f", p, call, bad),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kCustomResultDecoderRequired));
}

TEST(RuntimeConfig, ReadsGenerationAVariablesAsTorchDoes) {
  std::map<std::string, std::string> env;
  auto lookup = [&](std::string_view n) -> std::optional<std::string> {
    auto it = env.find(std::string(n));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  RuntimeConfig d = RuntimeConfig::from(lookup);
  EXPECT_FALSE(d.memo_caching_module_enabled);
  EXPECT_FALSE(d.deterministic_caching_enabled);
  EXPECT_TRUE(d.local_determinism);  // OSS default: not fbcode.
  EXPECT_FALSE(d.global_determinism);
  EXPECT_FALSE(d.pre_populate_deterministic_cache);
  env = {{"TORCHINDUCTOR_ENABLE_CACHING_MODULE", "1"},
         {"TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1"},
         {"TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING", "1"},
         {"TORCHINDUCTOR_LOCAL_DETERMINISM", "0"},
         {"TORCHINDUCTOR_GLOBAL_DETERMINISM", "1"},
         {"TORCHINDUCTOR_STRICTLY_CACHED_DETERMINISM", "true"},
         {"TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE", "/p.json"},
         {"CACHEPACK_DETERMINISTIC_CACHE_URL", "redis://h"}};
  RuntimeConfig c = RuntimeConfig::from(lookup);
  // Generation A has no force-disable gate; generation B does.
  EXPECT_TRUE(c.memo_caching_module_enabled);
  EXPECT_FALSE(c.caching_module_enabled);
  EXPECT_TRUE(c.deterministic_caching_enabled);
  EXPECT_FALSE(c.local_determinism);
  EXPECT_TRUE(c.global_determinism);
  EXPECT_FALSE(c.strictly_cached_determinism);  // Only "1" is on.
  EXPECT_EQ(c.pre_populate_deterministic_cache, "/p.json");
  EXPECT_EQ(c.deterministic_cache_url, "redis://h");
}

// ---- fcache ---------------------------------------------------------------

TEST(FastMemoCache, WritesTorchsFileUnderTheFunctionsDirectory) {
  std::string root = temp_dir();
  FastMemoCache cache(enabled(), root);
  Params p = params_of(pickle::tuple({1, 2}));
  MemoOptions o{.isolation_key = "ik"};
  ASSERT_THAT(cache.insert("add", p, 3, o), IsOkAndHolds(true));
  EXPECT_THAT(cache.insert("add", p, 4, o), IsOkAndHolds(false));
  Value key = *memo_key("add", p, o);
  std::string name = sha256_hex(*pickle::dumps(key)).substr(0, 32);
  std::string file = root + "/add/" + name;
  Bytes expected = version_header();
  append_bytes(expected, *pickle::dumps(3));
  EXPECT_EQ(*read_file(file), expected);
  EXPECT_TRUE(fs::exists(root + "/add/dir.lock"));
  EXPECT_EQ(MemoDisk(root + "/add").path_for(key).value(), file);
}

TEST(FastMemoCache, GetReadsMemoryBeforeDiskAndDoesNotCopyDiskHits) {
  std::string root = temp_dir();
  Params p = params_of(pickle::tuple({1}));
  FastMemoCache writer(enabled(), root);
  ASSERT_THAT(writer.insert("f", p, "v"), IsOkAndHolds(true));
  std::string file = *MemoDisk(root + "/f").path_for(*memo_key("f", p, {}));
  ASSERT_TRUE(fs::remove(file));
  // The writer remembers what it inserted; the disk is not consulted.
  EXPECT_THAT(writer.get("f", p), HoldsValue(Value("v")));

  ASSERT_THAT(writer.insert("f", params_of(pickle::tuple({2})), "w"), IsOk());
  FastMemoCache reader(enabled(), root);
  EXPECT_THAT(reader.get("f", params_of(pickle::tuple({2}))),
              HoldsValue(Value("w")));
  // A disk hit is not memoized: once the file is gone, so is the hit.
  ASSERT_TRUE(fs::remove(
      *MemoDisk(root + "/f")
           .path_for(*memo_key("f", params_of(pickle::tuple({2})), {}))));
  EXPECT_THAT(reader.get("f", params_of(pickle::tuple({2}))), HoldsMiss());
}

TEST(FastMemoCache, StaleFilesAreRemovedOnGetAndReplacedOnInsert) {
  std::string root = temp_dir();
  Params p = params_of(pickle::tuple({1}));
  std::string file = *MemoDisk(root + "/f").path_for(*memo_key("f", p, {}));
  fs::create_directories(root + "/f");
  write_text(file, "\x01\x02\x03\x04stale");
  FastMemoCache a(enabled(), root);
  EXPECT_THAT(a.get("f", p), HoldsMiss());
  EXPECT_FALSE(fs::exists(file));
  write_text(file, "\x01\x02\x03\x04stale");
  EXPECT_THAT(a.insert("f", p, 9), IsOkAndHolds(true));
  FastMemoCache b(enabled(), root);
  EXPECT_THAT(b.get("f", p), HoldsValue(Value(9)));
  // A header with nothing after it is stale too (torch: empty payload).
  write_text(file, std::string(as_chars(version_header())));
  EXPECT_THAT(FastMemoCache(enabled(), root).get("f", p), HoldsMiss());
  EXPECT_FALSE(fs::exists(file));
}

TEST(FastMemoCache, CorruptValueIsValueUnPicklingNamingTheFile) {
  std::string root = temp_dir();
  Params p = params_of(pickle::tuple({1}));
  std::string file = *MemoDisk(root + "/f").path_for(*memo_key("f", p, {}));
  fs::create_directories(root + "/f");
  Bytes b = version_header();
  append_bytes(b, as_bytes(std::string_view("\x80\x04\x95\xff")));
  write_text(file, as_chars(b));
  auto got = FastMemoCache(enabled(), root).get("f", p);
  ASSERT_THAT(got,
              HasError(ErrorCode::kDataLoss, ErrorReason::kValueUnPickling));
  EXPECT_EQ(got.error().where().file, file);
  EXPECT_TRUE(got.error().where().offset.has_value());
}

TEST(FastMemoCache, UnpicklableParamsNeedACustomParamsEncoder) {
  FastMemoCache cache(enabled(), temp_dir());
  Params p = params_of(pickle::tuple({unpicklable()}));
  EXPECT_THAT(cache.get("f", p),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kCustomParamsEncoderRequired));
  EXPECT_THAT(cache.insert("f", p, 1),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kCustomParamsEncoderRequired));
  MemoOptions o;
  o.custom_params_encoder = [](const Params&) -> Result<Value> {
    return Value("shape-only");
  };
  EXPECT_THAT(cache.insert("f", p, 1, o), IsOkAndHolds(true));
  EXPECT_THAT(cache.get("f", p, o), HoldsValue(Value(1)));
}

TEST(FastMemoCache, UnpicklableResultNeedsACustomResultEncoder) {
  std::string root = temp_dir();
  FastMemoCache cache(enabled(), root);
  Params p = params_of(pickle::tuple({1}));
  EXPECT_THAT(cache.insert("f", p, unpicklable()),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kCustomResultEncoderRequired));
  EXPECT_THAT(cache.get("f", p), HoldsMiss());  // Nothing half-written.
  MemoOptions o;
  o.custom_result_encoder = [](const Value&) -> Result<Value> {
    return Value("encoded");
  };
  o.custom_result_decoder = [](const Value& v) -> Result<Value> {
    return pickle::tuple({"decoded", v});
  };
  EXPECT_THAT(cache.insert("f", p, unpicklable(), o), IsOkAndHolds(true));
  EXPECT_THAT(cache.get("f", p, o),
              HoldsValue(pickle::tuple({"decoded", "encoded"})));
}

TEST(FastMemoCache, RecordCallsOnceThenReplays) {
  std::string root = temp_dir();
  int calls = 0;
  auto call = [&]() -> Result<Value> { return 100 + ++calls; };
  Params p = params_of(pickle::tuple({"x"}));
  FastMemoCache a(enabled(), root);
  EXPECT_THAT(a.record("g", p, call), IsOkAndHolds(Value(101)));
  EXPECT_THAT(a.record("g", p, call), IsOkAndHolds(Value(101)));
  FastMemoCache b(enabled(), root);  // Another process: from disk.
  EXPECT_THAT(b.record("g", p, call), IsOkAndHolds(Value(101)));
  EXPECT_EQ(calls, 1);
  // A call's error is returned, and nothing is cached.
  auto failing = []() -> Result<Value> {
    return make_error(ErrorCode::kUnavailable, "down");
  };
  EXPECT_THAT(a.record("g", params_of(pickle::tuple({"y"})), failing),
              HasError(ErrorCode::kUnavailable));
  EXPECT_THAT(a.get("g", params_of(pickle::tuple({"y"}))), HoldsMiss());
}

TEST(FastMemoCache, RecordThatLosesTheInsertReturnsItsOwnResult) {
  std::string root = temp_dir();
  FastMemoCache a(enabled(), root), b(enabled(), root);
  Params p = params_of(pickle::tuple({1}));
  auto call = [&]() -> Result<Value> {
    EXPECT_THAT(b.insert("f", p, "other"), IsOkAndHolds(true));
    return Value("mine");
  };
  // fcache makes no promise of agreement: torch's RECORD_NOT_INSERTED.
  EXPECT_THAT(a.record("f", p, call), IsOkAndHolds(Value("mine")));
  EXPECT_THAT(a.get("f", p), HoldsValue(Value("other")));
}

// ---- dcache ---------------------------------------------------------------

// Not strongly consistent: what an eventually consistent store looks like.
class WeakBackend : public Backend {
 public:
  std::string url() const override { return "weak://"; }

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view, std::string_view,
                                      Deadline) override {
    return std::nullopt;
  }
  Result<bool> do_put(std::string_view, std::string_view, ByteSpan, PutMode,
                      Deadline) override {
    return true;
  }
  Result<bool> do_remove(std::string_view, std::string_view,
                         Deadline) override {
    return false;
  }
  Result<std::vector<std::string>> do_list(std::string_view,
                                           Deadline) override {
    return std::vector<std::string>{};
  }
  Result<std::vector<std::string>> do_namespaces(Deadline) override {
    return std::vector<std::string>{};
  }
};

TEST(DeterministicMemoCache, DisabledRaisesOnEveryUse) {
  RuntimeConfig c = enabled();
  c.deterministic_caching_enabled = false;
  auto cache = DeterministicMemoCache::create(c, nullptr, temp_dir());
  ASSERT_THAT(cache, IsOk());
  Params p = params_of(pickle::tuple({1}));
  auto disabled = HasError(ErrorCode::kInvalidArgument,
                           ErrorReason::kDeterministicCachingDisabled);
  EXPECT_THAT((*cache)->get("f", p), disabled);
  EXPECT_THAT((*cache)->insert("f", p, 1), disabled);
  EXPECT_THAT((*cache)->record("f", p, [] { return Result<Value>(1); }),
              disabled);
  // Even with the caching module off, get and insert raise (torch checks
  // deterministic caching first); record only calls.
  c.memo_caching_module_enabled = false;
  auto off = DeterministicMemoCache::create(c, nullptr, temp_dir());
  EXPECT_THAT((*off)->get("f", p), disabled);
  EXPECT_THAT((*off)->record("f", p, [] { return Result<Value>(7); }),
              IsOkAndHolds(Value(7)));
}

TEST(DeterministicMemoCache, NoModeIsAnInvalidConfiguration) {
  RuntimeConfig c = enabled();
  c.local_determinism = false;
  EXPECT_THAT(DeterministicMemoCache::create(c, nullptr, temp_dir()),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kDeterministicCachingInvalidConfiguration));
}

TEST(DeterministicMemoCache, GlobalNeedsAStronglyConsistentBackend) {
  RuntimeConfig c = enabled();
  c.global_determinism = true;
  auto needs =
      HasError(ErrorCode::kInvalidArgument,
               ErrorReason::kDeterministicCachingRequiresStrongConsistency);
  EXPECT_THAT(DeterministicMemoCache::create(c, nullptr, temp_dir()), needs);
  EXPECT_THAT(DeterministicMemoCache::create(c, std::make_shared<WeakBackend>(),
                                             temp_dir()),
              needs);
  EXPECT_THAT(
      DeterministicMemoCache::create(
          c,
          std::make_shared<MemoryBackend>(MemoryOptions{.max_bytes = 1 << 20}),
          temp_dir()),
      needs);  // Eviction could let a key be decided twice.
  EXPECT_THAT(DeterministicMemoCache::create(
                  c, std::make_shared<MemoryBackend>(), temp_dir()),
              IsOk());
}

TEST(DeterministicMemoCache, GlobalWorkersAgreeOnTheFirstInsertedValue) {
  RuntimeConfig c = enabled();
  c.global_determinism = true;
  auto shared = std::make_shared<MemoryBackend>();
  auto a = DeterministicMemoCache::create(c, shared, temp_dir());
  auto b = DeterministicMemoCache::create(c, shared, temp_dir());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  Params p = params_of(pickle::tuple({1}));
  // b misses, computes, and loses the insert to a meanwhile: it returns a's.
  auto call_b = [&]() -> Result<Value> {
    EXPECT_THAT((*a)->record("f", p, [] { return Result<Value>("first"); }),
                IsOkAndHolds(Value("first")));
    return Value("second");
  };
  EXPECT_THAT((*b)->record("f", p, call_b), IsOkAndHolds(Value("first")));
  EXPECT_THAT((*b)->get("f", p), HoldsValue(Value("first")));
  EXPECT_THAT(shared->list("dcache"), IsOkAndHolds(::testing::SizeIs(1)));
}

TEST(DeterministicMemoCache, LocalSynchronisesThroughTheFunctionsDirectory) {
  std::string root = temp_dir();
  auto a = DeterministicMemoCache::create(enabled(), nullptr, root);
  auto b = DeterministicMemoCache::create(enabled(), nullptr, root);
  Params p = params_of(pickle::tuple({1}));
  auto call_b = [&]() -> Result<Value> {
    EXPECT_THAT((*a)->insert("f", p, "first"), IsOkAndHolds(true));
    return Value("second");
  };
  EXPECT_THAT((*b)->record("f", p, call_b), IsOkAndHolds(Value("first")));
  EXPECT_TRUE(
      fs::exists(*MemoDisk(root + "/f").path_for(*memo_key("f", p, {}))));
}

TEST(DeterministicMemoCache, StrictlyPrePopulatedMissesAndInsertsAreErrors) {
  RuntimeConfig c = enabled();
  c.strictly_pre_populated_determinism = true;
  auto cache = DeterministicMemoCache::create(c, nullptr, temp_dir());
  ASSERT_THAT(cache, IsOk());
  Params p = params_of(pickle::tuple({1}));
  EXPECT_THAT((*cache)->get("f", p),
              HasError(ErrorCode::kNotFound,
                       ErrorReason::kStrictDeterministicCachingKeyNotFound));
  EXPECT_THAT((*cache)->insert("f", p, 1),
              HasError(ErrorCode::kPermissionDenied,
                       ErrorReason::kStrictDeterministicCachingInsertion));
  EXPECT_THAT((*cache)->record("f", p, [] { return Result<Value>(1); }),
              HasError(ErrorCode::kNotFound,
                       ErrorReason::kStrictDeterministicCachingKeyNotFound));
}

TEST(DeterministicMemoCache, StrictlyCachedReadsTheSyncCacheButNeverWrites) {
  std::string root = temp_dir();
  Params p = params_of(pickle::tuple({1}));
  auto local = DeterministicMemoCache::create(enabled(), nullptr, root);
  ASSERT_THAT((*local)->insert("f", p, "cached"), IsOkAndHolds(true));
  RuntimeConfig c = enabled();
  c.strictly_cached_determinism = true;
  auto strict = DeterministicMemoCache::create(c, nullptr, root);
  ASSERT_THAT(strict, IsOk());
  EXPECT_THAT((*strict)->get("f", p), HoldsValue(Value("cached")));
  EXPECT_THAT((*strict)->get("f", params_of(pickle::tuple({2}))),
              HasError(ErrorCode::kNotFound,
                       ErrorReason::kStrictDeterministicCachingKeyNotFound));
  EXPECT_THAT((*strict)->insert("f", params_of(pickle::tuple({2})), 1),
              HasError(ErrorCode::kPermissionDenied,
                       ErrorReason::kStrictDeterministicCachingInsertion));
}

// ---- Pre-population and the dump ------------------------------------------

TEST(DeterministicMemoCache, DumpWritesReprsAndPrePopulationReadsThemBack) {
  std::string root = temp_dir();
  auto cache = DeterministicMemoCache::create(enabled(), nullptr, root);
  MemoOptions o{.isolation_key = "ik"};
  Value tricky = pickle::dict(
      {{"s", "quote ' \" é \n"},
       {"b", pickle::bytes(std::string("\x00\xff'", 3))},
       {"l", pickle::list(
                 {pickle::None{}, true,
                  *pickle::Int::from_decimal("-123456789012345678901234")})},
       {"t", pickle::tuple({1})}});
  ASSERT_THAT((*cache)->insert("f", params_of(pickle::tuple({1})), tricky, o),
              IsOkAndHolds(true));
  ASSERT_THAT((*cache)->insert("g", params_of(pickle::tuple({2})), "two", o),
              IsOkAndHolds(true));
  Result<std::optional<std::string>> dumped = (*cache)->dump();
  ASSERT_THAT(dumped, IsOk());
  ASSERT_TRUE(dumped->has_value());
  EXPECT_EQ(**dumped, root + "/dcache_dump/imc.save");
  EXPECT_TRUE(fs::exists(root + "/dcache_dump/dir.lock"));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(read_text(**dumped));
  ASSERT_EQ(j.size(), 2u);
  Bytes pk = *pickle::dumps(*memo_key("f", params_of(pickle::tuple({1})), o));
  EXPECT_EQ(j.begin().key(), pickle::repr(Value(pk)));
  EXPECT_EQ(j.begin().value(), pickle::repr(tricky));

  // A strictly pre-populated worker reads the dump and needs nothing else.
  RuntimeConfig c = enabled();
  c.strictly_pre_populated_determinism = true;
  c.pre_populate_deterministic_cache = **dumped;
  auto replay = DeterministicMemoCache::create(c, nullptr, temp_dir());
  ASSERT_THAT(replay, IsOk());
  EXPECT_TRUE(fs::exists(**dumped + ".lock"));
  EXPECT_THAT((*replay)->get("f", params_of(pickle::tuple({1})), o),
              HoldsValue(tricky));
  EXPECT_THAT((*replay)->get("g", params_of(pickle::tuple({2})), o),
              HoldsValue(Value("two")));
}

TEST(DeterministicMemoCache, DumpMergesAndAnySharedKeyIsAConflict) {
  std::string root = temp_dir();
  auto empty = DeterministicMemoCache::create(enabled(), nullptr, root);
  EXPECT_THAT((*empty)->dump(),
              IsOkAndHolds(std::optional<std::string>()));  // Nothing written.
  EXPECT_FALSE(fs::exists(root + "/dcache_dump/imc.save"));

  auto a = DeterministicMemoCache::create(enabled(), nullptr, root);
  ASSERT_THAT((*a)->insert("f", params_of(pickle::tuple({1})), 1), IsOk());
  ASSERT_THAT((*a)->dump(), IsOk());
  Result<std::optional<std::string>> merged = [&] {
    auto c = DeterministicMemoCache::create(enabled(), nullptr, root);
    EXPECT_THAT((*c)->insert("h", params_of(pickle::tuple({3})), 3), IsOk());
    return (*c)->dump();
  }();
  ASSERT_THAT(merged, IsOk());
  std::string text = read_text(root + "/dcache_dump/imc.save");
  EXPECT_EQ(nlohmann::json::parse(text).size(), 2u);

  // A worker pre-populated from the dump holds its keys in memory, so its
  // own dump meets them again: a conflict even for equal values, as in
  // torch.
  RuntimeConfig c = enabled();
  c.pre_populate_deterministic_cache = root + "/dcache_dump/imc.save";
  auto d = DeterministicMemoCache::create(c, nullptr, root);
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT((*d)->get("f", params_of(pickle::tuple({1}))),
              HoldsValue(Value(1)));
  // Same key, same value: still a conflict, as in torch.
  ASSERT_THAT((*d)->record("f", params_of(pickle::tuple({1})),
                           [] { return Result<Value>(1); }),
              IsOk());
  auto conflict = (*d)->dump();
  EXPECT_THAT(conflict,
              HasError(ErrorCode::kAlreadyExists,
                       ErrorReason::kDeterministicCachingIMCDumpConflict));
  EXPECT_EQ(conflict.error().where().file, root + "/dcache_dump/imc.save");
  EXPECT_EQ(read_text(root + "/dcache_dump/imc.save"), text);  // Untouched.
}

TEST(DeterministicMemoCache, PrePopulationFileErrorsNameTheFile) {
  std::string dir = temp_dir();
  RuntimeConfig c = enabled();
  c.pre_populate_deterministic_cache = dir + "/missing.json";
  EXPECT_THAT(DeterministicMemoCache::create(c, nullptr, dir),
              HasError(ErrorCode::kNotFound));
  struct Case {
    std::string text;
    ErrorReason reason;
  };
  for (const Case& k : std::vector<Case>{
           {"[1]", ErrorReason::kInvalidJson},
           {"{\"b'x'\"", ErrorReason::kInvalidJson},
           {"{\"b'x'\": 1}", ErrorReason::kInvalidJson},
           {"{\"'not bytes'\": \"1\"}", ErrorReason::kInvalidContent},
           {"{\"b'x'\": \"1.5\"}", ErrorReason::kInvalidContent},
           {"{\"b'x\": \"1\"}", ErrorReason::kInvalidContent},
       }) {
    std::string path = dir + "/p.json";
    write_text(path, k.text);
    c.pre_populate_deterministic_cache = path;
    auto r = DeterministicMemoCache::create(c, nullptr, dir);
    EXPECT_THAT(r, HasError(ErrorCode::kDataLoss, k.reason)) << k.text;
    if (!r) {
      EXPECT_EQ(r.error().where().file, path) << k.text;
    }
  }
}

// ---- parse_python_literal -------------------------------------------------

TEST(PythonLiteral, ReadsWhatReprWrites) {
  std::mt19937 rng(14);
  std::function<Value(int)> gen = [&](int depth) -> Value {
    int kind = static_cast<int>(rng() % (depth > 3 ? 5 : 8));
    switch (kind) {
      case 0:
        return pickle::None{};
      case 1:
        return rng() % 2 == 0;
      case 2: {
        std::string digits = std::to_string(rng()) + std::to_string(rng());
        return Value(
            *pickle::Int::from_decimal(rng() % 2 ? "-" + digits : digits));
      }
      case 3: {
        std::string s;
        for (int i = static_cast<int>(rng() % 6); i > 0; --i) {
          const char* pieces[] = {"a",  "'", "\"",   "\\", "\n",
                                  "\t", "é", "\x01", "€",  "\x7f"};
          s += pieces[rng() % 10];
        }
        return s;
      }
      case 4: {
        Bytes b;
        for (int i = static_cast<int>(rng() % 6); i > 0; --i) {
          b.push_back(static_cast<std::byte>(rng() % 256));
        }
        return b;
      }
      case 5:
      case 6: {
        std::vector<Value> items;
        for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
          items.push_back(gen(depth + 1));
        }
        if (kind == 5) return pickle::Tuple{std::move(items)};
        return pickle::List{std::move(items)};
      }
      default: {
        pickle::Dict d;
        for (int i = static_cast<int>(rng() % 3); i > 0; --i) {
          d.items.push_back({"k" + std::to_string(i), gen(depth + 1)});
        }
        return d;
      }
    }
  };
  for (int i = 0; i < 2000; ++i) {
    Value v = gen(0);
    std::string text = pickle::repr(v);
    EXPECT_THAT(parse_python_literal(text), IsOkAndHolds(v)) << text;
  }
}

TEST(PythonLiteral, ReadsLiteralEvalsOtherSpellings) {
  struct Case {
    std::string text;
    std::string repr;
  };
  for (const Case& k : std::vector<Case>{
           {" (1)", "1"},
           {"1, 2", "(1, 2)"},
           {"(1,)", "(1,)"},
           {"()", "()"},
           {"[1, 2,]", "[1, 2]"},
           {"{1: 'a', True: 'b'}", "{1: 'b'}"},
           {"-  5", "-5"},
           {"--5", "5"},
           {"1_000", "1000"},
           {"000", "0"},
           {"'a' \"b\" '''c'''", "'abc'"},
           {"b'a' B\"b\"", "b'ab'"},
           {"r'\\n' u'x'", "'\\\\nx'"},
           {"'\\x41\\u00e9\\U0001F600\\101'", "'Aé😀A'"},
           {"b'\\u00e9'", "b'\\\\u00e9'"},
           {"{\n 'a' : [ None ,True,False ] }", "{'a': [None, True, False]}"},
       }) {
    Result<Value> v = parse_python_literal(k.text);
    ASSERT_THAT(v, IsOk()) << k.text;
    EXPECT_EQ(pickle::repr(*v), k.repr) << k.text;
  }
}

TEST(PythonLiteral, RefusesOtherKindsWithTheOffset) {
  struct Case {
    std::string text;
    size_t offset;
  };
  for (const Case& k : std::vector<Case>{
           {"", 0},
           {"1.5", 0},
           {"[1, 0x10]", 4},
           {"{1, 2}", 2},
           {"(1 2)", 3},
           {"'abc", 4},
           {"b'é'", 2},
           {"'a' b'b'", 4},
           {"f'x'", 0},
           {"os.system", 0},
           {"[1]]", 3},
           {"{[1]: 2}", 1},
           {"'\\N{DASH}'", 3},
           {"01", 0},
       }) {
    EXPECT_THAT(parse_python_literal(k.text),
                testing::HasErrorAt(ErrorCode::kInvalidArgument, k.offset))
        << k.text;
  }
  EXPECT_THAT(
      parse_python_literal(std::string(2000, '[')),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kLimitExceeded));
}

// ---- record_call ------------------------------------------------------

TEST(MemoCacheRecordCall, SaysWhereTheValueCameFrom) {
  using Source = MemoCache::Source;
  std::string root = temp_dir();
  Params p = params_of(pickle::tuple({1}));
  auto source = [](const Result<MemoCache::Recorded>& r) {
    return r ? r->source : Source::kCalled;
  };
  FastMemoCache fast(enabled(), root), other(enabled(), root);
  auto one = [] { return Result<Value>(1); };
  EXPECT_EQ(source(fast.record_call("f", p, one)), Source::kInserted);
  EXPECT_EQ(source(fast.record_call("f", p, one)), Source::kCached);
  auto lose = [&]() -> Result<Value> {
    EXPECT_THAT(other.insert("g", p, 2), IsOkAndHolds(true));
    return Value(3);
  };
  auto lost = fast.record_call("g", p, lose);
  EXPECT_EQ(source(lost), Source::kNotInserted);
  EXPECT_TRUE(lost && lost->value == Value(3));
  auto det = DeterministicMemoCache::create(enabled(), nullptr, root);
  auto lost_det = (*det)->record_call("h", p, [&]() -> Result<Value> {
    EXPECT_THAT(other.insert("h", p, 4), IsOkAndHolds(true));
    return Value(5);
  });
  EXPECT_EQ(source(lost_det), Source::kLostToCached);
  EXPECT_TRUE(lost_det && lost_det->value == Value(4));
}

}  // namespace
}  // namespace cachepack::runtime
