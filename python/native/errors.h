// How cachepack's errors cross into Python: a cachepack::Error becomes an
// instance of the cachepack.Error hierarchy (python/cachepack/errors.py),
// carrying its code, reason, file, url, offset and key. Nothing else leaves
// the native module as a C++ exception: the translator installed here turns
// any other std::exception into cachepack.InternalError.
#ifndef CACHEPACK_PYTHON_NATIVE_ERRORS_H_
#define CACHEPACK_PYTHON_NATIVE_ERRORS_H_

#include <pybind11/pybind11.h>

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "cachepack/error.h"

namespace cachepack::python {

namespace py = pybind11;

// Carries an Error from code running without the GIL to the translator,
// which raises it in Python.
class NativeError : public std::exception {
 public:
  explicit NativeError(Error error)
      : error_(std::move(error)), text_(error_.to_string()) {}
  const Error& error() const { return error_; }
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  Error error_;
  std::string text_;
};

// The value of a Result, or throws its error as a NativeError.
template <typename T>
T unwrap(Result<T> result) {
  if (!result) throw NativeError(std::move(result).error());
  return std::move(*result);
}
inline void unwrap(Result<void> result) {
  if (!result) throw NativeError(std::move(result).error());
}

// kInvalidArgument with `message`, thrown.
[[noreturn]] void throw_invalid_argument(std::string message);

// The error with `file` filled in when it names neither a file nor a URL
// (readers over mapped bytes do not know the path).
Error in_file_if_unnamed(Error error, const std::string& file);

// `result`, its error naming `file` if it names nothing (and `file` is not
// empty).
template <typename T>
Result<T> named(Result<T> result, const std::string& file) {
  if (!result && !file.empty()) {
    return tl::unexpected(in_file_if_unnamed(std::move(result).error(), file));
  }
  return result;
}

// A cachepack.Error instance for `error`, not raised (populate reports
// per-artifact failures this way). Needs the GIL.
py::object to_python_error(const Error& error);

// Installs the exception translator. Call once from the module's init.
void register_error_translator();

// Keys and type names are bytes in cachepack and need not be UTF-8 in a
// bundle: they reach Python as str decoded with surrogateescape, and come
// back from str the same way (or as bytes), so every key round-trips.
py::str text_to_python(std::string_view text);
std::string text_from_python(py::handle value, const char* what);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_ERRORS_H_
