// Writers of one output path take turns (docs/BUNDLE.md, "Concurrent
// writers"). Every writer holds an exclusive flock(2) on the file at the
// path while it changes it (append, sign) or replaces it (a new bundle or
// blob written to a temporary file and renamed over the path), and checks
// after locking that the path still names the file it locked. A second
// writer fails at once with kUnavailable instead of waiting or overwriting:
// no writer's result is lost without an error.
//
// A replacement's temporary file is named PATH.tmp-HOST-PID-RANDOM and is
// locked by its writer for its whole life, so the next writer of PATH can
// tell a live writer's file (locked: that writer is refused) from a killed
// one's (unlocked and its PID gone on this host: removed).
#ifndef CACHEPACK_UTIL_FILE_LOCK_H_
#define CACHEPACK_UTIL_FILE_LOCK_H_

#include <fcntl.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "cachepack/bytes.h"
#include "cachepack/error.h"
#include "util/file.h"

namespace cachepack {

// An exclusive lock on the file at a path, held until destruction.
class PathLock {
 public:
  // Opens the file at `path` with `open_flags` (O_CLOEXEC is added) and
  // locks it. kUnavailable if another writer holds the lock, kNotFound if
  // there is no file at `path`.
  static Result<PathLock> acquire(const std::string& path,
                                  int open_flags = O_RDONLY);

  int fd() const { return fd_.get(); }
  // Gives the descriptor, and with it the lock, to the caller.
  int release() { return fd_.release(); }
  // True while `path` still names the locked file.
  bool still_at_path() const;

 private:
  PathLock(Fd fd, std::string path) : fd_(std::move(fd)), path_(path) {}
  Fd fd_;
  std::string path_;
};

// A file that replaces (or creates) `path` when committed, written in the
// same directory under a temporary name. Not committed, it is removed.
class ReplacementFile {
 public:
  // Locks the file at `path` if there is one, refuses if another live
  // writer is creating `path`, removes temporary files of `path` whose
  // writer is provably gone, then creates and locks the temporary file
  // (mode 0644). kUnavailable when another writer is at work.
  static Result<ReplacementFile> create(const std::string& path);

  ReplacementFile(ReplacementFile&&) noexcept;
  ReplacementFile& operator=(ReplacementFile&&) noexcept;
  ~ReplacementFile();

  int fd() const { return temp_.get(); }
  const std::string& temp_path() const { return temp_path_; }

  // Closes the temporary file (after fsync, if asked) and renames it to
  // `path`: only if `path` still names the file locked by create(), or
  // still names nothing if there was none (kUnavailable otherwise, and the
  // file at `path` is left alone). With fsync, the directory too.
  Result<void> commit(bool fsync = false);

 private:
  ReplacementFile() = default;
  void discard();

  std::string path_;
  std::string temp_path_;
  Fd temp_;
  std::optional<PathLock> target_;  // Empty when `path` did not exist.
  bool committed_ = false;
};

// Writes `data` to `path` through a ReplacementFile.
Result<void> write_file_replacing(const std::string& path, ByteSpan data,
                                  bool fsync = false);

// Removes the temporary files of `path` whose writer is provably gone: not
// locked, made on this host by a process that no longer exists. Returns
// how many were removed; kUnavailable if a live writer holds one (it is
// creating `path`). Other files are left alone: those of other hosts,
// those of live processes, and names that do not follow the pattern.
Result<size_t> remove_stale_temp_files(const std::string& path);

// The temporary name for `path` that this process uses next.
std::string temp_file_name(const std::string& path);

}  // namespace cachepack

#endif  // CACHEPACK_UTIL_FILE_LOCK_H_
