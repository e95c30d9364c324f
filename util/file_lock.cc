#include "util/file_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <random>
#include <utility>

namespace cachepack {
namespace {

constexpr std::string_view kTempInfix = ".tmp-";
constexpr size_t kRandomChars = 6;

tl::unexpected<Error> busy(const std::string& path, std::string what) {
  return make_error(ErrorCode::kUnavailable, std::move(what),
                    ErrorLocation{.file = path});
}

// This host's name as it appears in temporary file names: letters, digits,
// '.', '_' and '-' only.
const std::string& host_name() {
  static const std::string name = [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
      return std::string("localhost");
    }
    std::string out(buf);
    for (char& c : out) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      if (!ok) c = '_';
    }
    return out;
  }();
  return name;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// HOST and PID from the part of a temporary name after ".tmp-":
// "HOST-PID-RANDOM" (HOST may itself contain '-').
bool parse_temp_suffix(std::string_view suffix, std::string& host, pid_t& pid) {
  size_t last = suffix.rfind('-');
  if (last == std::string_view::npos ||
      suffix.size() - last - 1 != kRandomChars) {
    return false;
  }
  size_t before = suffix.rfind('-', last - 1);
  if (before == std::string_view::npos || before == 0) return false;
  std::string_view digits = suffix.substr(before + 1, last - before - 1);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  host = std::string(suffix.substr(0, before));
  pid = static_cast<pid_t>(std::stol(std::string(digits)));
  return pid > 0;
}

std::string directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

Result<PathLock> PathLock::acquire(const std::string& path, int open_flags) {
  // The file at `path` may be replaced between open and flock (a writer
  // renaming its result over it): then the lock is on a file that is no
  // longer there, and the one now at `path` is tried instead.
  for (int attempt = 0;; ++attempt) {
    Fd fd(::open(path.c_str(), open_flags | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) return io_error("open", path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (e == EWOULDBLOCK) {
        return busy(path,
                    "another cachepack process is writing this file (append, "
                    "sign, convert or pack); try again when it has finished");
      }
      return io_error("lock", path, e);
    }
    PathLock lock(std::move(fd), path);
    if (lock.still_at_path()) {
      int flags = ::fcntl(lock.fd(), F_GETFL);
      if (flags >= 0) ::fcntl(lock.fd(), F_SETFL, flags & ~O_NONBLOCK);
      return lock;
    }
    if (attempt == 100) {
      return busy(path, "the file keeps being replaced while locking it");
    }
  }
}

bool PathLock::still_at_path() const {
  struct stat locked {
  }, named{};
  return ::fstat(fd_.get(), &locked) == 0 &&
         ::stat(path_.c_str(), &named) == 0 && same_file(locked, named);
}

std::string temp_file_name(const std::string& path) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937 rng(std::random_device{}());
  std::string random;
  for (size_t i = 0; i < kRandomChars; ++i) {
    random += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  }
  return path + std::string(kTempInfix) + host_name() + "-" +
         std::to_string(::getpid()) + "-" + random;
}

Result<size_t> remove_stale_temp_files(const std::string& path) {
  std::string dir = directory_of(path);
  std::string prefix =
      std::filesystem::path(path).filename().string() + std::string(kTempInfix);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return size_t{0};  // Creating the temp file will say why.
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  size_t removed = 0;
  while (dirent* entry = ::readdir(d)) {
    std::string_view name(entry->d_name);
    if (!name.starts_with(prefix)) continue;
    std::string host;
    pid_t pid = 0;
    if (!parse_temp_suffix(name.substr(prefix.size()), host, pid)) continue;
    std::string temp = dir + "/" + std::string(name);
    Fd fd(::open(temp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) continue;
      return busy(path, "another cachepack process (pid " +
                            std::to_string(pid) + " on " + host +
                            ") is writing this file: its temporary file " +
                            temp + " is in use");
    }
    if (host != host_name() || process_exists(pid)) continue;
    // Ours to remove: unlocked, and its writer is gone. Still the same
    // file (not replaced since it was opened)?
    struct stat named {};
    if (::stat(temp.c_str(), &named) == 0 && same_file(st, named) &&
        ::unlink(temp.c_str()) == 0) {
      ++removed;
    }
  }
  return removed;
}

Result<ReplacementFile> ReplacementFile::create(const std::string& path) {
  ReplacementFile file;
  file.path_ = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    CP_ASSIGN_OR_RETURN(auto lock, PathLock::acquire(path));
    file.target_.emplace(std::move(lock));
  } else if (errno != ENOENT) {
    return io_error("stat", path, errno);
  }
  CP_TRY(remove_stale_temp_files(path));
  for (int attempt = 0; !file.temp_.valid(); ++attempt) {
    std::string temp = temp_file_name(path);
    file.temp_ =
        Fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (file.temp_.valid()) {
      file.temp_path_ = temp;
    } else if (errno != EEXIST || attempt == 100) {
      return io_error("create temporary file for", path, errno);
    }
  }
  ::fchmod(file.temp_.get(), 0644);
  // Nobody else knows the name yet, so this cannot fail for contention.
  if (::flock(file.temp_.get(), LOCK_EX | LOCK_NB) != 0) {
    return io_error("lock", file.temp_path_, errno);
  }
  return file;
}

ReplacementFile::ReplacementFile(ReplacementFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::exchange(other.temp_path_, {})),
      temp_(std::move(other.temp_)),
      target_(std::move(other.target_)),
      committed_(other.committed_) {}

ReplacementFile& ReplacementFile::operator=(ReplacementFile&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    temp_ = std::move(other.temp_);
    target_ = std::move(other.target_);
    committed_ = other.committed_;
    other.temp_path_.clear();
    other.target_.reset();
  }
  return *this;
}

ReplacementFile::~ReplacementFile() { discard(); }

void ReplacementFile::discard() {
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

Result<void> ReplacementFile::commit(bool fsync) {
  if (committed_ || temp_path_.empty()) {
    return make_error(ErrorCode::kInternal, "replacement file already used",
                      ErrorLocation{.file = path_});
  }
  if (fsync && ::fsync(temp_.get()) != 0) {
    return io_error("fsync", temp_path_, errno);
  }
  if (temp_.close() != 0) return io_error("close", temp_path_, errno);
  if (target_) {
    if (!target_->still_at_path()) {
      return busy(path_,
                  "the file was replaced by another program while this one "
                  "was writing; it was left as it is and this output "
                  "discarded");
    }
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      return io_error("rename", path_, errno);
    }
  } else if (::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, path_.c_str(),
                         RENAME_NOREPLACE) != 0) {
    int e = errno;
    if (e == EINVAL || e == ENOSYS) {
      // A file system without RENAME_NOREPLACE: link() never replaces.
      if (::link(temp_path_.c_str(), path_.c_str()) != 0)
        e = errno;
      else
        e = 0;
      if (e == 0) ::unlink(temp_path_.c_str());
    }
    if (e == EEXIST) {
      return busy(path_,
                  "the file was created by another writer while this one was "
                  "writing; it was left as it is and this output discarded");
    }
    if (e != 0) return io_error("rename", path_, e);
  }
  committed_ = true;
  temp_path_.clear();
  if (fsync) return fsync_directory_of(path_);
  return {};
}

Result<void> write_file_replacing(const std::string& path, ByteSpan data,
                                  bool fsync) {
  CP_ASSIGN_OR_RETURN(auto file, ReplacementFile::create(path));
  CP_TRY(write_all(file.fd(), data, file.temp_path()));
  return file.commit(fsync);
}

}  // namespace cachepack
