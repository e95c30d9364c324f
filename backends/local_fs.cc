#include "backends/local_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <thread>

#include "util/file.h"

namespace cachepack::local_fs {

Result<FileLock> FileLock::acquire(const std::string& path, Deadline deadline,
                                   std::chrono::milliseconds max_wait,
                                   bool create) {
  int flags = O_RDONLY | O_CLOEXEC;
  if (create) flags = O_RDWR | O_CREAT | O_CLOEXEC;
  Fd fd(::open(path.c_str(), flags, 0644));
  if (!fd.valid()) return io_error("open lock", path, errno);
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

bool is_temp_name(std::string_view name) {
  return name.size() > kTempSuffix.size() && name.ends_with(kTempSuffix);
}

Result<TempFile> TempFile::write(const std::string& dir,
                                 const std::string& prefix,
                                 std::span<const ByteSpan> parts, bool fsync) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string path = dir + "/" + prefix + "." + std::to_string(::getpid()) +
                     "." + std::to_string(rng()) + std::string(kTempSuffix);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return io_error("create temp file", path, errno);
  TempFile tmp(path);
  for (ByteSpan data : parts) {
    if (auto ok = write_all(fd.get(), data, path); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (fsync && ::fsync(fd.get()) != 0) return io_error("fsync", path, errno);
  if (::close(fd.release()) != 0) return io_error("close", path, errno);
  return tmp;
}

TempFile::~TempFile() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Result<void> TempFile::commit_replace(const std::string& target) {
  if (::rename(path_.c_str(), target.c_str()) != 0) {
    return io_error("rename", target, errno);
  }
  path_.clear();
  return {};
}

Result<void> TempFile::commit_if_absent(const std::string& target) {
  if (::link(path_.c_str(), target.c_str()) != 0) {
    if (errno == EEXIST) {
      return make_error(ErrorCode::kAlreadyExists, "entry exists",
                        ErrorLocation{.file = target});
    }
    return io_error("link", target, errno);
  }
  ::unlink(path_.c_str());
  path_.clear();
  return {};
}

Result<void> make_dirs(const std::string& path) {
  if (path.empty()) return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return make_error(ErrorCode::kInvalidArgument,
                      "exists and is not a directory",
                      ErrorLocation{.file = path});
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto r = make_dirs(path.substr(0, slash)); !r) return r;
  }
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return io_error("mkdir", path, errno);
  }
  return {};
}

void fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.valid()) ::fsync(fd.get());
}

Result<std::optional<Bytes>> read_whole(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<Bytes>();
    return io_error("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kDataLoss, "not a regular file",
                      ErrorLocation{.file = path});
  }
  Bytes out(static_cast<size_t>(st.st_size));
  // A file that shrank underneath us gives the caller a short read.
  auto done = pread_full(fd.get(), out, path);
  if (!done) return tl::unexpected(done.error());
  out.resize(*done);
  return std::optional<Bytes>(std::move(out));
}

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return names;
    return io_error("opendir", dir, errno);
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(d);
  return names;
}

uint64_t remove_stale_temps(const std::string& dir, int depth,
                            std::chrono::seconds max_age) {
  uint64_t removed = 0;
  auto names = list_dir(dir);
  if (!names) return 0;
  auto now = std::chrono::system_clock::now();
  for (const auto& name : *names) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth > 0) removed += remove_stale_temps(path, depth - 1, max_age);
      continue;
    }
    if (!S_ISREG(st.st_mode) || !is_temp_name(name)) continue;
    auto mtime = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
    if (now - mtime >= max_age && ::unlink(path.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace cachepack::local_fs
