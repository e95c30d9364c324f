// The locks of cachepack/runtime_locks.h.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cachepack/runtime_locks.h"
#include "util/file.h"

namespace cachepack::runtime {
namespace {

double seconds_or_default(std::optional<double> timeout) {
  return timeout.value_or(kDefaultTimeout);
}

std::string format_seconds(double s) {
  std::string text = std::to_string(s);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text += '0';
  return text;
}

}  // namespace

Result<std::unique_lock<std::timed_mutex>> acquire_lock(
    std::timed_mutex& mutex, std::optional<double> timeout) {
  double t = seconds_or_default(timeout);
  std::unique_lock<std::timed_mutex> lock(mutex, std::defer_lock);
  bool taken;
  if (t < 0) {
    lock.lock();
    taken = true;
  } else if (t == 0) {
    taken = lock.try_lock();
  } else {
    taken = lock.try_lock_for(std::chrono::duration<double>(t));
  }
  if (!taken) {
    return make_error(
        ErrorCode::kDeadlineExceeded, ErrorReason::kLockTimeout,
        "Failed to acquire lock within " + format_seconds(t) + " seconds");
  }
  return lock;
}

Result<FileLock> FileLock::acquire(const std::string& path,
                                   std::optional<double> timeout) {
  double t = seconds_or_default(timeout);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      ec);
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return io_error("open lock file", path, errno);
  auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(std::max(t, 0.0)));
  while (true) {
    int flags = t < 0 ? LOCK_EX : LOCK_EX | LOCK_NB;
    if (::flock(fd.get(), flags) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return io_error("flock", path, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(ErrorCode::kDeadlineExceeded,
                        ErrorReason::kFileLockTimeout,
                        "Failed to acquire file lock " + path + " within " +
                            format_seconds(t) + " seconds",
                        ErrorLocation{.file = path});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return FileLock(fd.release(), path);
}

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

FileLock::~FileLock() { release(); }

void FileLock::release() {
  if (fd_ >= 0) {
    ::close(fd_);  // Closing the descriptor drops the flock.
    fd_ = -1;
  }
}

Result<std::vector<FileLock>> acquire_file_locks(
    std::span<const std::string> paths, std::optional<double> timeout) {
  std::vector<std::string> order(paths.begin(), paths.end());
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<FileLock> held;
  held.reserve(order.size());
  for (const std::string& path : order) {
    CP_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(path, timeout));
    held.push_back(std::move(lock));
  }
  return held;
}

}  // namespace cachepack::runtime
