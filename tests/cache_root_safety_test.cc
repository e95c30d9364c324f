// A cache root is a directory that someone else may have prepared (PyTorch's
// default root is /tmp/torchinductor_$USER, creatable by any local user).
// Nothing below it is followed through a link or opened as a special file:
// writes refuse, reads and walks skip and report, and nothing outside the
// root is written, read or deleted. Crashed writers' temp files are removed
// by the next writer once their owner provably exited, never by readers.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backends/disk_backend.h"
#include "backends/local_fs.h"
#include "backends/torch_dir_backend.h"
#include "cachepack/artifact_types.h"
#include "tests/backend_test_util.h"
#include "tests/testing/result_matchers.h"
#include "util/file.h"

namespace cachepack {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

namespace fs = std::filesystem;
using testing::files_under;
using testing::IsOk;
using testing::IsOkAndHolds;
using testing::make_temp_dir;

const std::string kFxKey = "f" + std::string(51, 'q');
const std::string kAotKey = "a" + std::string(51, 'b');

// A directory outside every cache root, holding one file to be protected.
struct Outside {
  std::string dir = make_temp_dir();
  std::string secret = dir + "/secret";
  Outside() { std::ofstream(secret) << "not yours"; }
  // Everything under it, so a test can tell that nothing was added,
  // changed or removed.
  std::vector<std::string> files() const { return files_under(dir); }
  std::string secret_text() const {
    std::ifstream in(secret);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

void link(const std::string& target, const std::string& at) {
  fs::create_directories(fs::path(at).parent_path());
  fs::create_symlink(target, at);
}

std::unique_ptr<TorchDirBackend> open_torch(const std::string& root) {
  auto b = TorchDirBackend::open({.root = root});
  EXPECT_THAT(b, IsOk());
  return b ? std::move(*b) : nullptr;
}

std::unique_ptr<DiskBackend> open_disk(const std::string& root,
                                       DiskOptions options = {}) {
  options.root = root;
  auto b = DiskBackend::open(options);
  EXPECT_THAT(b, IsOk());
  return b ? std::move(*b) : nullptr;
}

void expect_unsafe(const Result<bool>& r, const std::string& link_path) {
  ASSERT_FALSE(r) << "write through " << link_path << " succeeded";
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(r.error().reason(), ErrorReason::kUnsafePath);
  EXPECT_EQ(r.error().where().file, link_path) << r.error().to_string();
}

// A pid that certainly names no process: a child that has been reaped.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string temp_name(std::string_view prefix, pid_t pid) {
  return std::string(prefix) + ".cpk~" + std::to_string(pid) + "~" +
         hostname() + "~42.tmp";
}

TEST(CacheRootDir, RootItselfMayBeASymlink) {
  std::string real = make_temp_dir();
  std::string alias = make_temp_dir() + "/alias";
  fs::create_symlink(real, alias);
  auto torch = open_torch(alias);
  ASSERT_TRUE(
      torch->put(kAotAutograd, kAotKey, as_bytes("v"), PutMode::kOverwrite));
  EXPECT_EQ(files_under(real).size(), 1u);
}

TEST(CacheRootDir, FindDirRefusesEveryLinkedComponent) {
  Outside outside;
  std::string root = make_temp_dir();
  fs::create_directories(root + "/a");
  link(outside.dir, root + "/a/b");
  auto dir = local_fs::Dir::open_root(root, false);
  ASSERT_TRUE(dir);
  auto found = dir->find_dir("a/b");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().reason(), ErrorReason::kUnsafePath);
  EXPECT_EQ(found.error().where().file, root + "/a/b");
  auto made = dir->make_dir("a/b/c");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().reason(), ErrorReason::kUnsafePath);
  auto dotdot = dir->find_dir("a/../a");
  ASSERT_FALSE(dotdot);
  EXPECT_EQ(dotdot.error().reason(), ErrorReason::kInvalidKey);
  EXPECT_EQ(outside.files(), std::vector<std::string>{"secret"});
}

TEST(CacheRootDir, ReadFileNeverOpensAFifo) {
  std::string root = make_temp_dir();
  ASSERT_EQ(::mkfifo((root + "/pipe").c_str(), 0644), 0);
  auto dir = local_fs::Dir::open_root(root, false);
  ASSERT_TRUE(dir);
  auto r = dir->read_file("pipe");  // Would block forever if opened.
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), ErrorReason::kUnsafePath);
  EXPECT_NE(r.error().message().find("FIFO"), std::string::npos);
}

// Finding 2: populate wrote every type into symlink targets.
TEST(TorchDirSafety, PutRefusesEveryLinkedTypeDirectory) {
  struct Case {
    std::string_view type;
    std::string key;
    std::string linked;  // Relative to the root.
  };
  const Case cases[] = {
      {kInductor, kFxKey, "fxgraph/qq"},
      {kInductor, kFxKey, "fxgraph"},
      {kAotAutograd, kAotKey, "aotautograd"},
      {kAotAutograd, kAotKey, "aotautograd/" + kAotKey},
      {kPgo, "job:0:tag", "dynamo"},
      {kPrecompile, std::string(64, 'd'), "dynamo"},
      {kAutotune, "cx/" + std::string(64, 'e') + ".best_config", "cx"},
  };
  for (const auto& c : cases) {
    Outside outside;
    std::string root = make_temp_dir();
    link(outside.dir, root + "/" + c.linked);
    auto torch = open_torch(root);
    auto r =
        torch->put(c.type, c.key, as_bytes("payload"), PutMode::kOverwrite);
    expect_unsafe(r, root + "/" + c.linked);
    EXPECT_EQ(r.error().where().key, c.key);
    EXPECT_EQ(outside.files(), std::vector<std::string>{"secret"})
        << c.type << " wrote through " << c.linked;
  }
}

TEST(TorchDirSafety, PgoLockFileLinkIsRefusedAndNothingIsCreatedOutside) {
  Outside outside;
  std::string root = make_temp_dir();
  std::string lock = root + "/dynamo/code_state_job_0_tag.pkl.lock";
  link(outside.dir + "/created-by-lock", lock);
  auto torch = open_torch(root);
  auto r = torch->put(kPgo, "job:0:tag", as_bytes("p"), PutMode::kOverwrite);
  expect_unsafe(r, lock);
  EXPECT_EQ(outside.files(), std::vector<std::string>{"secret"});
}

TEST(TorchDirSafety, LinkedEntryFileIsReplacedNeverWrittenThrough) {
  Outside outside;
  std::string root = make_temp_dir();
  std::string entry = root + "/dynamo/" + std::string(64, 'd') + "/entry";
  link(outside.secret, entry);
  auto torch = open_torch(root);
  // Insert-if-absent sees a link, not an entry: refused.
  expect_unsafe(torch->put(kPrecompile, std::string(64, 'd'), as_bytes("new"),
                           PutMode::kInsertIfAbsent),
                entry);
  EXPECT_EQ(outside.secret_text(), "not yours");
}

// Finding 3: pack read /etc/passwd through links in the root.
TEST(TorchDirSafety, ExportSkipsLinksToFilesAndDirectoriesAndSaysSo) {
  Outside outside;
  std::string root = make_temp_dir();
  auto torch = open_torch(root);
  ASSERT_TRUE(
      torch->put(kAotAutograd, kAotKey, as_bytes("real"), PutMode::kOverwrite));
  link(outside.secret,
       root + "/fxgraph/qq/" + kFxKey + "/" + std::string(51, 'z'));
  link(outside.secret, root + "/dynamo/code_state_job.pkl");
  link(outside.dir, root + "/aotautograd/a" + std::string(51, 'x'));
  link(outside.dir, root + "/cx");  // An autotune kernel directory.
  link(outside.secret, root + "/dynamo/" + std::string(64, 'e') + "/entry");
  for (std::string_view ns :
       {kInductor, kAotAutograd, kAutotune, kPgo, kPrecompile}) {
    auto keys = torch->list(ns);
    ASSERT_THAT(keys, IsOk());
    for (const auto& k : *keys) {
      auto v = torch->get(ns, k);
      ASSERT_THAT(v, IsOk());
      ASSERT_TRUE(*v);
      EXPECT_NE(std::string(as_chars(**v)), "not yours") << ns << " " << k;
    }
  }
  EXPECT_THAT(torch->list(kAotAutograd),
              IsOkAndHolds(std::vector<std::string>{kAotKey}));
  EXPECT_THAT(torch->list(kInductor), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(torch->list(kPgo), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(torch->list(kPrecompile), IsOkAndHolds(IsEmpty()));
  // Reached directly by key, a linked entry is a miss, not the secret.
  EXPECT_THAT(torch->get(kPgo, "job"), IsOkAndHolds(std::nullopt));
  auto notices = torch->notices();
  EXPECT_GE(notices.size(), 4u);
  for (const auto& n : notices) {
    EXPECT_NE(n.find("symbolic link"), std::string::npos) << n;
  }
}

// Finding 9: a FIFO made export hang; a directory made it fail.
TEST(TorchDirSafety, FifoAndDirectoryAmongEntriesAreSkipped) {
  std::string root = make_temp_dir();
  auto torch = open_torch(root);
  ASSERT_TRUE(
      torch->put(kPgo, "job:0:tag", as_bytes("k"), PutMode::kOverwrite));
  std::string dir = root + "/dynamo/";
  // A FIFO named like a PGO file, and one where a precompile entry belongs.
  ASSERT_EQ(::mkfifo((dir + "code_state_fifo.pkl").c_str(), 0644), 0);
  fs::create_directories(dir + std::string(64, 'f'));
  ASSERT_EQ(::mkfifo((dir + std::string(64, 'f') + "/entry").c_str(), 0644), 0);
  // A directory where an FX-graph entry file belongs.
  fs::create_directories(root + "/fxgraph/qq/" + kFxKey + "/" +
                         std::string(51, 'd'));
  ASSERT_EQ(::mkfifo((root + "/fxgraph-fifo").c_str(), 0644), 0);
  auto keys = torch->list(kPgo);
  ASSERT_THAT(keys, IsOk());
  EXPECT_EQ(*keys, std::vector<std::string>{"job_0_tag"});
  auto fifo = torch->get(kPgo, "fifo");
  ASSERT_TRUE(fifo);
  EXPECT_FALSE(*fifo);
  auto precompiled = torch->list(kPrecompile);
  ASSERT_TRUE(precompiled);
  EXPECT_TRUE(precompiled->empty());
  auto graphs = torch->list(kInductor);
  ASSERT_TRUE(graphs);
  EXPECT_TRUE(graphs->empty());
  EXPECT_TRUE(torch->namespaces());
  EXPECT_GE(torch->notices().size(), 3u);
}

// Finding 4: "f..abc" was written to ROOT/f..abc/<hash>, outside fxgraph/.
TEST(TorchDirSafety, InductorKeyWhoseShardIsDotDotIsInvalid) {
  std::string parent = make_temp_dir();
  auto torch = open_torch(parent + "/cache");
  auto r = torch->put(kInductor, "f..abc", as_bytes("x"), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), ErrorReason::kInvalidKey);
  EXPECT_EQ(r.error().where().key, "f..abc");
  EXPECT_TRUE(files_under(parent).empty());
}

// Types newer PyTorch keeps in memory, and types nobody registered, have
// no place in the directory: put says so, and populate skips them.
TEST(TorchDirLayout, InProcessAndUnknownTypesHaveNoPlace) {
  std::string root = make_temp_dir();
  auto torch = open_torch(root);
  for (std::string_view type :
       {kInductorTriton, kTritonRuntime, kInductorCpp}) {
    auto r = torch->put(type, std::string(64, 'e'), as_bytes("x"),
                        PutMode::kOverwrite);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kUnimplemented);
    EXPECT_NE(r.error().message().find("in memory"), std::string::npos)
        << r.error().message();
  }
  auto r =
      torch->put("from_the_future", "k", as_bytes("x"), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "no PyTorch layout known for type from_the_future");
  EXPECT_TRUE(files_under(root).empty());
}

// Every key the backend accepts lists back as itself (PGO: its file-name
// form, which maps to the same file).
TEST(TorchDirSafety, EveryStoredKeyListsBack) {
  std::string root = make_temp_dir();
  auto torch = open_torch(root);
  const std::pair<std::string_view, std::string> stored[] = {
      {kInductor, "f.x" + std::string(10, 'y')},
      {kInductor, "f" + std::string(51, 'q')},
      {kAotAutograd, ".hidden"},
      {kPrecompile, "code_state_x.pkl"},
      {kAutotune, ".d/x.best_config"},
      {kPgo, "mast:job:1:0:tag"},
  };
  for (const auto& [type, key] : stored) {
    auto r = torch->put(type, key, as_bytes("v"), PutMode::kOverwrite);
    ASSERT_THAT(r, IsOk());
    auto keys = torch->list(type);
    ASSERT_TRUE(keys);
    std::string expect = type == kPgo ? sanitize_pgo_key(key) : key;
    EXPECT_NE(std::find(keys->begin(), keys->end(), expect), keys->end())
        << type << " " << key;
    EXPECT_THAT(torch->get(type, expect), IsOkAndHolds(Optional(_)))
        << type << " " << expect;
  }
}

// Finding 10: crashed writers' temp files stayed in key directories.
TEST(TorchDirSafety, NextWriterRemovesTempFilesOfExitedWritersOnly) {
  std::string root = make_temp_dir();
  std::string key_dir = root + "/aotautograd/" + kAotKey;
  fs::create_directories(key_dir);
  std::string dead = key_dir + "/" + temp_name(".entry", dead_pid());
  std::string live = key_dir + "/" + temp_name(".entry", ::getppid());
  std::ofstream(dead) << "partial";
  std::ofstream(live) << "in progress";
  auto torch = open_torch(root);
  ASSERT_TRUE(torch->list(kAotAutograd));  // Readers remove nothing.
  EXPECT_TRUE(fs::exists(dead));
  ASSERT_TRUE(
      torch->put(kAotAutograd, kAotKey, as_bytes("v"), PutMode::kOverwrite));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
}

// Finding 1: gc deleted the files of a linked objects/ directory.
TEST(DiskSafety, LinkedObjectsDirectoryIsRefusedAtOpen) {
  Outside outside;
  std::string root = make_temp_dir();
  link(outside.dir, root + "/objects");
  auto disk = DiskBackend::open({.root = root});
  ASSERT_FALSE(disk);
  EXPECT_EQ(disk.error().reason(), ErrorReason::kUnsafePath);
  EXPECT_EQ(disk.error().where().file, root + "/objects");
  EXPECT_EQ(outside.files(), std::vector<std::string>{"secret"});
}

TEST(DiskSafety, GcAndStatsSkipLinkedDirectoriesBelowObjects) {
  Outside outside;
  std::string root = make_temp_dir();
  auto disk = open_disk(root);
  ASSERT_TRUE(disk->put("ns", "k", Bytes(100), PutMode::kOverwrite));
  std::string shard = fs::path(disk->entry_path("ns", "k")).parent_path();
  std::string ns_dir = fs::path(shard).parent_path();
  link(outside.dir, ns_dir + "/zz");
  link(outside.dir, root + "/objects/0123456789abcdef");
  link(outside.secret, shard + "/" + std::string(64, 'a'));
  auto usage = disk->usage();
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].entries, 1u);
  auto gc = disk->gc(0);
  ASSERT_THAT(gc, IsOk());
  EXPECT_EQ(gc->entries_removed, 1u);
  EXPECT_EQ(outside.files(), std::vector<std::string>{"secret"});
  EXPECT_EQ(disk->notices().size(), 3u);
}

TEST(DiskSafety, PutRefusesALinkedShardAndALinkedLock) {
  Outside outside;
  std::string root = make_temp_dir();
  auto disk = open_disk(root);
  std::string entry = disk->entry_path("ns", "k");
  std::string shard = fs::path(entry).parent_path();
  link(outside.dir, shard);
  expect_unsafe(disk->put("ns", "k", as_bytes("v"), PutMode::kOverwrite),
                shard);
  fs::remove(shard);
  std::string name = fs::path(entry).filename();
  std::string lock = root + "/locks/" + name.substr(0, 2) + ".lock";
  link(outside.dir + "/created-by-lock", lock);
  expect_unsafe(disk->put("ns", "k", as_bytes("v"), PutMode::kOverwrite), lock);
  EXPECT_EQ(outside.files(), std::vector<std::string>{"secret"});
  EXPECT_TRUE(files_under(root + "/tmp").empty());
}

TEST(DiskSafety, LinkedTmpOrLocksDirectoryIsRefusedAtOpen) {
  for (const char* sub : {"tmp", "locks"}) {
    Outside outside;
    std::string root = make_temp_dir();
    link(outside.dir, root + "/" + sub);
    auto disk = DiskBackend::open({.root = root});
    ASSERT_FALSE(disk) << sub;
    EXPECT_EQ(disk.error().reason(), ErrorReason::kUnsafePath);
  }
}

// Finding 10: a read-only stats deleted a live writer's temp file.
TEST(DiskSafety, OnlyWritersRemoveTempFilesAndOnlyOfExitedWriters) {
  std::string root = make_temp_dir();
  open_disk(root);
  std::string dead = root + "/tmp/" + temp_name("abc", dead_pid());
  std::string live = root + "/tmp/" + temp_name("def", ::getppid());
  std::string foreign_old = root + "/tmp/ghi.cpk~1~otherhost~7.tmp";
  std::ofstream(dead) << "partial";
  std::ofstream(live) << "in progress";
  std::ofstream(foreign_old) << "partial";
  struct timespec times[2] = {{::time(nullptr) - 7200, 0},
                              {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, foreign_old.c_str(), times, 0), 0);
  auto reader = open_disk(root, {.temp_max_age = std::chrono::seconds(0)});
  ASSERT_TRUE(reader->usage());
  ASSERT_TRUE(reader->get("ns", "k"));
  EXPECT_TRUE(fs::exists(dead) && fs::exists(live) && fs::exists(foreign_old));
  auto writer = open_disk(root, {.temp_max_age = std::chrono::seconds(3600)});
  ASSERT_TRUE(writer->put("ns", "k", as_bytes("v"), PutMode::kOverwrite));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_FALSE(fs::exists(foreign_old));  // Unverifiable and old.
}

TEST(DiskSafety, RenameFailureNamesTheTempFile) {
  std::string root = make_temp_dir();
  auto disk = open_disk(root);
  auto dir = local_fs::Dir::open_root(root + "/tmp", false);
  ASSERT_TRUE(dir);
  auto tmp = dir->create_temp("x");
  ASSERT_TRUE(tmp);
  ASSERT_TRUE(tmp->write(as_bytes("data")));
  ASSERT_EQ(::unlink(tmp->path().c_str()), 0);  // Someone removed it.
  auto target = local_fs::Dir::open_root(root, false);
  auto r = tmp->commit_replace(*target, "entry");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr(tmp->name()));
}

}  // namespace
}  // namespace cachepack
