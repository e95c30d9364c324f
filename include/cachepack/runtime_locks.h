// Locks with PyTorch's acquisition modes (torch/_inductor/runtime/caching/
// locks.py): blocking, non-blocking and with a timeout, for a thread lock
// and for a lock file that torch's FileLock (filelock's UnixFileLock: an
// exclusive flock on the file) also respects; and several lock files taken
// in a fixed order. docs/RUNTIME.md.
#ifndef CACHEPACK_RUNTIME_LOCKS_H_
#define CACHEPACK_RUNTIME_LOCKS_H_

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cachepack/error.h"

namespace cachepack::runtime {

// Timeouts in seconds, as locks.py names them.
inline constexpr double kBlocking = -1.0;        // _BLOCKING: wait forever.
inline constexpr double kNonBlocking = 0.0;      // _NON_BLOCKING: one try.
inline constexpr double kDefaultTimeout = 60.0;  // _BLOCKING_WITH_TIMEOUT,
                                                 // used for nullopt.

// Takes `mutex` within `timeout` seconds (nullopt: kDefaultTimeout).
// kDeadlineExceeded / kLockTimeout ("Failed to acquire lock ... within N
// seconds", torch's LockTimeoutError) when it cannot.
Result<std::unique_lock<std::timed_mutex>> acquire_lock(
    std::timed_mutex& mutex, std::optional<double> timeout = std::nullopt);

// An exclusive flock on a lock file, held until destruction (or release()).
class FileLock {
 public:
  // Creates `path` (mode 0644) and its directories if needed, then locks it
  // within `timeout` seconds (nullopt: kDefaultTimeout), polling every
  // 50 ms as filelock does. kDeadlineExceeded / kFileLockTimeout (torch's
  // FileLockTimeoutError) when another process or descriptor holds it that
  // long; kIoError if the file cannot be opened.
  static Result<FileLock> acquire(const std::string& path,
                                  std::optional<double> timeout = std::nullopt);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  const std::string& path() const { return path_; }
  void release();

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Several lock files, taken in one fixed order (sorted, duplicates once)
// whatever order they are given in, so two callers asking for overlapping
// sets cannot deadlock; each within `timeout`. On a failure the locks
// already taken are released and the error names the path that failed.
// (torch's _acquire_many_impl_locks_with_timeout takes them in argument
// order.)
Result<std::vector<FileLock>> acquire_file_locks(
    std::span<const std::string> paths,
    std::optional<double> timeout = std::nullopt);

}  // namespace cachepack::runtime

#endif  // CACHEPACK_RUNTIME_LOCKS_H_
