// Disk backend behaviour beyond the conformance suite: layout safety,
// version headers, corruption, cross-process exactly-once inserts, lock
// timeouts, temp-file cleanup and LRU garbage collection.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "backends/disk_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_builtin_backends.h"
#include "cachepack/url.h"
#include "tests/backend_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::UnorderedElementsAre;

using ::testing::_;
using ::testing::IsEmpty;
using ::testing::Optional;

using testing::files_under;
using testing::IsOk;
using testing::IsOkAndHolds;
using testing::make_temp_dir;

std::unique_ptr<DiskBackend> open_disk(const std::string& root,
                                       DiskOptions options = {}) {
  options.root = root;
  auto b = DiskBackend::open(options);
  EXPECT_THAT(b, IsOk());
  return b ? std::move(*b) : nullptr;
}

void set_mtime(const std::string& path, time_t seconds_ago) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - seconds_ago;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(DiskBackend, HostileKeysOnlyCreateHashedFilesInsideTheRoot) {
  std::string parent = make_temp_dir();
  std::string root = parent + "/cache";
  auto disk = open_disk(root);
  const std::string keys[] = {
      "../../escape",          "/tmp/abs", std::string("n\0ul", 4),
      std::string(10000, 'x'), "..",       "."};
  for (const auto& k : keys) {
    ASSERT_TRUE(disk->put("../ns", k, to_bytes("v"), PutMode::kOverwrite));
  }
  // Nothing appeared next to the root.
  std::set<std::string> siblings;
  for (const auto& e : std::filesystem::directory_iterator(parent)) {
    siblings.insert(e.path().filename().string());
  }
  EXPECT_EQ(siblings, std::set<std::string>{"cache"});
  // Every file is objects/<16 hex>/<2 hex>/<64 hex>.
  int entries = 0;
  for (const auto& f : files_under(root)) {
    if (f.starts_with("locks/")) continue;
    ASSERT_TRUE(f.starts_with("objects/")) << f;
    std::string rest = f.substr(8);
    ASSERT_EQ(rest.size(), 16u + 1 + 2 + 1 + 64) << f;
    EXPECT_EQ(rest.find_first_not_of("0123456789abcdef/"), std::string::npos);
    ++entries;
  }
  EXPECT_EQ(entries, 6);
}

TEST(DiskBackend, EmptyNamespaceOrKeyIsInvalidArgument) {
  auto disk = open_disk(make_temp_dir());
  auto r = disk->put("inductor", "", to_bytes("v"), PutMode::kOverwrite);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().reason(), ErrorReason::kInvalidKey);
  EXPECT_FALSE(disk->get("", "k"));
}

TEST(DiskBackend, EntryOfAnotherVersionIsAMissAndCanBeReplaced) {
  auto disk = open_disk(make_temp_dir());
  ASSERT_THAT(disk->put("inductor", "k", to_bytes("v1"), PutMode::kOverwrite),
              IsOkAndHolds(true));
  std::string path = disk->entry_path("inductor", "k");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.write("\x5f\xec\xeb\x66", 4);  // PyTorch's version-0 header: not ours.
  }
  auto got = disk->get("inductor", "k");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->has_value());
  EXPECT_THAT(disk->contains("inductor", "k"), IsOkAndHolds(false));
  EXPECT_THAT(disk->list("inductor"), IsOkAndHolds(IsEmpty()));
  // Insert-if-absent treats the stale entry as absent.
  EXPECT_THAT(
      disk->put("inductor", "k", to_bytes("v2"), PutMode::kInsertIfAbsent),
      IsOkAndHolds(true));
  EXPECT_THAT(disk->get("inductor", "k"),
              IsOkAndHolds(Optional(to_bytes("v2"))));
}

TEST(DiskBackend, CorruptEntryIsDataLossNamingTheFile) {
  auto disk = open_disk(make_temp_dir());
  ASSERT_THAT(
      disk->put("inductor", "k", to_bytes("payload"), PutMode::kOverwrite),
      IsOkAndHolds(true));
  std::string path = disk->entry_path("inductor", "k");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('X');
  }
  auto got = disk->get("inductor", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(got.error().where().file, path);
}

TEST(DiskBackend, TruncatedEntryIsDataLoss) {
  auto disk = open_disk(make_temp_dir());
  ASSERT_THAT(disk->put("ns", "key", to_bytes("payload"), PutMode::kOverwrite),
              IsOkAndHolds(true));
  std::string path = disk->entry_path("ns", "key");
  ASSERT_EQ(::truncate(path.c_str(), 10), 0);
  auto got = disk->get("ns", "key");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kDataLoss);
}

TEST(DiskBackend, ForkedProcessesInsertExactlyOncePerKey) {
  std::string root = make_temp_dir();
  std::string report_dir = make_temp_dir();
  constexpr int kProcs = 4, kKeys = 40;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto disk = DiskBackend::open({.root = root});
      if (!disk) ::_exit(2);
      std::ofstream wins(report_dir + "/" + std::to_string(p));
      for (int k = 0; k < kKeys; ++k) {
        std::string value(1000 + k, static_cast<char>('a' + p));
        auto r = (*disk)->put("inductor", "key" + std::to_string(k),
                              to_bytes(value), PutMode::kInsertIfAbsent);
        if (!r) ::_exit(3);
        if (*r) wins << k << "\n";
      }
      wins.close();
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  std::map<int, int> winner;  // key -> process
  for (int p = 0; p < kProcs; ++p) {
    std::ifstream wins(report_dir + "/" + std::to_string(p));
    int k;
    while (wins >> k) {
      EXPECT_FALSE(winner.contains(k)) << "key " << k << " won twice";
      winner[k] = p;
    }
  }
  EXPECT_EQ(winner.size(), static_cast<size_t>(kKeys));
  auto disk = open_disk(root);
  for (auto [k, p] : winner) {
    auto got = disk->get("inductor", "key" + std::to_string(k));
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ(**got,
              to_bytes(std::string(1000 + k, static_cast<char>('a' + p))));
  }
  EXPECT_TRUE(files_under(root + "/tmp").empty());
}

TEST(DiskBackend, LockHeldElsewhereTimesOutWithDeadlineExceeded) {
  std::string root = make_temp_dir();
  auto disk = open_disk(root, {.lock_timeout = std::chrono::milliseconds(100)});
  std::string entry = disk->entry_path("ns", "k");
  std::string shard = entry.substr(entry.rfind('/') + 1, 2);
  int fd = ::open((root + "/locks/" + shard + ".lock").c_str(),
                  O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto start = Clock::now();
  auto r = disk->put("ns", "k", to_bytes("v"), PutMode::kOverwrite);
  auto waited = Clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(r.error().message().find("lock"), std::string::npos)
      << r.error().message();
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_TRUE(files_under(root + "/tmp").empty());  // Temp file cleaned up.
  ::close(fd);  // Released: the next put goes through.
  EXPECT_TRUE(disk->put("ns", "k", to_bytes("v"), PutMode::kOverwrite));
}

TEST(DiskBackend, GcRemovesCrashedWritersTempFiles) {
  std::string root = make_temp_dir();
  auto disk = open_disk(root, {.temp_max_age = std::chrono::seconds(60)});
  std::string old_tmp = root + "/tmp/abc.1.2.tmp";
  std::ofstream(old_tmp) << "partial";
  set_mtime(old_tmp, 120);
  auto report = disk->gc(UINT64_MAX);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->temps_removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(old_tmp));
}

TEST(DiskBackend, FsyncOptionStillStoresAndReads) {
  auto disk = open_disk(make_temp_dir(), {.fsync = true});
  ASSERT_THAT(disk->put("ns", "k", to_bytes("durable"), PutMode::kOverwrite),
              IsOkAndHolds(true));
  EXPECT_THAT(disk->get("ns", "k"),
              IsOkAndHolds(Optional(to_bytes("durable"))));
}

TEST(DiskBackend, RelativeRootIsInvalid) {
  auto disk = DiskBackend::open({.root = "relative/dir"});
  ASSERT_FALSE(disk);
  EXPECT_EQ(disk.error().code(), ErrorCode::kInvalidArgument);
}

TEST(DiskBackend, GcEvictsLeastRecentlyUsedUntilUnderTheLimit) {
  auto disk = open_disk(make_temp_dir());
  for (int i = 0; i < 5; ++i) {
    std::string k = "k" + std::to_string(i);
    ASSERT_TRUE(disk->put("ns", k, Bytes(1000), PutMode::kOverwrite));
    set_mtime(disk->entry_path("ns", k), 1000 - i * 100);  // k0 oldest.
  }
  ASSERT_THAT(disk->get("ns", "k0"),
              IsOkAndHolds(Optional(_)));  // k0 now most recent.
  uint64_t entry_size =
      std::filesystem::file_size(disk->entry_path("ns", "k0"));
  auto report = disk->gc(3 * entry_size);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->entries_removed, 2u);
  EXPECT_EQ(report->bytes_before, 5 * entry_size);
  EXPECT_EQ(report->bytes_after, 3 * entry_size);
  EXPECT_THAT(disk->list("ns"),
              IsOkAndHolds(UnorderedElementsAre("k0", "k3", "k4")));
}

TEST(DiskBackend, GcRemovesStaleEntriesFirst) {
  auto disk = open_disk(make_temp_dir());
  ASSERT_TRUE(disk->put("ns", "stale", to_bytes("x"), PutMode::kOverwrite));
  ASSERT_TRUE(disk->put("ns", "fresh", to_bytes("y"), PutMode::kOverwrite));
  {
    std::fstream f(disk->entry_path("ns", "stale"),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.write("\0\0\0\0", 4);
  }
  auto report = disk->gc(UINT64_MAX);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->stale_removed, 1u);
  EXPECT_EQ(report->entries_removed, 0u);
  EXPECT_THAT(disk->get("ns", "fresh"), IsOkAndHolds(Optional(_)));
}

TEST(DiskBackend, UsageCountsEntriesAndBytesPerNamespace) {
  auto disk = open_disk(make_temp_dir());
  ASSERT_TRUE(disk->put("a", "1", Bytes(100), PutMode::kOverwrite));
  ASSERT_TRUE(disk->put("a", "2", Bytes(100), PutMode::kOverwrite));
  ASSERT_TRUE(disk->put("b", "1", Bytes(10), PutMode::kOverwrite));
  auto u = disk->usage();
  ASSERT_TRUE(u);
  ASSERT_EQ(u->size(), 2u);
  EXPECT_EQ((*u)[0].ns, "a");
  EXPECT_EQ((*u)[0].entries, 2u);
  EXPECT_GT((*u)[0].bytes, 200u);
  EXPECT_EQ((*u)[1].entries, 1u);
}

TEST(DiskBackend, OpensFromFileUrlWithOptions) {
  BackendRegistry registry;
  ASSERT_TRUE(register_builtin_backends(registry));
  std::string root = make_temp_dir();
  auto b = registry.open("file://" + root + "?fsync=1&lock_timeout_ms=500");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ((*b)->url(), "file://" + root + "?fsync=1");
  ASSERT_TRUE((*b)->put("ns", "k", to_bytes("v"), PutMode::kOverwrite));
  EXPECT_THAT((*b)->get("ns", "k"), IsOkAndHolds(Optional(_)));
}

TEST(DiskBackend, BadFileUrlsShowTheExpectedForm) {
  BackendRegistry registry;
  ASSERT_TRUE(register_builtin_backends(registry));
  for (const char* url : {"file://somehost/x", "file://", "file:///x?bogus=1",
                          "file:///x?fsync=maybe"}) {
    auto b = registry.open(url);
    ASSERT_FALSE(b) << url;
    EXPECT_EQ(b.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(b.error().message().find("file:///absolute/path"),
              std::string::npos)
        << b.error().message();
  }
}

}  // namespace
}  // namespace cachepack
