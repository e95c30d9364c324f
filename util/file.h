// File helpers with RAII ownership: a read-only memory map for zero-copy
// reading, a buffered writer for many small writes, and an atomic whole-file
// write (temp file, optional fsync, rename) so a reader never sees a
// half-written file.
#ifndef CACHEPACK_UTIL_FILE_H_
#define CACHEPACK_UTIL_FILE_H_

#include <cstdint>
#include <string>

#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack {

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes now and returns close(2)'s result, which can report a failed
  // write that the destructor would swallow.
  int close();

 private:
  int fd_ = -1;
};

// A file mapped read-only into memory; unmapped on destruction. Empty files
// map to an empty span (mmap cannot map zero bytes).
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  ByteSpan bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Drops the whole pages of `range` (a part of bytes()) from this
  // process's resident memory. The bytes stay readable: a later read faults
  // them back in from the page cache. Reading a large file front to back
  // and releasing behind keeps residency bounded (bundle_convert.cc).
  void release(ByteSpan range) const;

 private:
  MappedFile(std::string path, const std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  void reset();

  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

Result<Bytes> read_file(const std::string& path);

// Whole files are replaced through util/file_lock.h's write_file_replacing:
// one temp-file-and-rename writer, under the writers' lock.

// Writes all of `data` to `fd`, retrying short writes and EINTR; `path`
// names the file in errors.
Result<void> write_all(int fd, ByteSpan data, const std::string& path);

// Writes all of `data` at file offset `at` (pwrite: the file position is
// unchanged), retrying short writes and EINTR; `path` names the file in
// errors.
Result<void> pwrite_all(int fd, ByteSpan data, uint64_t at,
                        const std::string& path);

// Removes a half-made file on every error path: unlinks `path` when it goes
// out of scope unless keep() was called once the file is complete.
class UnlinkUnlessKept {
 public:
  explicit UnlinkUnlessKept(std::string path) : path_(std::move(path)) {}
  UnlinkUnlessKept(const UnlinkUnlessKept&) = delete;
  UnlinkUnlessKept& operator=(const UnlinkUnlessKept&) = delete;
  ~UnlinkUnlessKept();
  void keep() { path_.clear(); }

 private:
  std::string path_;
};

// Writes to a descriptor through a 1 MiB buffer, so many small writes cost
// few system calls. Owns the descriptor (closes it) or borrows it (its owner
// closes it). pos() is the file offset of the next byte written.
class BufferedWriter {
 public:
  BufferedWriter() = default;
  // Takes ownership of `fd`.
  BufferedWriter(Fd fd, std::string path, uint64_t pos);
  // Writes to `fd` without owning it.
  static BufferedWriter borrowing(int fd, std::string path, uint64_t pos);

  int fd() const { return fd_; }
  uint64_t pos() const { return pos_; }

  Result<void> write(ByteSpan data);
  Result<void> flush();
  // Closes an owned descriptor; a borrowed one is left to its owner. The
  // writer has no descriptor afterwards.
  Result<void> close();

 private:
  static constexpr size_t kBufferSize = 1 << 20;

  Fd owned_;     // Invalid when the descriptor is borrowed.
  int fd_ = -1;  // owned_.get() or the borrowed descriptor.
  std::string path_;
  uint64_t pos_ = 0;
  Bytes buffer_;
};

// fsyncs the directory that holds `path`, so a rename or creation in it is
// durable.
Result<void> fsync_directory_of(const std::string& path);

// Reads from offset 0 until `out` is full or the file ends, retrying short
// reads and EINTR; returns the bytes read (fewer at end of file).
Result<size_t> pread_full(int fd, std::span<std::byte> out,
                          const std::string& path);

// An I/O error naming the operation, the path and errno's text; EPIPE (the
// reader of a pipe has gone) has reason kBrokenPipe.
tl::unexpected<Error> io_error(std::string_view operation,
                               const std::string& path, int errno_value);

}  // namespace cachepack

#endif  // CACHEPACK_UTIL_FILE_H_
