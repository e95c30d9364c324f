// Generation-B memoizers and isolation contexts (cachepack/runtime_memo.h,
// cachepack/runtime_isolation.h) as torch 2.13's runtime/caching behaves.
// Expected bytes and keys were produced by Python 3.11 / torch 2.13; the
// cross-checks against a live torch are
// tests/python/test_runtime_memo_torch.py.
#include "cachepack/runtime_memo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cachepack/hash.h"
#include "cachepack/runtime_cache.h"
#include "cachepack/runtime_isolation.h"
#include "tests/testing/result_matchers.h"
#include "tests/testing/temp_dir.h"
#include "util/file.h"
#include "util/python_json.h"

namespace cachepack::runtime {
namespace {

using testing::HasError;
using testing::IsOk;
using testing::IsOkAndHolds;
namespace fs = std::filesystem;

std::string temp_dir() { return testing::make_temp_dir("rtmemo"); }

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string text_of(const std::string& path) {
  Result<Bytes> b = read_file(path);
  return b ? std::string(as_chars(*b)) : std::string();
}

void write_text(const std::string& path, std::string_view text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

RuntimeConfig enabled() {
  RuntimeConfig c;
  c.caching_module_enabled = true;
  return c;
}

IsolationContext sample_context() {
  IsolationContext c;
  c.inductor_configs =
      R"({"b": 1.0, "a": [1e16, 1e-05, 0.1, 123456789.125, -0.0, 5e-324,)"
      R"( "\u00e9\u2028\u007f\n"], "c": {"z": null, "y": true}})";
  c.torch_determinism_configs = R"({"x": false})";
  c.cuda_matmul_precision_configs = "{}";
  c.torch_version_hash = "abc=";
  return c;
}

// ---- isolation ----------------------------------------------------------

TEST(IsolationKey, DefaultSchemaIsJsonDumpsSortKeysOfEveryForm) {
  EXPECT_THAT(
      isolation_context_json({}, sample_context()),
      IsOkAndHolds(std::string(
          R"({"compile_context": {"accelerator_properties": null, "runtime": )"
          R"(null, "runtime_version": null, "torch_version_hash": "abc=", )"
          R"("triton_version_hash": null}, "runtime_context": )"
          R"({"cuda_matmul_precision_configs": {}, "inductor_configs": {"a": )"
          R"([1e+16, 1e-05, 0.1, 123456789.125, -0.0, 5e-324, )"
          R"("\u00e9\u2028\u007f\n"], "b": 1.0, "c": {"y": true, "z": null}}, )"
          R"("torch_determinism_configs": {"x": false}}})")));
  EXPECT_THAT(isolation_key({}, sample_context()),
              IsOkAndHolds(std::string("bf3af42c18765fc30f6f215a5c3739c7")));
}

TEST(IsolationKey, SelectedFormsOnlyAndUnselectedSideIsNull) {
  IsolationSchema schema{.runtime_context = false,
                         .compile_context = ContextSelection::only(
                             {"torch_version_hash", "runtime"})};
  EXPECT_THAT(isolation_key(schema, sample_context()),
              IsOkAndHolds(std::string("a9174f959271de61863f8bd1f242a47a")));
  IsolationSchema none{.runtime_context = false, .compile_context = false};
  EXPECT_THAT(isolation_key(none, sample_context()),
              IsOkAndHolds(std::string("1e841360f41ae9b518d5fa4e216302a8")));
  // An empty selection is falsy in torch: the side is null.
  IsolationSchema empty{.runtime_context = ContextSelection::only({}),
                        .compile_context = ContextSelection::only({})};
  EXPECT_THAT(isolation_key(empty, sample_context()),
              IsOkAndHolds(std::string("1e841360f41ae9b518d5fa4e216302a8")));
}

TEST(IsolationKey, UnselectedRuntimeFormsAreNotParsed) {
  IsolationContext c = sample_context();
  c.inductor_configs = "not json";
  IsolationSchema schema{
      .runtime_context = ContextSelection::only({"torch_determinism_configs"}),
      .compile_context = false};
  EXPECT_THAT(isolation_key(schema, c), IsOk());
  EXPECT_THAT(isolation_key({}, c),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
  c.inductor_configs = "[1, 2]";  // JSON, but not a dict.
  EXPECT_THAT(isolation_key({}, c),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
}

TEST(IsolationKey, UnknownFormNameIsInvalidKey) {
  IsolationSchema schema{.runtime_context = ContextSelection::only({"cuda"}),
                         .compile_context = true};
  EXPECT_THAT(isolation_key(schema, sample_context()),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey));
}

TEST(PythonJson, FloatsPrintAsPythonRepr) {
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(python_float_repr(-2.5e-300), "-2.5e-300");
  EXPECT_EQ(python_float_repr(1.7976931348623157e308),
            "1.7976931348623157e+308");
  EXPECT_EQ(python_float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(python_float_repr(1.0 / 0.0), "Infinity");
}

TEST(PythonJson, IndentTwoIsJsonDumpIndent2) {
  Json j = Json::parse(
      R"({"collections": {"null": {"k1": {"params": {"args": [1, "a"],)"
      R"( "kwargs": {}}, "result": [1, 2]}}, "other": {}}, "cache_size": 1})");
  EXPECT_EQ(python_json_dumps(j, {.indent = 2}),
            "{\n  \"collections\": {\n    \"null\": {\n      \"k1\": {\n     "
            "   \"params\": {\n          \"args\": [\n            1,\n        "
            "    \"a\"\n          ],\n          \"kwargs\": {}\n        },\n  "
            "      \"result\": [\n          1,\n          2\n        ]\n      "
            "}\n    },\n    \"other\": {}\n  },\n  \"cache_size\": 1\n}");
}

// ---- CacheEntry ---------------------------------------------------------

constexpr std::string_view kTorchCacheEntryHex =
    "8004958d000000000000008c2a746f7263682e5f696e647563746f722e72756e74696d652"
    "e63616368696e672e696e7465726661636573948c0a4361636865456e7472799493942981"
    "947d94288c0e656e636f6465645f706172616d73947d94288c0461726773944b018c01619"
    "486948c066b7761726773947d94758c0e656e636f6465645f726573756c74945d94284b01"
    "4b026575622e";

CacheEntry sample_entry() {
  return CacheEntry{pickle::dict({{"args", pickle::tuple({1, "a"})},
                                  {"kwargs", pickle::dict({})}}),
                    pickle::list({1, 2})};
}

TEST(CacheEntryPickle, IsTorchsPickleOfTheDataclass) {
  EXPECT_THAT(pickle_cache_entry(sample_entry()),
              IsOkAndHolds(from_hex(kTorchCacheEntryHex)));
  Result<CacheEntry> back = unpickle_cache_entry(from_hex(kTorchCacheEntryHex));
  ASSERT_THAT(back, IsOk());
  EXPECT_TRUE(*back == sample_entry());
}

TEST(CacheEntryPickle, AnotherClassIsRefusedNotImported) {
  std::string hex(kTorchCacheEntryHex);
  Bytes b = from_hex(hex);
  // "CacheEntry" -> "CacheEntrz": a class cachepack must not construct.
  for (size_t i = 0; i + 10 <= b.size(); ++i) {
    if (std::string_view(reinterpret_cast<const char*>(&b[i]), 10) ==
        "CacheEntry") {
      b[i + 9] = std::byte{'z'};
      break;
    }
  }
  EXPECT_THAT(unpickle_cache_entry(b),
              HasError(ErrorCode::kDataLoss, ErrorReason::kValueDecoding));
  // A plain value is not a CacheEntry either.
  Result<Bytes> plain = pickle::dumps(pickle::list({1}));
  ASSERT_THAT(plain, IsOk());
  EXPECT_THAT(unpickle_cache_entry(*plain),
              HasError(ErrorCode::kDataLoss, ErrorReason::kValueDecoding));
  // And the general reader still reads no class at all.
  EXPECT_THAT(pickle::loads(from_hex(kTorchCacheEntryHex)),
              HasError(ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle));
}

TEST(CacheEntryPickle, EveryTruncationIsATypedError) {
  Bytes b = from_hex(kTorchCacheEntryHex);
  for (size_t n = 0; n < b.size(); ++n) {
    Result<CacheEntry> r = unpickle_cache_entry(ByteSpan(b).first(n));
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss) << n;
  }
  // Every single-byte change either decodes or fails with a typed error.
  for (size_t i = 0; i < b.size(); ++i) {
    for (int v : {0x00, 0x29, 0x62, 0x81, 0x93, 0xff}) {
      Bytes m = b;
      m[i] = static_cast<std::byte>(v);
      Result<CacheEntry> r = unpickle_cache_entry(m);
      if (!r) {
        EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
      }
    }
  }
}

// ---- OnDiskCacheImpl ----------------------------------------------------

TEST(OnDiskCacheImpl, FileIsVersionHeaderThenValueNamedByTheKey) {
  std::string dir = temp_dir() + "/sub";
  OnDiskCacheImpl disk = OnDiskCacheImpl::at(dir);
  EXPECT_THAT(disk.insert("abc", as_bytes("value")), IsOkAndHolds(true));
  EXPECT_EQ(text_of(dir + "/abc"), "\x5f\xec\xeb\x66value");
  EXPECT_THAT(
      disk.get("abc"),
      IsOkAndHolds(std::optional<Bytes>(to_bytes(std::string_view("value")))));
  EXPECT_THAT(disk.get("missing"), IsOkAndHolds(std::nullopt));
  // No temporary file is left beside it.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.exists();
  EXPECT_EQ(files, 1u);
}

TEST(OnDiskCacheImpl, InsertKeepsACurrentEntryAndReplacesAStaleOne) {
  std::string dir = temp_dir();
  OnDiskCacheImpl disk = OnDiskCacheImpl::at(dir);
  EXPECT_THAT(disk.insert("k", as_bytes("one")), IsOkAndHolds(true));
  EXPECT_THAT(disk.insert("k", as_bytes("two")), IsOkAndHolds(false));
  EXPECT_EQ(text_of(dir + "/k"), "\x5f\xec\xeb\x66one");
  write_text(dir + "/k", "\x01\x02\x03\x04old");  // another version
  EXPECT_THAT(disk.insert("k", as_bytes("three")), IsOkAndHolds(true));
  EXPECT_EQ(text_of(dir + "/k"), "\x5f\xec\xeb\x66three");
}

TEST(OnDiskCacheImpl, GetRemovesStaleShortAndEmptyEntries) {
  std::string dir = temp_dir();
  OnDiskCacheImpl disk = OnDiskCacheImpl::at(dir);
  for (std::string_view content :
       {std::string_view("\x01\x02\x03\x04x"), std::string_view("\x5f\xec"),
        std::string_view("\x5f\xec\xeb\x66")}) {
    write_text(dir + "/k", content);
    EXPECT_THAT(disk.get("k"), IsOkAndHolds(std::nullopt));
    EXPECT_FALSE(fs::exists(dir + "/k"));
  }
}

TEST(OnDiskCacheImpl, KeyMustBeOneFileName) {
  OnDiskCacheImpl disk = OnDiskCacheImpl::at(temp_dir());
  for (std::string_view key : {"", ".", "..", "../x", "a/b"}) {
    EXPECT_THAT(disk.insert(key, as_bytes("v")),
                HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey))
        << key;
    EXPECT_THAT(disk.get(key), HasError(ErrorCode::kInvalidArgument,
                                        ErrorReason::kInvalidKey));
  }
}

TEST(OnDiskCacheImpl, ConcurrentInsertsHaveOneWinnerAndAWholeFile) {
  std::string dir = temp_dir();
  std::atomic<int> winners = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      OnDiskCacheImpl disk = OnDiskCacheImpl::at(dir);
      std::string value(100000, static_cast<char>('a' + t));
      Result<bool> r = disk.insert("k", as_bytes(value));
      if (r && *r) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  std::string got = text_of(dir + "/k");
  ASSERT_EQ(got.size(), 100004u);
  EXPECT_EQ(got.find_first_not_of(got[4], 4), std::string::npos);
}

// ---- keys and Memoizer --------------------------------------------------

TEST(MemoizerKey, IsSha256OfPickledArgsAndKwargs) {
  CallArgs call{{1, "a"}, {}};
  EXPECT_THAT(make_key(call),
              IsOkAndHolds(std::string("8fe025f9051b04c52d3a4bc533dcf76f")));
  call.kwargs.push_back({"k", pickle::bytes("x")});
  EXPECT_THAT(make_key(call),
              IsOkAndHolds(std::string("03d5666d4dfd38e71760fd6cb52bba3a")));
  // A custom encoder's output is what is hashed.
  ParamsEncoder enc = [](const CallArgs&) -> Result<Value> {
    return pickle::tuple({pickle::tuple({1, "a"}), pickle::dict({})});
  };
  EXPECT_THAT(make_key({{}, {}}, enc),
              IsOkAndHolds(std::string("8fe025f9051b04c52d3a4bc533dcf76f")));
}

struct Counted {
  int calls = 0;
  Function fn() {
    return [this](const CallArgs& call) -> Result<Value> {
      ++calls;
      return pickle::list({call.args.empty() ? Value() : call.args[0], calls});
    };
  }
};

TEST(Memoizer, RecordStoresEncodedParamsAndReplayReturnsIt) {
  Memoizer m(std::nullopt, enabled());
  Counted c;
  Function record = m.record(c.fn());
  Function replay = m.replay(c.fn());
  EXPECT_THAT(replay({{7}, {}}),
              HasError(ErrorCode::kNotFound, ErrorReason::kCacheMiss));
  ASSERT_THAT(record({{7}, {}}), IsOk());
  Result<Value> hit = replay({{7}, {}});
  ASSERT_THAT(hit, IsOk());
  EXPECT_TRUE(*hit == pickle::list({7, 1}));
  EXPECT_EQ(c.calls, 1);
  auto items = m.cache().items();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_TRUE(items[0].second.encoded_params ==
              pickle::dict({{"args", pickle::tuple({7})},
                            {"kwargs", pickle::dict({})}}));
  EXPECT_THAT(make_key({{7}, {}}), IsOkAndHolds(items[0].first));
  m.cache_clear();
  EXPECT_THAT(replay({{7}, {}}),
              HasError(ErrorCode::kNotFound, ErrorReason::kCacheMiss));
}

TEST(Memoizer, MemoizeRunsTheFunctionOncePerKeyWithEncodersApplied) {
  Memoizer m("sub", enabled());
  Counted c;
  ParamsEncoder by_first = [](const CallArgs& call) -> Result<Value> {
    return call.args.at(0);
  };
  ResultEncoder enc = [](const CallArgs&, const Value& r) -> Result<Value> {
    return pickle::dict({{"wrapped", r}});
  };
  ResultDecoder dec = [](const CallArgs&, const Value& e) -> Result<Value> {
    const pickle::Dict* d = e.as<pickle::Dict>();
    if (!d || d->items.empty()) {
      return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidContent,
                        "not wrapped");
    }
    return d->items[0].value;
  };
  Function f = m.memoize(c.fn(), by_first, enc, dec);
  Result<Value> first = f({{5, "ignored by the key"}, {}});
  Result<Value> second = f({{5, "different"}, {}});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(*first == *second);
  EXPECT_EQ(c.calls, 1);
  EXPECT_TRUE(m.cache().items()[0].second.encoded_result ==
              pickle::dict({{"wrapped", pickle::list({5, 1})}}));
  ASSERT_THAT(f({{6}, {}}), IsOk());
  EXPECT_EQ(c.calls, 2);
}

TEST(Memoizer, DisabledCachingModulePassesThroughAndAlwaysMisses) {
  Memoizer m(std::nullopt, RuntimeConfig{});
  Counted c;
  Function f = m.memoize(c.fn());
  ASSERT_THAT(f({{1}, {}}), IsOk());
  ASSERT_THAT(f({{1}, {}}), IsOk());
  EXPECT_EQ(c.calls, 2);
  EXPECT_EQ(m.cache().size(), 0u);
  EXPECT_THAT(m.replay(c.fn())({{1}, {}}),
              HasError(ErrorCode::kNotFound, ErrorReason::kCacheMiss));
}

TEST(Memoizer, ErrorsOfTheFunctionOrEncodersAreNotCached) {
  Memoizer m(std::nullopt, enabled());
  Function failing = [](const CallArgs&) -> Result<Value> {
    return make_error(ErrorCode::kUnavailable, ErrorReason::kUnspecified,
                      "down");
  };
  EXPECT_THAT(m.memoize(failing)({{1}, {}}),
              HasError(ErrorCode::kUnavailable, ErrorReason::kUnspecified));
  EXPECT_EQ(m.cache().size(), 0u);
  // A float-free but unpicklable key (a list as a dict key) is KeyEncoding.
  ParamsEncoder bad = [](const CallArgs&) -> Result<Value> {
    return pickle::dict({{pickle::list({}), 1}});
  };
  Counted c;
  EXPECT_THAT(m.record(c.fn(), bad)({{1}, {}}),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kKeyEncoding));
}

TEST(MemoizerDump, WritesTorchsShapeAndMergesWithOtherCollections) {
  std::string dir = temp_dir();
  std::string path = dir + "/memoizer_cache.json";
  write_text(path,
             "{\"collections\": {\"other\": {\"x\": {\"params\": 1.5, "
             "\"result\": null}}}, \"cache_size\": 1}");
  Memoizer m(std::nullopt, enabled());
  ASSERT_THAT(m.record([](const CallArgs&) -> Result<Value> {
    return pickle::list({1, 2});
  })({{1, "a"}, {}}),
              IsOk());
  ASSERT_THAT(m.dump_to(path, dir + "/memoizer_cache.lock"), IsOk());
  EXPECT_EQ(text_of(path),
            "{\n  \"collections\": {\n    \"other\": {\n      \"x\": {\n     "
            "   \"params\": 1.5,\n        \"result\": null\n      }\n    },\n "
            "   \"null\": {\n      \"8fe025f9051b04c52d3a4bc533dcf76f\": {\n  "
            "      \"params\": {\n          \"args\": [\n            1,\n     "
            "       \"a\"\n          ],\n          \"kwargs\": {}\n        },\n"
            "        \"result\": [\n          1,\n          2\n        ]\n    "
            "  }\n    }\n  },\n  \"cache_size\": 2\n}");
  // Read back by another memoizer: JSON turns tuples into lists.
  Memoizer other(std::nullopt, enabled());
  EXPECT_THAT(other.prepopulate_from_dump(path), IsOkAndHolds(size_t{1}));
  std::optional<CacheEntry> e =
      other.cache().get("8fe025f9051b04c52d3a4bc533dcf76f");
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->encoded_result == pickle::list({1, 2}));
  EXPECT_TRUE(e->encoded_params ==
              pickle::dict({{"args", pickle::list({1, "a"})},
                            {"kwargs", pickle::dict({})}}));
  // The float entry of "other" is skipped, not guessed.
  Memoizer floats("other", enabled());
  EXPECT_THAT(floats.prepopulate_from_dump(path), IsOkAndHolds(size_t{0}));
}

TEST(MemoizerDump, CorruptJsonIsAnEmptyDumpAndBytesAreRefused) {
  std::string dir = temp_dir();
  std::string path = dir + "/memoizer_cache.json";
  write_text(path, "{\"collections\": {");
  Memoizer m("k", enabled());
  EXPECT_THAT(m.prepopulate_from_dump(path), IsOkAndHolds(size_t{0}));
  m.cache().insert("a", CacheEntry{1, 2});
  ASSERT_THAT(m.dump_to(path, dir + "/lock"), IsOk());
  EXPECT_EQ(text_of(path),
            "{\n  \"collections\": {\n    \"k\": {\n      \"a\": {\n        "
            "\"params\": 1,\n        \"result\": 2\n      }\n    }\n  },\n  "
            "\"cache_size\": 1\n}");
  m.cache().insert("b", CacheEntry{1, pickle::bytes("raw")});
  std::string before = text_of(path);
  EXPECT_THAT(
      m.dump_to(path, dir + "/lock"),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kValueEncoding));
  EXPECT_EQ(text_of(path), before);
}

// ---- PersistentMemoizer -------------------------------------------------

TEST(PersistentMemoizer, RecordWritesTorchsFileAndAFreshInstanceReplaysIt) {
  std::string dir = temp_dir() + "/should_pad";
  Counted c;
  {
    PersistentMemoizer p("should_pad", OnDiskCacheImpl::at(dir), enabled());
    ASSERT_THAT(p.record([](const CallArgs&) -> Result<Value> {
      return pickle::list({1, 2});
    })({{1, "a"}, {}}),
                IsOk());
  }
  std::string file = dir + "/8fe025f9051b04c52d3a4bc533dcf76f";
  EXPECT_EQ(text_of(file),
            "\x5f\xec\xeb\x66" +
                std::string(as_chars(from_hex(kTorchCacheEntryHex))));
  EXPECT_TRUE(fs::exists(dir + "/dir.lock"));
  PersistentMemoizer fresh("should_pad", OnDiskCacheImpl::at(dir), enabled());
  Result<Value> hit = fresh.replay(c.fn())({{1, "a"}, {}});
  ASSERT_THAT(hit, IsOk());
  EXPECT_TRUE(*hit == pickle::list({1, 2}));
  EXPECT_EQ(c.calls, 0);
  EXPECT_EQ(fresh.memoizer().cache().size(), 1u);  // copied into memory
  EXPECT_EQ(fresh.memoizer().sub_key(),
            std::optional<std::string>("should_pad"));
  fresh.cache_clear();
  EXPECT_FALSE(fs::exists(dir));
}

TEST(PersistentMemoizer, CorruptOrStaleDiskEntries) {
  std::string dir = temp_dir();
  PersistentMemoizer p("", OnDiskCacheImpl::at(dir), enabled());
  EXPECT_EQ(p.memoizer().sub_key(), std::nullopt);
  std::string key = "8fe025f9051b04c52d3a4bc533dcf76f";
  write_text(dir + "/" + key, "\x5f\xec\xeb\x66not a pickle");
  Counted c;
  EXPECT_THAT(p.replay(c.fn())({{1, "a"}, {}}),
              HasError(ErrorCode::kDataLoss, ErrorReason::kValueDecoding));
  write_text(dir + "/" + key, "\x00\x00\x00\x00old");
  EXPECT_THAT(p.replay(c.fn())({{1, "a"}, {}}),
              HasError(ErrorCode::kNotFound, ErrorReason::kCacheMiss));
  EXPECT_FALSE(fs::exists(dir + "/" + key));
  // memoize records on the miss.
  ASSERT_THAT(p.memoize(c.fn())({{1, "a"}, {}}), IsOk());
  ASSERT_THAT(p.memoize(c.fn())({{1, "a"}, {}}), IsOk());
  EXPECT_EQ(c.calls, 1);
  EXPECT_TRUE(fs::exists(dir + "/" + key));
}

}  // namespace
}  // namespace cachepack::runtime
