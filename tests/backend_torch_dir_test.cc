// PyTorch cache-directory backend: files land exactly where PyTorch's
// populate_cache() writes them, a directory laid out by PyTorch exports
// back to (type, key, content), and keys cannot leave the root.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "artifacts/pytorch_hash.h"
#include "backends/torch_dir_backend.h"
#include "cachepack/artifact_types.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_builtin_backends.h"
#include "tests/backend_test_util.h"
#include "tests/testing/result_matchers.h"
#include "util/file.h"

namespace cachepack {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::SizeIs;

using testing::files_under;
using testing::HasError;
using testing::IsOk;
using testing::IsOkAndHolds;
using testing::make_temp_dir;

// Shaped like PyTorch's keys.
const std::string kFxKey = "f" + std::string(51, 'q');
const std::string kAotKey = "a" + std::string(51, 'b');
const std::string kTuneKey = "cx/" + std::string(64, 'e') + ".best_config";
const std::string kPrecompileKey = std::string(64, 'd');

std::unique_ptr<TorchDirBackend> open_dir(const std::string& root) {
  auto b = TorchDirBackend::open({.root = root});
  EXPECT_THAT(b, IsOk());
  return b ? std::move(*b) : nullptr;
}

std::string read_text(const std::string& path) {
  auto b = read_file(path);
  return b ? std::string(as_chars(*b)) : "<missing " + path + ">";
}

void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(PytorchSha256Hash, MatchesPythonsBase32OfSha256) {
  // base64.b32encode(hashlib.sha256(x).digest()).decode()[:51].lower()
  EXPECT_EQ(pytorch_sha256_hash(as_bytes("hello")),
            "ftze3os7wcrq4jxihmvmlopctynrmhs4d6tuexttaqzwfe4ltas");
  EXPECT_EQ(pytorch_sha256_hash(ByteSpan()),
            "4oymiquy7qobjgx36tejs35zeqt24qpemsnzgtfeswmrw6csxbk");
}

TEST(SanitizePgoKey, ReplacesWindowsReservedCharacters) {
  EXPECT_EQ(sanitize_pgo_key("job:0:<tag>|a/b\\c?d*e\"f"),
            "job_0__tag__a_b_c_d_e_f");
}

TEST(TorchDirBackend, PutWritesWherePopulateCacheWrites) {
  std::string root = make_temp_dir();
  auto dir = open_dir(root);
  struct Case {
    std::string_view type;
    std::string key;
    std::string content;
    std::string expected_path;
  };
  const Case cases[] = {
      {kInductor, kFxKey, "fx",
       "fxgraph/qq/" + kFxKey + "/" + pytorch_sha256_hash(as_bytes("fx"))},
      {kAotAutograd, kAotKey, "aot",
       "aotautograd/" + kAotKey + "/" + pytorch_sha256_hash(as_bytes("aot"))},
      {kAutotune, kTuneKey, "{\"XBLOCK\": 8}", kTuneKey},
      {kPgo, "job:None:tag", "pgo", "dynamo/code_state_job_None_tag.pkl"},
      {kPrecompile, kPrecompileKey, "pre",
       "dynamo/" + kPrecompileKey + "/entry"},
  };
  for (const auto& c : cases) {
    auto r = dir->put(c.type, c.key, as_bytes(c.content), PutMode::kOverwrite);
    ASSERT_THAT(r, IsOk()) << c.type;
    EXPECT_EQ(read_text(root + "/" + c.expected_path), c.content) << c.type;
    EXPECT_THAT(dir->artifact_path(c.type, c.key, as_bytes(c.content)),
                IsOkAndHolds(root + "/" + c.expected_path));
  }
  // Nothing else: no temp files, only PyTorch's own pgo lock file.
  std::vector<std::string> expected;
  for (const auto& c : cases) expected.push_back(c.expected_path);
  expected.push_back("dynamo/code_state_job_None_tag.pkl.lock");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(files_under(root), expected);
}

TEST(TorchDirBackend, ExportsADirectoryLaidOutByPyTorch) {
  std::string root = make_temp_dir();
  write_text(root + "/fxgraph/qq/" + kFxKey + "/somehash", "graph");
  write_text(root + "/aotautograd/" + kAotKey + "/otherhash", "aot");
  write_text(root + "/" + kTuneKey, "{}");
  write_text(root + "/cx/kernel.py", "# not an artifact");
  write_text(root + "/dynamo/code_state_job_0_tag.pkl", "pgo");
  write_text(root + "/dynamo/code_state_job_0_tag.pkl.lock", "");
  write_text(root + "/dynamo/" + kPrecompileKey + "/entry", "pre");
  write_text(root + "/triton/0/abc/kernel.cubin", "not ours");
  auto dir = open_dir(root);
  EXPECT_THAT(
      dir->namespaces(),
      IsOkAndHolds((std::vector<std::string>{
          "aot_autograd", "autotune", "inductor", "pgo", "precompile"})));
  EXPECT_THAT(dir->list(kInductor),
              IsOkAndHolds(std::vector<std::string>{kFxKey}));
  EXPECT_THAT(dir->list(kAutotune),
              IsOkAndHolds(std::vector<std::string>{kTuneKey}));
  EXPECT_THAT(dir->list(kPgo),
              IsOkAndHolds(std::vector<std::string>{"job_0_tag"}));
  EXPECT_THAT(dir->list(kPrecompile),
              IsOkAndHolds(std::vector<std::string>{kPrecompileKey}));
  EXPECT_THAT(dir->get(kInductor, kFxKey),
              IsOkAndHolds(Optional(to_bytes("graph"))));
  EXPECT_THAT(dir->get(kAotAutograd, kAotKey),
              IsOkAndHolds(Optional(to_bytes("aot"))));
  EXPECT_THAT(dir->get(kAutotune, kTuneKey),
              IsOkAndHolds(Optional(to_bytes("{}"))));
  EXPECT_THAT(dir->get(kPgo, "job_0_tag"),
              IsOkAndHolds(Optional(to_bytes("pgo"))));
  EXPECT_THAT(dir->get(kPgo, "job:0:tag"),
              IsOkAndHolds(Optional(to_bytes("pgo"))));  // Same file.
  EXPECT_THAT(dir->get(kPrecompile, kPrecompileKey),
              IsOkAndHolds(Optional(to_bytes("pre"))));
}

TEST(TorchDirBackend, GetReturnsTheNewestOfSeveralEntriesUnderOneKey) {
  std::string root = make_temp_dir();
  std::string key_dir = root + "/fxgraph/qq/" + kFxKey;
  write_text(key_dir + "/old", "old");
  write_text(key_dir + "/new", "new");
  struct timespec past[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (key_dir + "/old").c_str(), past, 0), 0);
  auto dir = open_dir(root);
  EXPECT_THAT(dir->get(kInductor, kFxKey),
              IsOkAndHolds(Optional(to_bytes("new"))));
  EXPECT_THAT(dir->list(kInductor), IsOkAndHolds(SizeIs(1u)));
}

TEST(TorchDirBackend, AddKeepsEveryContentUnderAKeyAsPyTorchDoes) {
  std::string root = make_temp_dir();
  auto dir = open_dir(root);
  EXPECT_TRUE(dir->multi_valued(kInductor));
  EXPECT_FALSE(dir->multi_valued(kAutotune));
  Deadline never = Deadline::never();
  auto v1 = as_bytes("graph one"), v2 = as_bytes("graph two");
  EXPECT_THAT(dir->add(kInductor, kFxKey, v1, PutMode::kInsertIfAbsent, never),
              IsOkAndHolds(true));
  EXPECT_THAT(dir->add(kInductor, kFxKey, v2, PutMode::kInsertIfAbsent, never),
              IsOkAndHolds(true));
  EXPECT_THAT(dir->add(kInductor, kFxKey, v1, PutMode::kInsertIfAbsent, never),
              IsOkAndHolds(false));
  EXPECT_THAT(dir->add(kInductor, kFxKey, v1, PutMode::kOverwrite, never),
              IsOkAndHolds(true));
  auto all = dir->get_all(kInductor, kFxKey, never);
  ASSERT_THAT(all, IsOk());
  std::set<Bytes> got(all->begin(), all->end());
  EXPECT_EQ(got, (std::set<Bytes>{Bytes(v1.begin(), v1.end()),
                                  Bytes(v2.begin(), v2.end())}));
  EXPECT_EQ(files_under(root).size(), 2u);
  // A plain overwrite makes the key single-valued again.
  ASSERT_TRUE(dir->put(kInductor, kFxKey, v2, PutMode::kOverwrite));
  EXPECT_THAT(dir->get_all(kInductor, kFxKey, never), IsOkAndHolds(SizeIs(1u)));
}

TEST(TorchDirBackend, KeysThatWouldLeaveTheRootAreInvalid) {
  std::string parent = make_temp_dir();
  std::string root = parent + "/cache";
  auto dir = open_dir(root);
  const std::pair<std::string_view, std::string> bad[] = {
      {kInductor, "f../../../x"},
      {kInductor, ".."},
      {kAotAutograd, "../escape"},
      {kAotAutograd, std::string("a\0b", 3)},
      {kPrecompile, "/etc"},
      {kPrecompile, std::string(300, 'p')},
      {kAutotune, "../x.best_config"},
      {kAutotune, "/abs.best_config"},
      {kAutotune, "cx/../../x.best_config"},
      {kAutotune, "fxgraph/x.best_config"},
      {kAutotune, "cx/not_a_config"},
      {kPgo, std::string("nul\0key", 7)},
  };
  for (const auto& [type, key] : bad) {
    auto r = dir->put(type, key, as_bytes("x"), PutMode::kOverwrite);
    ASSERT_FALSE(r) << type << " " << key;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(r.error().reason(), ErrorReason::kInvalidKey) << key;
    EXPECT_FALSE(dir->get(type, key)) << key;
  }
  // PGO keys are sanitised, never traversed: "../x" is a plain file name.
  ASSERT_TRUE(dir->put(kPgo, "../x", as_bytes("p"), PutMode::kOverwrite));
  EXPECT_TRUE(std::filesystem::exists(root + "/dynamo/code_state_.._x.pkl"));
  std::vector<std::string> top;
  for (const auto& e : std::filesystem::directory_iterator(parent)) {
    top.push_back(e.path().filename().string());
  }
  EXPECT_EQ(top, std::vector<std::string>{"cache"});
}

TEST(TorchDirBackend, LongestPgoKeyFitsInAFileName) {
  auto dir = open_dir(make_temp_dir());
  // "code_state_" + key + ".pkl.lock" (PyTorch's lock file) = 255 bytes.
  std::string key(255 - 20, 'k');
  auto r = dir->put(kPgo, key, as_bytes("x"), PutMode::kOverwrite);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(dir->get(kPgo, key), IsOkAndHolds(Optional(to_bytes("x"))));
  auto too_long = dir->put(kPgo, key + "k", as_bytes("x"), PutMode::kOverwrite);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().reason(), ErrorReason::kInvalidKey);
}

TEST(TorchDirBackend, TypesWithoutADirectoryAreUnimplemented) {
  auto dir = open_dir(make_temp_dir());
  auto r = dir->put("my_type", "k", as_bytes("x"), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnimplemented);
  EXPECT_FALSE(dir->list("my_type"));
}

TEST(TorchDirBackend, ListingATypeWithoutADirectoryNamesNoKey) {
  auto dir = open_dir(make_temp_dir());
  auto r = dir->list("my_type");
  ASSERT_THAT(r,
              HasError(ErrorCode::kUnimplemented, ErrorReason::kUnknownType));
  EXPECT_EQ(r.error().where().key, std::nullopt);
  EXPECT_EQ(r.error().message(), "no PyTorch layout known for type my_type");
  EXPECT_THAT(dir->list(""),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey));
}

TEST(TorchDirBackend, LockedKeyDirectoryTimesOutWithDeadlineExceeded) {
  std::string root = make_temp_dir();
  auto opened = TorchDirBackend::open(
      {.root = root, .lock_timeout = std::chrono::milliseconds(100)});
  ASSERT_TRUE(opened);
  auto& dir = *opened;
  std::string key_dir = root + "/aotautograd/" + kAotKey;
  std::filesystem::create_directories(key_dir);
  int fd = ::open(key_dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // Another writer of this key.
  auto r = dir->put(kAotAutograd, kAotKey, as_bytes("x"), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(r.error().message().find(key_dir), std::string::npos);
  EXPECT_TRUE(files_under(root).empty());  // Temp file removed.
  ::close(fd);
  EXPECT_TRUE(
      dir->put(kAotAutograd, kAotKey, as_bytes("x"), PutMode::kOverwrite));
}

TEST(TorchDirBackend, RemoveDeletesTheKeyDirectory) {
  std::string root = make_temp_dir();
  auto dir = open_dir(root);
  ASSERT_TRUE(dir->put(kInductor, kFxKey, as_bytes("x"), PutMode::kOverwrite));
  ASSERT_THAT(dir->remove(kInductor, kFxKey), IsOkAndHolds(true));
  EXPECT_FALSE(std::filesystem::exists(root + "/fxgraph/qq"));
}

TEST(TorchDirBackend, OpensFromTorchUrl) {
  BackendRegistry registry;
  ASSERT_TRUE(register_builtin_backends(registry));
  std::string root = make_temp_dir();
  auto b = registry.open("torch://" + root);
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ((*b)->url(), "torch://" + root);
  auto bad = registry.open("torch://host/x");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("torch:///absolute/cache/dir"),
            std::string::npos);
}

// file:// and torch:// share one fsync parser and one root check.
TEST(TorchDirBackend, TakesFsyncAndRootsAsFileUrlsDo) {
  BackendRegistry registry;
  ASSERT_TRUE(register_builtin_backends(registry));
  std::string root = make_temp_dir();
  for (std::string scheme : {"file", "torch"}) {
    auto b = registry.open(scheme + "://" + root + "/?fsync=yes");
    ASSERT_THAT(b, IsOk());
    EXPECT_EQ((*b)->url(), scheme + "://" + root + "?fsync=1");
    auto bad = registry.open(scheme + "://" + root + "?fsync=maybe");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(bad.error().message(), HasSubstr("fsync must be 0 or 1"));
  }
  auto relative = TorchDirBackend::open({.root = "relative/dir"});
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(relative.error().message(),
            "PyTorch cache directory must be an absolute path");
}

}  // namespace
}  // namespace cachepack
