// File-system access for the local backends (disk, PyTorch cache directory).
// Everything below a cache root goes through a directory descriptor opened
// once, one path component at a time, never following a symbolic link:
// PyTorch's default root is /tmp/torchinductor_$USER, which another local
// user can create first and fill with links. Writes refuse a link, a FIFO
// or a device with kPermissionDenied / kUnsafePath naming it; reads and
// walks skip such entries (the backends report them once). The root itself
// may be a symlink: the user named it.
#ifndef CACHEPACK_BACKENDS_LOCAL_FS_H_
#define CACHEPACK_BACKENDS_LOCAL_FS_H_

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"
#include "util/file.h"

namespace cachepack::local_fs {

using ::cachepack::Fd;

enum class EntryKind {
  kFile,  // Regular file.
  kDirectory,
  kSymlink,
  kOther,  // FIFO, socket, block or character device.
};

// "is a symbolic link (not followed)", "is a FIFO, socket or device", ...
std::string_view describe(EntryKind kind);

struct DirEntry {
  std::string name;
  EntryKind kind = EntryKind::kOther;
};

struct FileInfo {
  EntryKind kind = EntryKind::kOther;
  uint64_t size = 0;
  timespec mtime{};
};

// Why `name` cannot be one path component, or empty if it can: empty, "."
// or "..", longer than 255 bytes, or holding '/' or NUL.
std::string component_problem(std::string_view name);

class TempFile;

// An open directory inside (or at) a cache root. Every name passed to its
// methods is one path component, checked with component_problem(); `rel`
// arguments are '/'-separated components. Thread-safe: the descriptor is
// only used with the *at() calls.
class Dir {
 public:
  // The directory at `path`, which may itself be a symlink; created with
  // its parents (mode 0755) when `create` is set.
  static Result<Dir> open_root(const std::string& path, bool create);

  Dir(Dir&&) noexcept = default;
  Dir& operator=(Dir&&) noexcept = default;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  std::string child(std::string_view rel) const;

  // The directory `rel` below this one, or nullopt if some component is
  // missing. A component that is a symlink or not a directory is
  // kPermissionDenied / kUnsafePath naming it.
  Result<std::optional<Dir>> find_dir(std::string_view rel) const;
  // The same, creating missing components.
  Result<Dir> make_dir(std::string_view rel) const;

  // Kind, size and mtime of `name` itself (a link is reported as a link);
  // nullopt if missing.
  Result<std::optional<FileInfo>> stat(std::string_view name) const;
  // Entries other than "." and "..", with their kinds.
  Result<std::vector<DirEntry>> list() const;

  // Contents of the regular file `name`, or nullopt if missing. A link, a
  // FIFO (never waited on), a device or a directory is kUnsafePath.
  Result<std::optional<Bytes>> read_file(std::string_view name) const;
  // The same file opened for reading, for streaming.
  Result<std::optional<Fd>> open_file(std::string_view name) const;

  // false when `name` was already gone.
  Result<bool> unlink(std::string_view name) const;
  // Removes an empty directory; false when missing or not empty.
  bool remove_empty_dir(std::string_view name) const;

  // A new temp file in this directory (see TempFile).
  Result<TempFile> create_temp(std::string_view prefix) const;

  // So renames inside this directory survive a crash.
  void fsync() const;

  // A second descriptor of this directory with its own open file
  // description, as flock(2) needs for locking the directory itself.
  Result<Fd> reopen() const;

 private:
  Dir(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Result<std::optional<Dir>> walk(std::string_view rel, bool create) const;
  Fd fd_;
  std::string path_;
};

// An exclusive flock(2), released on destruction. flock locks belong to the
// open file description, so two threads of one process that open the lock
// separately exclude each other as two processes do.
class FileLock {
 public:
  // Locks the file `name` in `dir`, creating it if missing (never through
  // a link). Waits until `deadline` (capped by `max_wait`) and then fails
  // with kDeadlineExceeded naming the lock and the time waited.
  static Result<FileLock> acquire(const Dir& dir, std::string_view name,
                                  Deadline deadline,
                                  std::chrono::milliseconds max_wait);
  // Locks the directory `dir` itself.
  static Result<FileLock> acquire_dir(const Dir& dir, Deadline deadline,
                                      std::chrono::milliseconds max_wait);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  static Result<FileLock> lock(Fd fd, const std::string& path,
                               Deadline deadline,
                               std::chrono::milliseconds max_wait);
  explicit FileLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;  // Closing it releases the lock.
};

// A file written in pieces, then moved into place under another name in the
// same directory. Removed on destruction unless a commit succeeded. Its name
// records the writing process and host
// ("<prefix>.cpk~<pid>~<host>~<random>.tmp"), so a later writer can tell a
// crashed writer's leftover from a live one's (temp_owner_gone).
class TempFile {
 public:
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  ~TempFile();

  const std::string& name() const { return name_; }
  std::string path() const { return dir_path_ + "/" + name_; }

  Result<void> write(ByteSpan data);
  // Overwrites bytes already written (a checksum known only at the end).
  Result<void> write_at(uint64_t offset, ByteSpan data);
  // Flushes to disk (when `fsync`) and closes; commit_*() call it if needed.
  Result<void> close(bool fsync = false);

  // renameat(2) to `target` in `into` (the same file system): replaces
  // whatever is there (a link there is replaced, never followed).
  Result<void> commit_replace(const Dir& into, std::string_view target);
  // linkat(2) then unlink: kAlreadyExists, atomically, if `target` exists,
  // whoever created it.
  Result<void> commit_if_absent(const Dir& into, std::string_view target);

 private:
  friend class Dir;
  TempFile(Fd dir, std::string dir_path, std::string name, Fd file)
      : dir_(std::move(dir)),
        dir_path_(std::move(dir_path)),
        name_(std::move(name)),
        file_(std::move(file)) {}
  Fd dir_;  // Its own descriptor of the directory.
  std::string dir_path_;
  std::string name_;
  Fd file_;
};

// Temp file names end with this suffix; directory walks skip them.
inline constexpr std::string_view kTempSuffix = ".tmp";
bool is_temp_name(std::string_view name);

// True when `name` is a temp file written by a process of this host that no
// longer exists. False for live writers, other hosts and names of another
// form: those are never proven dead.
bool temp_owner_gone(std::string_view name);

// Removes the temp files in `dir` whose owner is gone; with `max_age`, also
// those whose owner cannot be checked (another host, an older name form)
// and whose mtime is older than it. Links and non-files are left alone.
// Returns how many were removed.
uint64_t remove_dead_temps(const Dir& dir,
                           std::optional<std::chrono::seconds> max_age);

// The error for something that is not what a cache root may hold there.
tl::unexpected<Error> unsafe_path(const std::string& path,
                                  std::string_view what);

// A local backend's cache root, opened (created with its parents if missing)
// once `path` is known to be absolute; trailing slashes are dropped, so
// path() names the root one way in url() and in messages. `what` names the
// root in the error: "<what> must be an absolute path".
Result<Dir> open_cache_root(std::string_view path, std::string_view what);

// How a local backend reports a writer's lock on `key` that it could not
// take: an unsafe lock path as it is, with the key; anything else (a
// timeout) as "<op>: <message> (lock <path>)" naming the backend's URL.
tl::unexpected<Error> lock_error(const Backend& backend, std::string_view op,
                                 std::string_view key, Error error);

}  // namespace cachepack::local_fs

#endif  // CACHEPACK_BACKENDS_LOCAL_FS_H_
