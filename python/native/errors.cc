#include "python/native/errors.h"

#include <new>
#include <optional>

namespace cachepack::python {
namespace {

// The names errors.py gives the codes and reasons (ErrorCode, ErrorReason).
// Exhaustive switches: a new enumerator in cachepack/error.h warns here.
const char* code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kDataLoss:
      return "data_loss";
    case ErrorCode::kUnimplemented:
      return "unimplemented";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

const char* reason_name(ErrorReason reason) {
  switch (reason) {
    case ErrorReason::kUnspecified:
      return "unspecified";
    case ErrorReason::kTooShort:
      return "too_short";
    case ErrorReason::kChecksumMismatch:
      return "checksum_mismatch";
    case ErrorReason::kUnsupportedVersion:
      return "unsupported_version";
    case ErrorReason::kUnknownType:
      return "unknown_type";
    case ErrorReason::kInvalidUtf8:
      return "invalid_utf8";
    case ErrorReason::kInvalidBase64:
      return "invalid_base64";
    case ErrorReason::kLengthOverrun:
      return "length_overrun";
    case ErrorReason::kTrailingBytes:
      return "trailing_bytes";
    case ErrorReason::kInvalidKey:
      return "invalid_key";
    case ErrorReason::kInvalidContent:
      return "invalid_content";
    case ErrorReason::kBadMagic:
      return "bad_magic";
    case ErrorReason::kLimitExceeded:
      return "limit_exceeded";
    case ErrorReason::kSignature:
      return "signature";
    case ErrorReason::kBadFooter:
      return "bad_footer";
    case ErrorReason::kBadIndex:
      return "bad_index";
    case ErrorReason::kDecompression:
      return "decompression";
    case ErrorReason::kUnsafePath:
      return "unsafe_path";
    case ErrorReason::kBrokenPipe:
      return "broken_pipe";
    case ErrorReason::kInvalidJson:
      return "invalid_json";
    case ErrorReason::kEnvironmentMismatch:
      return "environment_mismatch";
    case ErrorReason::kUnsupportedPickle:
      return "unsupported_pickle";
    case ErrorReason::kLockTimeout:
      return "lock_timeout";
    case ErrorReason::kFileLockTimeout:
      return "file_lock_timeout";
    case ErrorReason::kKeyEncoding:
      return "key_encoding";
    case ErrorReason::kValueEncoding:
      return "value_encoding";
    case ErrorReason::kValueDecoding:
      return "value_decoding";
  }
  return "unspecified";
}

py::object optional_text(const std::string& text) {
  if (text.empty()) return py::none();
  return text_to_python(text);
}

// Raises `error` as the current Python exception.
void set_python_error(const Error& error) {
  py::object exception = to_python_error(error);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())),
                  exception.ptr());
}

}  // namespace

void throw_invalid_argument(std::string message) {
  throw NativeError(Error(ErrorCode::kInvalidArgument,
                          ErrorReason::kUnspecified, std::move(message)));
}

Error in_file_if_unnamed(Error error, const std::string& file) {
  if (error.where().file.empty() && error.where().url.empty()) {
    error.in_file(file);
  }
  return error;
}

py::object to_python_error(const Error& error) {
  const ErrorLocation& where = error.where();
  py::object factory =
      py::module_::import("cachepack.errors").attr("_from_native");
  return factory(
      code_name(error.code()), reason_name(error.reason()),
      text_to_python(error.message()), text_to_python(error.to_string()),
      optional_text(where.file), optional_text(where.url),
      where.offset ? py::object(py::int_(*where.offset)) : py::none(),
      where.key ? py::object(text_to_python(*where.key)) : py::none());
}

void register_error_translator() {
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const NativeError& e) {
      set_python_error(e.error());
    } catch (const py::error_already_set&) {
      throw;  // A Python exception already: pybind11 restores it.
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own (cast errors...): its translator maps them.
    } catch (const std::bad_alloc&) {
      throw;  // MemoryError.
    } catch (const std::exception& e) {
      set_python_error(
          Error(ErrorCode::kInternal, ErrorReason::kUnspecified,
                std::string("unexpected C++ exception: ") + e.what()));
    }
  });
}

py::str text_to_python(std::string_view text) {
  PyObject* s = PyUnicode_DecodeUTF8(
      text.data(), static_cast<Py_ssize_t>(text.size()), "surrogateescape");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

std::string text_from_python(py::handle value, const char* what) {
  if (py::isinstance<py::bytes>(value)) return value.cast<std::string>();
  if (!py::isinstance<py::str>(value)) {
    throw_invalid_argument(
        std::string(what) + " must be str or bytes, not " +
        std::string(py::str(py::type::of(value).attr("__name__"))));
  }
  PyObject* b =
      PyUnicode_AsEncodedString(value.ptr(), "utf-8", "surrogateescape");
  if (b == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::bytes>(b).cast<std::string>();
}

}  // namespace cachepack::python
