#include "python/native/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "python/native/errors.h"

namespace cachepack::python {
namespace {

// As the library's own file errors (util/file.cc): the operation, errno's
// text, the file; ENOENT is kNotFound, EACCES/EPERM kPermissionDenied.
Error file_error(std::string_view operation, const std::string& path,
                 int errno_value) {
  ErrorCode code = ErrorCode::kIoError;
  if (errno_value == ENOENT) code = ErrorCode::kNotFound;
  if (errno_value == EACCES || errno_value == EPERM) {
    code = ErrorCode::kPermissionDenied;
  }
  return Error(
      code, ErrorReason::kUnspecified,
      std::string(operation) + " failed: " + std::strerror(errno_value),
      ErrorLocation{.file = path});
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// What a memoryview from borrowed_view() exports: the bytes and their owner.
struct BorrowedBytes {
  std::shared_ptr<const void> owner;
  ByteSpan data;
};

}  // namespace

Result<std::shared_ptr<const MappedFile>> MappedFile::open(
    const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return tl::unexpected(file_error("open", path, errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return tl::unexpected(file_error("stat", path, errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "not a regular file",
                      ErrorLocation{.file = path});
  }
  size_t size = static_cast<size_t>(st.st_size);
  const std::byte* data = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED) {
      return tl::unexpected(file_error("mmap", path, errno));
    }
    data = static_cast<const std::byte*>(mapped);
  }
  return std::make_shared<const MappedFile>(Tag(), path, data, size);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    ::munmap(const_cast<std::byte*>(data_), size_);
  }
}

PythonBytes::PythonBytes(py::handle object) {
  if (!PyObject_CheckBuffer(object.ptr())) {
    throw NativeError(Error(
        ErrorCode::kInvalidArgument, ErrorReason::kUnspecified,
        "content must be bytes-like (bytes, bytearray, memoryview), not " +
            std::string(py::str(py::type::of(object).attr("__name__")))));
  }
  if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_SIMPLE) != 0) {
    throw py::error_already_set();
  }
}

PythonBytes::~PythonBytes() { PyBuffer_Release(&view_); }

py::memoryview borrowed_view(std::shared_ptr<const void> owner, ByteSpan data) {
  py::object exporter = py::cast(BorrowedBytes{std::move(owner), data});
  return py::memoryview(exporter);
}

void register_buffers(py::module_& m) {
  py::class_<BorrowedBytes>(m, "_BorrowedBytes", py::buffer_protocol())
      .def_buffer([](BorrowedBytes& b) {
        static std::byte empty{};
        void* data =
            const_cast<std::byte*>(b.data.empty() ? &empty : b.data.data());
        return py::buffer_info(data, 1, "B", 1,
                               {static_cast<py::ssize_t>(b.data.size())}, {1},
                               /*readonly=*/true);
      });
}

}  // namespace cachepack::python
