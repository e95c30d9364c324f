// The typed caches of cachepack/runtime_cache.h, as torch/_inductor/cache.py
// behaves. The files are compared with real torch 2.13 in
// tests/torch/test_runtime_cache.py.
#include "cachepack/runtime_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "tests/testing/result_matchers.h"
#include "tests/testing/temp_dir.h"
#include "util/file.h"

namespace cachepack::runtime {
namespace {

using testing::HasError;
using testing::IsOk;
namespace fs = std::filesystem;

std::string temp_dir() { return testing::make_temp_dir("rtcache"); }

Bytes file_bytes(const std::string& path) {
  Result<Bytes> b = read_file(path);
  return b ? *b : Bytes{};
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

void write_bytes(const std::string& path, const Bytes& b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

TEST(InMemoryCache, InsertNeverOverwrites) {
  InMemoryCache cache;
  EXPECT_THAT(cache.get("k"), testing::IsOkAndHolds(std::nullopt));
  EXPECT_THAT(cache.insert("k", 1), testing::IsOkAndHolds(true));
  EXPECT_THAT(cache.insert("k", 2), testing::IsOkAndHolds(false));
  Result<std::optional<Value>> got = cache.get("k");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(**got == Value(1));
}

TEST(InMemoryCache, KeysCompareAsPythonDoes) {
  InMemoryCache cache;
  ASSERT_THAT(cache.insert(1, "one"), IsOk());
  EXPECT_THAT(cache.insert(true, "true"), testing::IsOkAndHolds(false));
  EXPECT_THAT(cache.insert(pickle::tuple({1, "a"}), "t"),
              testing::IsOkAndHolds(true));
  Result<std::optional<Value>> got = cache.get(pickle::tuple({true, "a"}));
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
}

TEST(InMemoryCache, RefusesKeysAndValuesOfOtherKinds) {
  InMemoryCache cache;
  EXPECT_THAT(cache.insert(pickle::list({1}), 1),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey));
  EXPECT_THAT(
      cache.insert("k", pickle::None{}),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidContent));
}

TEST(InMemoryCache, FromEnvTextReadsPicklesAsBytesLiterals) {
  // repr(pickle.dumps('k')), repr(pickle.dumps([1, 2])), spaces and an
  // empty segment included.
  std::string text =
      R"( b'\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x01k\x94.' , )"
      R"(b'\x80\x04\x95\t\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02e.' ;; )";
  Result<std::unique_ptr<InMemoryCache>> cache =
      InMemoryCache::from_env_text("V", text);
  ASSERT_THAT(cache, IsOk());
  EXPECT_EQ((*cache)->size(), 1u);
  Result<std::optional<Value>> got = (*cache)->get("k");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(pickle::repr(**got), "[1, 2]");
  // The same pair twice is fine.
  EXPECT_THAT(InMemoryCache::from_env_text("V", text + ";" + text), IsOk());
  EXPECT_THAT(InMemoryCache::from_env_text("V", std::nullopt), IsOk());
  EXPECT_THAT(InMemoryCache::from_env_text("V", ""), IsOk());
}

TEST(InMemoryCache, FromEnvTextErrorsAreTorchsCacheErrors) {
  std::string k =
      R"(b'\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x01k\x94.')";
  std::string v1 = R"(b'\x80\x04K\x01.')";
  std::string v2 = R"(b'\x80\x04K\x02.')";
  EXPECT_THAT(InMemoryCache::from_env_text("V", k),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kInvalidContent));  // No comma.
  EXPECT_THAT(InMemoryCache::from_env_text("V", "'k'," + v1),
              HasError(ErrorCode::kInvalidArgument,
                       ErrorReason::kInvalidContent));  // Not bytes.
  EXPECT_THAT(InMemoryCache::from_env_text("V", k + ",b'garbage'"),
              HasError(ErrorCode::kDataLoss));  // Not a pickle.
  EXPECT_THAT(
      InMemoryCache::from_env_text("V", k + "," + v1 + ";" + k + "," + v2),
      HasError(ErrorCode::kAlreadyExists, ErrorReason::kInvalidContent));
}

TEST(InMemoryCache, FromFilePathReadsAPickledDict) {
  std::string dir = temp_dir();
  // pickle.dumps({'a': 1, 2: (b'x',)})
  write_bytes(dir + "/d.pkl",
              from_hex("80049513000000000000007d94288c0161944b014b02430178"
                       "948594752e"));
  Result<std::unique_ptr<InMemoryCache>> cache =
      InMemoryCache::from_file_path(dir + "/d.pkl");
  ASSERT_THAT(cache, IsOk());
  EXPECT_EQ((*cache)->size(), 2u);
  Result<std::unique_ptr<InMemoryCache>> none =
      InMemoryCache::from_file_path(dir + "/missing.pkl");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ((*none)->size(), 0u);
  write_bytes(dir + "/l.pkl", *pickle::dumps(pickle::list({1})));
  EXPECT_THAT(InMemoryCache::from_file_path(dir + "/l.pkl"),
              HasError(ErrorCode::kDataLoss, ErrorReason::kInvalidContent));
  write_bytes(dir + "/g.pkl", to_bytes("garbage"));
  EXPECT_THAT(InMemoryCache::from_file_path(dir + "/g.pkl"),
              HasError(ErrorCode::kDataLoss));
  fs::remove_all(dir);
}

TEST(BytesLiteral, ReadsWhatLiteralEvalReads) {
  EXPECT_EQ(as_chars(*parse_bytes_literal(R"(b'a\'\\\x41\101\n')")),
            "a'\\AA\n");
  EXPECT_EQ(as_chars(*parse_bytes_literal(R"(B"x" b'y')")), "xy");
  EXPECT_EQ(as_chars(*parse_bytes_literal(R"(rb'\x41')")), "\\x41");
  EXPECT_EQ(as_chars(*parse_bytes_literal(R"(b'''a'b''')")), "a'b");
  for (const char* bad :
       {"'a'", "b'a", "b'\\x4'", "b'\xc3\xa9'", "u'a'", "", "b'a' 1"}) {
    EXPECT_THAT(
        parse_bytes_literal(bad),
        HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidContent))
        << bad;
  }
}

TEST(OnDiskCache, VersionHeaderIsTorchs) {
  EXPECT_EQ(to_hex(version_header()), "5feceb66");
}

TEST(OnDiskCache, FileNameIsTheHashOfThePickledKey) {
  auto cache = OnDiskCache::at("/base");
  // hashlib.sha256(pickle.dumps(k)).hexdigest()[:32] in Python 3.11.
  EXPECT_THAT(cache->path_for("k"),
              testing::IsOkAndHolds("/base/c9a7059d1eaf1bfa9ae0ccb7d23476cb"));
  EXPECT_THAT(cache->path_for(pickle::tuple({"fn", 1})),
              testing::IsOkAndHolds("/base/c6ba96f27b0d9e553d4e4bcff14559c2"));
  EXPECT_THAT(cache->path_for(7),
              testing::IsOkAndHolds("/base/4ee5d22e9e44ec6480a2fc727c72c788"));
}

TEST(OnDiskCache, WritesHeaderAndPickleUnderTheKeysLockFile) {
  std::string dir = temp_dir();
  auto cache = OnDiskCache::at(dir + "/c");
  EXPECT_THAT(cache->get("k"), testing::IsOkAndHolds(std::nullopt));
  EXPECT_THAT(cache->insert("k", pickle::bytes("v")),
              testing::IsOkAndHolds(true));
  EXPECT_THAT(cache->insert("k", pickle::bytes("w")),
              testing::IsOkAndHolds(false));
  std::string file = dir + "/c/c9a7059d1eaf1bfa9ae0ccb7d23476cb";
  EXPECT_EQ(to_hex(file_bytes(file)),
            "5feceb66"
            "8004950500000000000000430176942e");
  EXPECT_TRUE(fs::exists(dir + "/c/locks/c9a7.lock"));
  Result<std::optional<Value>> got = cache->get("k");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(**got == pickle::bytes("v"));
  fs::remove_all(dir);
}

TEST(OnDiskCache, GetRemovesAStaleEntryInsertKeepsIt) {
  std::string dir = temp_dir();
  auto cache = OnDiskCache::at(dir);
  std::string file = *cache->path_for("k");
  write_bytes(file, to_bytes("\x01\x02\x03\x04stale"));
  // insert() leaves any existing file alone, as torch's does.
  EXPECT_THAT(cache->insert("k", 1), testing::IsOkAndHolds(false));
  EXPECT_THAT(cache->get("k"), testing::IsOkAndHolds(std::nullopt));
  EXPECT_FALSE(fs::exists(file));
  EXPECT_THAT(cache->insert("k", 1), testing::IsOkAndHolds(true));
  // Shorter than the header: stale too.
  write_bytes(file, to_bytes("\x5f"));
  EXPECT_THAT(cache->get("k"), testing::IsOkAndHolds(std::nullopt));
  fs::remove_all(dir);
}

TEST(OnDiskCache, CorruptValueIsDataLossNamingTheFile) {
  std::string dir = temp_dir();
  auto cache = OnDiskCache::at(dir);
  std::string file = *cache->path_for("k");
  Bytes content = version_header();
  append_bytes(content, as_bytes("\x80\x04\x95"));
  write_bytes(file, content);
  Result<std::optional<Value>> got = cache->get("k");
  ASSERT_THAT(got, HasError(ErrorCode::kDataLoss));
  EXPECT_EQ(got.error().where().file, file);
  // An empty payload (torch: EOFError).
  write_bytes(file, version_header());
  EXPECT_THAT(cache->get("k"), HasError(ErrorCode::kDataLoss));
  fs::remove_all(dir);
}

TEST(OnDiskCache, UnpicklableValueCreatesNoFile) {
  std::string dir = temp_dir();
  auto cache = OnDiskCache::at(dir);
  EXPECT_THAT(cache->insert("k", std::string("\xff")),
              HasError(ErrorCode::kInvalidArgument));
  EXPECT_FALSE(fs::exists(*cache->path_for("k")));
  EXPECT_THAT(cache->insert(pickle::list({}), 1),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey));
  fs::remove_all(dir);
}

TEST(OnDiskCache, DefaultDirectoriesAreTorchs) {
  EXPECT_EQ(OnDiskCache().base_dir(),
            python_gettempdir() + "/cache/on_disk_cache");
  EXPECT_EQ(OnDiskCache("x").base_dir(), python_gettempdir() + "/cache/x");
  EXPECT_EQ(OnDiskCache::inductor()->base_dir(),
            torch_default_cache_dir() + "/cache/inductor_on_disk_cache");
  EXPECT_NE(torch_default_cache_dir().find("/torchinductor_"),
            std::string::npos);
}

TEST(OnDiskCache, ConcurrentInsertsOfOneKeyHaveOneWinner) {
  std::string dir = temp_dir();
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto cache = OnDiskCache::at(dir);
      Result<bool> r = cache->insert("k", i);
      if (r && *r) ++winners;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  fs::remove_all(dir);
}

TEST(AsyncCache, FuturesCarryTheCachesResults) {
  std::string dir = temp_dir();
  AsyncCache cache(std::shared_ptr<Cache>(OnDiskCache::at(dir)), 2);
  std::vector<std::future<Result<bool>>> inserts;
  for (int i = 0; i < 20; ++i) {
    inserts.push_back(cache.insert_async(pickle::tuple({"k", i}), i));
  }
  for (auto& f : inserts) EXPECT_THAT(f.get(), testing::IsOkAndHolds(true));
  for (int i = 0; i < 20; ++i) {
    Result<std::optional<Value>> got =
        cache.get_async(pickle::tuple({"k", i})).get();
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(**got == Value(i));
  }
  EXPECT_THAT(cache.get_async(pickle::list({})).get(),
              HasError(ErrorCode::kInvalidArgument));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cachepack::runtime
