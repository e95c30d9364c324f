#include "python/native/errors.h"

#include <new>
#include <optional>

namespace cachepack::python {
namespace {

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
      identifier(error.code()), identifier(error.reason()),
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
