// The locks of cachepack/runtime_locks.h: locks.py's three acquisition
// modes, lock files shared with other descriptors (as torch's FileLock in
// another process holds them), and several locks in one fixed order.
#include "cachepack/runtime_locks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/testing/result_matchers.h"

namespace cachepack::runtime {
namespace {

using testing::HasError;
using testing::IsOk;
using Clock = std::chrono::steady_clock;

std::string temp_dir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/rtlocks-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  return made ? std::string(made) : std::string();
}

mode_t umask_now() {
  mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(AcquireLock, NonBlockingFailsAtOnceWhenHeld) {
  std::timed_mutex m;
  std::unique_lock held(m);
  std::thread([&] {
    auto start = Clock::now();
    auto r = acquire_lock(m, kNonBlocking);
    EXPECT_THAT(
        r, HasError(ErrorCode::kDeadlineExceeded, ErrorReason::kLockTimeout));
    EXPECT_LT(seconds_since(start), 0.05);
  }).join();
}

TEST(AcquireLock, TimeoutWaitsThatLongThenNamesIt) {
  std::timed_mutex m;
  std::unique_lock held(m);
  std::thread([&] {
    auto start = Clock::now();
    auto r = acquire_lock(m, 0.2);
    ASSERT_THAT(
        r, HasError(ErrorCode::kDeadlineExceeded, ErrorReason::kLockTimeout));
    EXPECT_GE(seconds_since(start), 0.19);
    EXPECT_THAT(r.error().message(),
                ::testing::HasSubstr("within 0.2 seconds"));
  }).join();
}

TEST(AcquireLock, BlockingWaitsForTheHolder) {
  std::timed_mutex m;
  std::unique_lock held(m);
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    held.unlock();
  });
  auto r = acquire_lock(m, kBlocking);
  EXPECT_THAT(r, IsOk());
  releaser.join();
}

TEST(FileLock, ExcludesAnotherDescriptorOfTheFile) {
  std::string dir = temp_dir();
  std::string path = dir + "/sub/x.lock";
  auto lock = FileLock::acquire(path, kNonBlocking);
  ASSERT_THAT(lock, IsOk());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u & ~static_cast<unsigned>(umask_now()));
  // What torch's FileLock does in another process: flock(LOCK_EX | LOCK_NB).
  int fd = ::open(path.c_str(), O_RDWR);
  EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_THAT(
      FileLock::acquire(path, kNonBlocking),
      HasError(ErrorCode::kDeadlineExceeded, ErrorReason::kFileLockTimeout));
  lock->release();
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  // Now the other descriptor holds it: a timeout applies.
  auto start = Clock::now();
  EXPECT_THAT(
      FileLock::acquire(path, 0.2),
      HasError(ErrorCode::kDeadlineExceeded, ErrorReason::kFileLockTimeout));
  EXPECT_GE(seconds_since(start), 0.19);
  std::thread([fd] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::flock(fd, LOCK_UN);
  }).detach();
  EXPECT_THAT(FileLock::acquire(path, kBlocking), IsOk());
  ::close(fd);
  std::filesystem::remove_all(dir);
}

TEST(FileLock, SeveralAreTakenInOneOrderSoOverlappingSetsNeverDeadlock) {
  std::string dir = temp_dir();
  std::vector<std::string> forward = {dir + "/a.lock", dir + "/b.lock",
                                      dir + "/c.lock"};
  std::vector<std::string> backward(forward.rbegin(), forward.rend());
  backward.push_back(dir + "/a.lock");  // A duplicate is taken once.
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) {
        auto locks = acquire_file_locks(i % 2 ? forward : backward, kBlocking);
        ASSERT_THAT(locks, IsOk());
        EXPECT_EQ(locks->size(), 3u);
        EXPECT_EQ((*locks)[0].path(), dir + "/a.lock");
      }
      ++done;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(done.load(), 8);
  std::filesystem::remove_all(dir);
}

TEST(FileLock, AFailureReleasesTheLocksAlreadyTaken) {
  std::string dir = temp_dir();
  auto b = FileLock::acquire(dir + "/b.lock", kNonBlocking);
  ASSERT_THAT(b, IsOk());
  std::vector<std::string> paths = {dir + "/a.lock", dir + "/b.lock"};
  auto r = acquire_file_locks(paths, kNonBlocking);
  ASSERT_THAT(
      r, HasError(ErrorCode::kDeadlineExceeded, ErrorReason::kFileLockTimeout));
  EXPECT_EQ(r.error().where().file, dir + "/b.lock");
  EXPECT_THAT(FileLock::acquire(dir + "/a.lock", kNonBlocking), IsOk());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cachepack::runtime
