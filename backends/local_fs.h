// File-system helpers shared by the local backends (disk, PyTorch cache
// directory): owned descriptors, whole-file reads, temp files that vanish
// unless committed by rename or link, and advisory locks that give up at a
// deadline instead of waiting forever.
#ifndef CACHEPACK_BACKENDS_LOCAL_FS_H_
#define CACHEPACK_BACKENDS_LOCAL_FS_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/file.h"

namespace cachepack::local_fs {

using ::cachepack::Fd;

// An exclusive flock(2) on a file or directory, released on destruction.
// flock locks belong to the open file description, so two threads of one
// process that open the path separately exclude each other as two processes
// do.
class FileLock {
 public:
  // Waits until `deadline` (capped by `max_wait`) and then fails with
  // kDeadlineExceeded naming the lock path and the time waited.
  // `create` makes the lock file if missing (not for directories).
  static Result<FileLock> acquire(const std::string& path, Deadline deadline,
                                  std::chrono::milliseconds max_wait,
                                  bool create = true);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  explicit FileLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;  // Closing it releases the lock.
};

// A temp file written in full, then moved into place. Removed on
// destruction unless commit_*() succeeded.
class TempFile {
 public:
  // Creates `<dir>/<prefix>.<pid>.<random>.tmp` and writes `parts` into it
  // in order; fsyncs it when `fsync` is set.
  static Result<TempFile> write(const std::string& dir,
                                const std::string& prefix,
                                std::span<const ByteSpan> parts, bool fsync);

  TempFile(TempFile&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  ~TempFile();

  const std::string& path() const { return path_; }

  // rename(2): replaces whatever is at `target`.
  Result<void> commit_replace(const std::string& target);
  // link(2) then unlink: fails with kAlreadyExists, atomically, if `target`
  // exists, whoever created it.
  Result<void> commit_if_absent(const std::string& target);

 private:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Temp file names end with this suffix; directory walks skip them.
inline constexpr std::string_view kTempSuffix = ".tmp";
bool is_temp_name(std::string_view name);

// Creates `path` and its parents (mode 0755); ok if it exists.
Result<void> make_dirs(const std::string& path);

// fsync of a directory, so a rename inside it survives a crash.
void fsync_dir(const std::string& dir);

// Whole file, or nullopt if it does not exist.
Result<std::optional<Bytes>> read_whole(const std::string& path);

// Names in a directory (no "." and ".."); empty if it does not exist.
Result<std::vector<std::string>> list_dir(const std::string& dir);

// Removes files named like temp files (is_temp_name) under `dir`, to
// `depth` levels, whose mtime is older than `max_age`: leftovers of writers
// that crashed between create and rename. Returns how many were removed.
uint64_t remove_stale_temps(const std::string& dir, int depth,
                            std::chrono::seconds max_age);

}  // namespace cachepack::local_fs

#endif  // CACHEPACK_BACKENDS_LOCAL_FS_H_
