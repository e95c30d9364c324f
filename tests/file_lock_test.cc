// Writers of one path take turns through util/file_lock.h: a second writer
// is refused rather than overwriting, and a killed writer's temporary file
// is removed by the next writer only when its owner is provably gone.
#include "util/file_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::HasSubstr;

using testing::IsOk;

namespace fs = std::filesystem;

class FileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl =
        std::string(base ? base : "/tmp") + "/file-lock-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    path_ = dir_ + "/out.cpk";
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void put(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string get(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Temporary files of path_ now in the directory.
  std::vector<std::string> temps() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::string name = e.path().filename().string();
      if (name.starts_with("out.cpk.tmp-")) out.push_back(name);
    }
    return out;
  }
  // A temporary name of path_ as a writer with `pid` on this host makes.
  std::string temp_of(pid_t pid) const {
    std::string mine = temp_file_name(path_);
    std::string suffix = "-" + std::to_string(::getpid()) + "-";
    size_t at = mine.rfind(suffix);
    return mine.substr(0, at) + "-" + std::to_string(pid) + "-abcdef";
  }
  static pid_t dead_pid() {
    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(FileLockTest, SecondLockOfOnePathIsRefused) {
  put(path_, "old");
  {
    auto first = PathLock::acquire(path_);
    ASSERT_THAT(first, IsOk());
    auto second = PathLock::acquire(path_);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
    EXPECT_EQ(second.error().where().file, path_);
  }
  EXPECT_TRUE(PathLock::acquire(path_));  // The first lock went with it.
}

TEST_F(FileLockTest, LockOfAMissingFileIsNotFound) {
  auto lock = PathLock::acquire(path_);
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.error().code(), ErrorCode::kNotFound);
}

TEST_F(FileLockTest, ALockKnowsWhenItsFileWasReplaced) {
  put(path_, "old");
  auto lock = PathLock::acquire(path_);
  ASSERT_TRUE(lock);
  EXPECT_TRUE(lock->still_at_path());
  put(dir_ + "/new", "new");
  fs::rename(dir_ + "/new", path_);
  EXPECT_FALSE(lock->still_at_path());
  // The file now at the path is another one, and free.
  auto fresh = PathLock::acquire(path_);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->still_at_path());
}

TEST_F(FileLockTest, ReplacementAppearsOnlyOnCommitAndLeavesNoTemporaryFile) {
  put(path_, "old");
  {
    auto file = ReplacementFile::create(path_);
    ASSERT_THAT(file, IsOk());
    ASSERT_TRUE(write_all(file->fd(), to_bytes("new"), file->temp_path()));
    EXPECT_EQ(get(path_), "old");
    EXPECT_EQ(temps().size(), 1u);
    ASSERT_TRUE(file->commit());
  }
  EXPECT_EQ(get(path_), "new");
  EXPECT_TRUE(temps().empty());
  {
    auto abandoned = ReplacementFile::create(path_);
    ASSERT_TRUE(abandoned);
  }
  EXPECT_EQ(get(path_), "new");
  EXPECT_TRUE(temps().empty());
}

TEST_F(FileLockTest, ReplacementIsRefusedWhileAnotherWriterHoldsTheFile) {
  put(path_, "old");
  auto appender = PathLock::acquire(path_, O_WRONLY);
  ASSERT_TRUE(appender);
  auto file = ReplacementFile::create(path_);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(temps().empty());
}

TEST_F(FileLockTest, ReplacementHoldsTheFileUntilItCommits) {
  put(path_, "old");
  auto file = ReplacementFile::create(path_);
  ASSERT_TRUE(file);
  auto appender = PathLock::acquire(path_, O_WRONLY);
  ASSERT_FALSE(appender);
  EXPECT_EQ(appender.error().code(), ErrorCode::kUnavailable);
  auto other = ReplacementFile::create(path_);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(file->commit());
}

TEST_F(FileLockTest, SecondCreatorOfANewPathIsRefusedWhileTheFirstWrites) {
  auto first = ReplacementFile::create(path_);
  ASSERT_TRUE(first);
  auto second = ReplacementFile::create(path_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(second.error().message(), HasSubstr("is in use"));
}

TEST_F(FileLockTest, CommitNeverOverwritesAFileCreatedMeanwhile) {
  auto file = ReplacementFile::create(path_);
  ASSERT_TRUE(file);
  put(path_, "theirs");
  auto ok = file->commit();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(get(path_), "theirs");
}

TEST_F(FileLockTest, CommitNeverOverwritesAFileReplacedMeanwhile) {
  put(path_, "old");
  auto file = ReplacementFile::create(path_);
  ASSERT_TRUE(file);
  put(dir_ + "/theirs", "theirs");
  fs::rename(dir_ + "/theirs", path_);
  auto ok = file->commit();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(get(path_), "theirs");
}

TEST_F(FileLockTest, RemovesOnlyTemporaryFilesWhoseWriterIsGone) {
  std::string dead = temp_of(dead_pid());
  std::string live = temp_of(::getppid());
  std::string other_host = path_ + ".tmp-elsewhere.example-" +
                           std::to_string(dead_pid()) + "-abcdef";
  std::string unknown = path_ + ".tmp-XYZ123";  // Not our naming.
  for (const auto& f : {dead, live, other_host, unknown}) put(f, "partial");
  auto removed = remove_stale_temp_files(path_);
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other_host));
  EXPECT_TRUE(fs::exists(unknown));
}

TEST_F(FileLockTest, NextWriterRemovesAKilledWritersTemporaryFile) {
  put(path_, "old");
  std::string dead = temp_of(dead_pid());
  put(dead, "partial");
  auto file = ReplacementFile::create(path_);
  ASSERT_TRUE(file);
  EXPECT_FALSE(fs::exists(dead));
  ASSERT_TRUE(file->commit());
}

TEST_F(FileLockTest, ALockedTemporaryFileMeansALiveWriter) {
  // Whatever its name says, a locked temporary file has a live owner.
  std::string locked = temp_of(dead_pid());
  put(locked, "partial");
  Fd fd(::open(locked.c_str(), O_RDONLY));
  ASSERT_EQ(::flock(fd.get(), LOCK_EX), 0);
  auto removed = remove_stale_temp_files(path_);
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(fs::exists(locked));
}

TEST_F(FileLockTest, WriteFileReplacingWritesTheWholeFile) {
  put(path_, "old");
  ASSERT_TRUE(write_file_replacing(path_, to_bytes("new bytes")));
  EXPECT_EQ(get(path_), "new bytes");
  EXPECT_TRUE(temps().empty());
}

}  // namespace
}  // namespace cachepack
