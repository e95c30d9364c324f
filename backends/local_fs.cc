#include "backends/local_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>
#include <thread>

namespace cachepack::local_fs {
namespace {

constexpr size_t kMaxName = 255;  // NAME_MAX on Linux file systems.
constexpr std::string_view kOwnerMark = ".cpk~";

EntryKind kind_of(mode_t mode) {
  if (S_ISREG(mode)) return EntryKind::kFile;
  if (S_ISDIR(mode)) return EntryKind::kDirectory;
  if (S_ISLNK(mode)) return EntryKind::kSymlink;
  return EntryKind::kOther;
}

std::string_view describe(mode_t mode) {
  if (S_ISLNK(mode)) return "is a symbolic link";
  if (S_ISFIFO(mode)) return "is a FIFO";
  if (S_ISSOCK(mode)) return "is a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device";
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISREG(mode)) return "is a regular file";
  return "is not a regular file";
}

// This host's name as it appears in temp file names: no '~' or '/'.
const std::string& host_name() {
  static const std::string name = [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return std::string("unknown");
    std::string out(buf);
    if (out.size() > 64) out.resize(64);
    for (char& c : out) {
      if (c == '~' || c == '/') c = '_';
    }
    return out.empty() ? std::string("unknown") : out;
  }();
  return name;
}

struct TempOwner {
  pid_t pid = 0;
  std::string_view host;
};

// The owner recorded in a temp name, if it has cachepack's current form.
std::optional<TempOwner> temp_owner(std::string_view name) {
  if (!is_temp_name(name)) return std::nullopt;
  name.remove_suffix(kTempSuffix.size());
  size_t mark = name.rfind(kOwnerMark);
  if (mark == std::string_view::npos) return std::nullopt;
  std::string_view rest = name.substr(mark + kOwnerMark.size());
  size_t a = rest.find('~');
  size_t b = rest.rfind('~');
  if (a == std::string_view::npos || b == a) return std::nullopt;
  TempOwner owner;
  std::string_view pid = rest.substr(0, a);
  auto [end, ec] =
      std::from_chars(pid.data(), pid.data() + pid.size(), owner.pid);
  if (ec != std::errc() || end != pid.data() + pid.size() || owner.pid <= 0) {
    return std::nullopt;
  }
  owner.host = rest.substr(a + 1, b - a - 1);
  return owner;
}

}  // namespace

std::string_view describe(EntryKind kind) {
  switch (kind) {
    case EntryKind::kFile:
      return "is a regular file";
    case EntryKind::kDirectory:
      return "is a directory";
    case EntryKind::kSymlink:
      return "is a symbolic link (not followed)";
    case EntryKind::kOther:
      return "is a FIFO, socket or device";
  }
  return "is not a regular file";
}

tl::unexpected<Error> unsafe_path(const std::string& path,
                                  std::string_view what) {
  return make_error(ErrorCode::kPermissionDenied, ErrorReason::kUnsafePath,
                    std::string(what) +
                        " inside the cache root; cachepack never follows "
                        "links or opens special files there",
                    ErrorLocation{.file = path});
}

Result<Dir> open_cache_root(std::string_view path, std::string_view what) {
  if (path.empty() || path.front() != '/') {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " must be an absolute path",
                      ErrorLocation{.file = std::string(path)});
  }
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return Dir::open_root(std::string(path), /*create=*/true);
}

tl::unexpected<Error> lock_error(const Backend& backend, std::string_view op,
                                 std::string_view key, Error error) {
  if (error.reason() == ErrorReason::kUnsafePath) {
    return tl::unexpected(std::move(error).with_key(std::string(key)));
  }
  return make_error(
      error.code(),
      std::string(op) + ": " + error.message() + " (lock " +
          error.where().file + ")",
      ErrorLocation{.url = backend.url(), .key = std::string(key)});
}

std::string component_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "is a relative path component";
  if (name.size() > kMaxName) return "is longer than 255 bytes";
  if (name.find('/') != std::string_view::npos) return "contains '/'";
  if (name.find('\0') != std::string_view::npos) return "contains a NUL byte";
  return {};
}

Result<Dir> Dir::open_root(const std::string& path, bool create) {
  if (create) {
    // Parents are the user's own path: created as mkdir -p would.
    std::string prefix;
    size_t at = 0;
    while (at != std::string::npos) {
      size_t slash = path.find('/', at + 1);
      prefix = path.substr(0, slash);
      at = slash;
      if (prefix.empty()) continue;
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return io_error("mkdir", prefix, errno);
      }
    }
  }
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("open directory", path, errno);
  return Dir(std::move(fd), path);
}

std::string Dir::child(std::string_view rel) const {
  return path_ + "/" + std::string(rel);
}

Result<std::optional<Dir>> Dir::walk(std::string_view rel, bool create) const {
  std::string path = path_;
  Fd current;
  int at = fd_.get();
  while (!rel.empty()) {
    size_t slash = rel.find('/');
    std::string name(rel.substr(0, slash));
    rel = slash == std::string_view::npos ? std::string_view()
                                          : rel.substr(slash + 1);
    path += "/" + name;
    if (auto why = component_problem(name); !why.empty()) {
      return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                        "path component " + why, ErrorLocation{.file = path});
    }
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    Fd next(::openat(at, name.c_str(), kFlags));
    if (!next.valid() && errno == ENOENT && create) {
      if (::mkdirat(at, name.c_str(), 0755) != 0 && errno != EEXIST) {
        return io_error("mkdir", path, errno);
      }
      next = Fd(::openat(at, name.c_str(), kFlags));
    }
    if (!next.valid()) {
      int err = errno;
      if (err == ENOENT) return std::optional<Dir>();
      struct stat st {};
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        return unsafe_path(path, describe(st.st_mode));
      }
      return io_error("open directory", path, err);
    }
    current = std::move(next);
    at = current.get();
  }
  if (!current.valid()) {  // rel was empty: this directory again.
    CP_ASSIGN_OR_RETURN(auto again, reopen());
    current = std::move(again);
  }
  return std::optional<Dir>(Dir(std::move(current), std::move(path)));
}

Result<std::optional<Dir>> Dir::find_dir(std::string_view rel) const {
  return walk(rel, /*create=*/false);
}

Result<Dir> Dir::make_dir(std::string_view rel) const {
  CP_ASSIGN_OR_RETURN(auto dir, walk(rel, /*create=*/true));
  if (!dir) {  // Removed between mkdir and open by someone else.
    return make_error(ErrorCode::kUnavailable,
                      "directory vanished while being created",
                      ErrorLocation{.file = child(rel)});
  }
  return std::move(*dir);
}

Result<std::optional<FileInfo>> Dir::stat(std::string_view name) const {
  std::string n(name);
  struct stat st {};
  if (::fstatat(fd_.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<FileInfo>();
    return io_error("stat", child(name), errno);
  }
  return std::optional<FileInfo>(
      FileInfo{.kind = kind_of(st.st_mode),
               .size = static_cast<uint64_t>(st.st_size),
               .mtime = st.st_mtim});
}

Result<std::vector<DirEntry>> Dir::list() const {
  std::vector<DirEntry> out;
  int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open directory", path_, errno);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return io_error("opendir", path_, err);
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    DirEntry entry{.name = std::string(name)};
    switch (e->d_type) {
      case DT_REG:
        entry.kind = EntryKind::kFile;
        break;
      case DT_DIR:
        entry.kind = EntryKind::kDirectory;
        break;
      case DT_LNK:
        entry.kind = EntryKind::kSymlink;
        break;
      case DT_UNKNOWN: {
        struct stat st {};
        if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        entry.kind = kind_of(st.st_mode);
        break;
      }
      default:
        entry.kind = EntryKind::kOther;
    }
    out.push_back(std::move(entry));
  }
  ::closedir(d);
  return out;
}

Result<std::optional<Fd>> Dir::open_file(std::string_view name) const {
  std::string n(name);
  std::string path = child(name);
  // Look before opening, so a FIFO is never waited on and a device never
  // opened; then check again on the descriptor, which cannot change.
  struct stat st {};
  if (::fstatat(fd_.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<Fd>();
    return io_error("stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) return unsafe_path(path, describe(st.st_mode));
  Fd fd(::openat(fd_.get(), n.c_str(),
                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<Fd>();
    if (errno == ELOOP) return unsafe_path(path, "is a symbolic link");
    return io_error("open", path, errno);
  }
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return unsafe_path(path, describe(st.st_mode));
  return std::optional<Fd>(std::move(fd));
}

Result<std::optional<Bytes>> Dir::read_file(std::string_view name) const {
  CP_ASSIGN_OR_RETURN(auto fd, open_file(name));
  if (!fd) return std::optional<Bytes>();
  std::string path = child(name);
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return io_error("stat", path, errno);
  Bytes out;
  try {
    out.resize(static_cast<size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    return make_error(
        ErrorCode::kResourceExhausted,
        "out of memory reading " + std::to_string(st.st_size) + " bytes",
        ErrorLocation{.file = path});
  }
  // A file that shrank underneath us gives the caller a short read.
  CP_ASSIGN_OR_RETURN(auto done, pread_full(fd->get(), out, path));
  out.resize(done);
  return std::optional<Bytes>(std::move(out));
}

Result<bool> Dir::unlink(std::string_view name) const {
  std::string n(name);
  if (::unlinkat(fd_.get(), n.c_str(), 0) == 0) return true;
  if (errno == ENOENT) return false;
  return io_error("unlink", child(name), errno);
}

bool Dir::remove_empty_dir(std::string_view name) const {
  std::string n(name);
  return ::unlinkat(fd_.get(), n.c_str(), AT_REMOVEDIR) == 0;
}

Result<TempFile> Dir::create_temp(std::string_view prefix) const {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Short enough that the owner fields still fit in a 255-byte name.
  std::string name = std::string(prefix.substr(0, 120)) +
                     std::string(kOwnerMark) + std::to_string(::getpid()) +
                     "~" + host_name() + "~" + std::to_string(rng()) +
                     std::string(kTempSuffix);
  Fd dir(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return io_error("dup", path_, errno);
  Fd file(::openat(fd_.get(), name.c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!file.valid()) return io_error("create temp file", child(name), errno);
  return TempFile(std::move(dir), path_, std::move(name), std::move(file));
}

void Dir::fsync() const { ::fsync(fd_.get()); }

Result<Fd> Dir::reopen() const {
  Fd fd(::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("open directory", path_, errno);
  return fd;
}

Result<FileLock> FileLock::lock(Fd fd, const std::string& path,
                                Deadline deadline,
                                std::chrono::milliseconds max_wait) {
  auto start = Clock::now();
  auto give_up = std::min(deadline.at(), start + max_wait);
  auto pause = std::chrono::microseconds(200);
  while (true) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
      return FileLock(std::move(fd));
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return io_error("flock", path, errno);
    auto now = Clock::now();
    if (now >= give_up) {
      auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      return make_error(
          ErrorCode::kDeadlineExceeded,
          "gave up waiting for lock after " + std::to_string(waited.count()) +
              " ms: another thread or process holds it (it is released when "
              "the holder finishes or exits)",
          ErrorLocation{.file = path});
    }
    std::this_thread::sleep_for(
        std::min<Clock::duration>(pause, give_up - now));
    pause = std::min<std::chrono::microseconds>(pause * 2,
                                                std::chrono::milliseconds(20));
  }
}

Result<FileLock> FileLock::acquire(const Dir& dir, std::string_view name,
                                   Deadline deadline,
                                   std::chrono::milliseconds max_wait) {
  std::string n(name);
  std::string path = dir.child(name);
  if (auto why = component_problem(name); !why.empty()) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                      "lock file name " + why, ErrorLocation{.file = path});
  }
  Fd fd(::openat(dir.fd(), n.c_str(),
                 O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    int err = errno;
    struct stat st {};
    if ((err == ELOOP || err == ENXIO || err == EISDIR) &&
        ::fstatat(dir.fd(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return unsafe_path(path, describe(st.st_mode));
    }
    return io_error("open lock", path, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return unsafe_path(path, describe(st.st_mode));
  return lock(std::move(fd), path, deadline, max_wait);
}

Result<FileLock> FileLock::acquire_dir(const Dir& dir, Deadline deadline,
                                       std::chrono::milliseconds max_wait) {
  CP_ASSIGN_OR_RETURN(auto fd, dir.reopen());
  return lock(std::move(fd), dir.path(), deadline, max_wait);
}

TempFile::TempFile(TempFile&& other) noexcept
    : dir_(std::move(other.dir_)),
      dir_path_(std::move(other.dir_path_)),
      name_(std::move(other.name_)),
      file_(std::move(other.file_)) {
  other.name_.clear();
}

TempFile::~TempFile() {
  if (!name_.empty() && dir_.valid()) ::unlinkat(dir_.get(), name_.c_str(), 0);
}

Result<void> TempFile::write(ByteSpan data) {
  if (!file_.valid()) {
    return make_error(ErrorCode::kInternal, "temp file already closed",
                      ErrorLocation{.file = path()});
  }
  return write_all(file_.get(), data, path());
}

Result<void> TempFile::write_at(uint64_t offset, ByteSpan data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(file_.get(), data.data(), data.size(),
                         static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path(), errno);
    }
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Result<void> TempFile::close(bool fsync) {
  if (!file_.valid()) return {};
  if (fsync && ::fsync(file_.get()) != 0)
    return io_error("fsync", path(), errno);
  if (file_.close() != 0) return io_error("close", path(), errno);
  return {};
}

Result<void> TempFile::commit_replace(const Dir& into,
                                      std::string_view target) {
  CP_TRY(close());
  std::string t(target);
  if (::renameat(dir_.get(), name_.c_str(), into.fd(), t.c_str()) != 0) {
    int err = errno;
    return make_error(
        err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
        "rename of temp file " + name_ + " to " + t +
            " failed: " + std::strerror(err) +
            (err == ENOENT ? " (the temp file was removed by someone else)"
                           : ""),
        ErrorLocation{.file = into.child(t)});
  }
  name_.clear();
  return {};
}

Result<void> TempFile::commit_if_absent(const Dir& into,
                                        std::string_view target) {
  CP_TRY(close());
  std::string t(target);
  if (::linkat(dir_.get(), name_.c_str(), into.fd(), t.c_str(), 0) != 0) {
    int err = errno;
    if (err == EEXIST) {
      return make_error(ErrorCode::kAlreadyExists, "entry exists",
                        ErrorLocation{.file = into.child(t)});
    }
    return make_error(
        err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
        "link of temp file " + name_ + " to " + t +
            " failed: " + std::strerror(err),
        ErrorLocation{.file = into.child(t)});
  }
  ::unlinkat(dir_.get(), name_.c_str(), 0);
  name_.clear();
  return {};
}

bool is_temp_name(std::string_view name) {
  return name.size() > kTempSuffix.size() && name.ends_with(kTempSuffix);
}

bool temp_owner_gone(std::string_view name) {
  auto owner = temp_owner(name);
  if (!owner || owner->host != host_name()) return false;
  if (owner->pid == ::getpid()) return false;
  return ::kill(owner->pid, 0) != 0 && errno == ESRCH;
}

uint64_t remove_dead_temps(const Dir& dir,
                           std::optional<std::chrono::seconds> max_age) {
  auto entries = dir.list();
  if (!entries) return 0;
  uint64_t removed = 0;
  auto now = std::chrono::system_clock::now();
  for (const auto& e : *entries) {
    if (e.kind != EntryKind::kFile || !is_temp_name(e.name)) continue;
    bool dead = temp_owner_gone(e.name);
    if (!dead && max_age) {
      auto owner = temp_owner(e.name);
      bool checkable = owner && owner->host == host_name();
      auto info = dir.stat(e.name);
      if (!checkable && info && *info) {
        auto mtime =
            std::chrono::system_clock::from_time_t((*info)->mtime.tv_sec);
        dead = now - mtime >= *max_age;
      }
    }
    if (dead && dir.unlink(e.name).value_or(false)) ++removed;
  }
  return removed;
}

}  // namespace cachepack::local_fs
