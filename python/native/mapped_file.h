// A read-only memory map of a whole file, and memoryviews of bytes that some
// owner keeps alive. Bundles read from a map, and reads hand out views of it
// without copying: each view holds the owner, so the bytes outlive the
// Bundle that gave them out.
#ifndef CACHEPACK_PYTHON_NATIVE_MAPPED_FILE_H_
#define CACHEPACK_PYTHON_NATIVE_MAPPED_FILE_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::python {

namespace py = pybind11;

class MappedFile {
  // Only open() constructs; the private tag lets it use std::make_shared.
  struct Tag {
    explicit Tag() = default;
  };

 public:
  MappedFile(Tag, std::string path, const std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  // kNotFound, kPermissionDenied or kIoError naming `path`, as the library
  // reports files it cannot open; kInvalidArgument for a non-regular file.
  static Result<std::shared_ptr<const MappedFile>> open(
      const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  ByteSpan bytes() const { return {data_, size_}; }

 private:
  std::string path_;
  const std::byte* data_;
  size_t size_;
};

// The bytes of a Python bytes-like object (bytes, bytearray, memoryview,
// mmap...), exported contiguously for as long as this lives. Construct and
// destroy it with the GIL held; the bytes may be read without it.
class PythonBytes {
 public:
  explicit PythonBytes(py::handle object);
  PythonBytes(const PythonBytes&) = delete;
  PythonBytes& operator=(const PythonBytes&) = delete;
  ~PythonBytes();

  ByteSpan bytes() const {
    return {static_cast<const std::byte*>(view_.buf),
            static_cast<size_t>(view_.len)};
  }

 private:
  Py_buffer view_{};
};

// A read-only memoryview of `data`, which `owner` keeps valid.
py::memoryview borrowed_view(std::shared_ptr<const void> owner, ByteSpan data);

// Registers the buffer type behind borrowed_view().
void register_buffers(py::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_MAPPED_FILE_H_
