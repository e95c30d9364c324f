#include "util/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace cachepack {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

int Fd::close() { return ::close(release()); }

Result<void> write_all(int fd, ByteSpan data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return {};
}

Result<void> pwrite_all(int fd, ByteSpan data, uint64_t at,
                        const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    data = data.subspan(static_cast<size_t>(n));
    at += static_cast<uint64_t>(n);
  }
  return {};
}

BufferedWriter::BufferedWriter(Fd fd, std::string path, uint64_t pos)
    : owned_(std::move(fd)),
      fd_(owned_.get()),
      path_(std::move(path)),
      pos_(pos) {
  buffer_.reserve(kBufferSize);
}

BufferedWriter BufferedWriter::borrowing(int fd, std::string path,
                                         uint64_t pos) {
  BufferedWriter out(Fd(), std::move(path), pos);
  out.fd_ = fd;
  return out;
}

Result<void> BufferedWriter::write(ByteSpan data) {
  pos_ += data.size();
  if (buffer_.size() + data.size() <= kBufferSize) {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
    return {};
  }
  CP_TRY(flush());
  if (data.size() >= kBufferSize) return write_all(fd_, data, path_);
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  return {};
}

Result<void> BufferedWriter::flush() {
  auto ok = write_all(fd_, buffer_, path_);
  buffer_.clear();
  return ok;
}

Result<void> BufferedWriter::close() {
  fd_ = -1;
  if (owned_.valid() && owned_.close() != 0) {
    return io_error("close", path_, errno);
  }
  return {};
}

Result<void> fsync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("fsync", dir, errno);
  return {};
}

Result<size_t> pread_full(int fd, std::span<std::byte> out,
                          const std::string& path) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                        static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read", path, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

tl::unexpected<Error> io_error(std::string_view operation,
                               const std::string& path, int errno_value) {
  ErrorCode code = ErrorCode::kIoError;
  if (errno_value == ENOENT) code = ErrorCode::kNotFound;
  if (errno_value == EACCES || errno_value == EPERM) {
    code = ErrorCode::kPermissionDenied;
  }
  ErrorReason reason = errno_value == EPIPE ? ErrorReason::kBrokenPipe
                                            : ErrorReason::kUnspecified;
  return make_error(
      code, reason,
      std::string(operation) + " failed: " + std::strerror(errno_value),
      ErrorLocation{.file = path});
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "not a regular file",
                      ErrorLocation{.file = path});
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return MappedFile(path, nullptr, 0);
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (data == MAP_FAILED) return io_error("mmap", path, errno);
  return MappedFile(path, static_cast<const std::byte*>(data), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() { reset(); }

void MappedFile::release(ByteSpan range) const {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto map_begin = reinterpret_cast<uintptr_t>(data_);
  const uintptr_t map_end = map_begin + size_;
  auto begin = reinterpret_cast<uintptr_t>(range.data());
  uintptr_t end = begin + range.size();
  if (data_ == nullptr || begin < map_begin || end > map_end) return;
  // Only pages wholly inside the range: their neighbours may still be read.
  // The mapping starts on a page and its last page is this file's alone.
  begin = (begin + page - 1) / page * page;
  end = end == map_end ? (end + page - 1) / page * page : end / page * page;
  if (end <= begin) return;
  // Advice only: a failure leaves the pages resident, which is still
  // correct.
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void MappedFile::reset() {
  if (data_ != nullptr) {
    ::munmap(const_cast<std::byte*>(data_), size_);
  }
  data_ = nullptr;
  size_ = 0;
}

Result<Bytes> read_file(const std::string& path) {
  CP_ASSIGN_OR_RETURN(auto mapped, MappedFile::open(path));
  ByteSpan b = mapped.bytes();
  return Bytes(b.begin(), b.end());
}

UnlinkUnlessKept::~UnlinkUnlessKept() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

}  // namespace cachepack
