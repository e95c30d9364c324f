#include "python/native/runtime.h"

#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cachepack/pickle.h"
#include "cachepack/runtime_cache.h"
#include "cachepack/runtime_locks.h"
#include "python/native/errors.h"

namespace cachepack::python {

namespace py = pybind11;
using pickle::Value;

namespace {
[[noreturn]] void unsupported(py::handle obj) {
  throw NativeError(
      Error(ErrorCode::kInvalidArgument, ErrorReason::kUnsupportedPickle,
            "a " + std::string(py::str(py::type::of(obj).attr("__name__"))) +
                " is not one of the kinds cachepack pickles (None, bool, int, "
                "str, bytes, tuple, list, dict)"));
}

}  // namespace

// Exact types only, as the pickler dispatches on them: a subclass of str
// pickles as a class instance.
Value to_value(py::handle obj, int depth) {
  if (depth > 1000) {
    throw NativeError(Error(ErrorCode::kInvalidArgument,
                            ErrorReason::kLimitExceeded,
                            "value nested deeper than 1000 levels"));
  }
  PyObject* o = obj.ptr();
  if (o == Py_None) return pickle::None{};
  if (PyBool_Check(o)) return o == Py_True;
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (!overflow) return static_cast<int64_t>(v);
    py::int_ i = py::reinterpret_borrow<py::int_>(obj);
    size_t n = py::cast<size_t>(i.attr("bit_length")()) / 8 + 1;
    py::bytes b = i.attr("to_bytes")(n, "little", py::arg("signed") = true);
    return pickle::Int::from_le_bytes(as_bytes(std::string_view(b)));
  }
  if (PyUnicode_CheckExact(o)) {
    py::bytes b = py::reinterpret_steal<py::bytes>(
        PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass"));
    if (!b) throw py::error_already_set();
    return std::string(std::string_view(b));
  }
  if (PyBytes_CheckExact(o)) {
    return to_bytes(std::string_view(py::reinterpret_borrow<py::bytes>(obj)));
  }
  if (PyTuple_CheckExact(o) || PyList_CheckExact(o)) {
    std::vector<Value> items;
    for (py::handle item : obj) items.push_back(to_value(item, depth + 1));
    if (PyTuple_CheckExact(o)) return pickle::Tuple{std::move(items)};
    return pickle::List{std::move(items)};
  }
  if (PyDict_CheckExact(o)) {
    pickle::Dict d;
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(obj)) {
      d.items.push_back({to_value(k, depth + 1), to_value(v, depth + 1)});
    }
    return d;
  }
  unsupported(obj);
}

py::object from_value(const Value& v) {
  switch (v.kind()) {
    case pickle::Kind::kNone:
      return py::none();
    case pickle::Kind::kBool:
      return py::bool_(*v.as<bool>());
    case pickle::Kind::kInt: {
      const pickle::Int& i = *v.as<pickle::Int>();
      if (std::optional<int64_t> small = i.to_int64()) {
        return py::int_(static_cast<long long>(*small));
      }
      py::bytes b(as_chars(i.le_bytes()).data(), i.le_bytes().size());
      return py::module_::import("builtins")
          .attr("int")
          .attr("from_bytes")(b, "little", py::arg("signed") = true);
    }
    case pickle::Kind::kStr: {
      const std::string& s = *v.as<std::string>();
      PyObject* o = PyUnicode_DecodeUTF8(
          s.data(), static_cast<Py_ssize_t>(s.size()), "surrogatepass");
      if (!o) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(o);
    }
    case pickle::Kind::kBytes:
      return py::bytes(as_chars(*v.as<Bytes>()).data(), v.as<Bytes>()->size());
    case pickle::Kind::kTuple: {
      const auto& items = v.as<pickle::Tuple>()->items;
      py::tuple t(items.size());
      for (size_t i = 0; i < items.size(); ++i) t[i] = from_value(items[i]);
      return std::move(t);
    }
    case pickle::Kind::kList: {
      py::list l;
      for (const Value& item : v.as<pickle::List>()->items) {
        l.append(from_value(item));
      }
      return std::move(l);
    }
    case pickle::Kind::kDict: {
      py::dict d;
      for (const pickle::DictItem& item : v.as<pickle::Dict>()->items) {
        d[from_value(item.key)] = from_value(item.value);
      }
      return std::move(d);
    }
  }
  return py::none();
}

namespace {

py::bytes dumps(py::handle obj, int protocol) {
  Value v = to_value(obj, 0);
  Bytes out;
  {
    py::gil_scoped_release release;
    out = unwrap(pickle::dumps(v, {.protocol = protocol}));
  }
  return py::bytes(as_chars(out).data(), out.size());
}

py::object loads(py::buffer data) {
  py::buffer_info info = data.request();
  ByteSpan span(static_cast<const std::byte*>(info.ptr),
                static_cast<size_t>(info.size * info.itemsize));
  Value v;
  {
    py::gil_scoped_release release;
    v = unwrap(pickle::loads(span));
  }
  return from_value(v);
}

// A key or value that cannot become a Value, as the caches report it.
Value to_cache_value(py::handle obj, ErrorReason reason, const char* what) {
  try {
    return to_value(obj, 0);
  } catch (const NativeError& e) {
    throw NativeError(Error(
        ErrorCode::kInvalidArgument, reason,
        std::string(what) + " is not pickle-able: " + e.error().message()));
  }
}

// get/insert for any runtime::Cache, without the GIL while it works.
template <typename C>
py::object cache_get(C& cache, py::handle key) {
  Value k = to_cache_value(key, ErrorReason::kKeyEncoding, "key");
  std::optional<Value> v;
  {
    py::gil_scoped_release release;
    v = unwrap(cache.get(k));
  }
  return v ? from_value(*v) : py::none();
}

template <typename C>
bool cache_insert(C& cache, py::handle key, py::handle value) {
  Value k = to_cache_value(key, ErrorReason::kKeyEncoding, "key");
  Value v = to_cache_value(value, ErrorReason::kValueEncoding, "value");
  py::gil_scoped_release release;
  return unwrap(cache.insert(k, v));
}

}  // namespace

Value value_from_python(py::handle obj) { return to_value(obj, 0); }
py::object value_to_python(const Value& value) { return from_value(value); }

void register_runtime(py::module_& m) {
  m.def("pickle_dumps", &dumps, py::arg("obj"), py::arg("protocol") = 4);
  m.def("pickle_loads", &loads, py::arg("data"));
  m.def("python_gettempdir", &runtime::python_gettempdir);
  m.def("torch_default_cache_dir", &runtime::torch_default_cache_dir);

  py::class_<runtime::FileLock>(m, "FileLock")
      .def_static(
          "acquire",
          [](const std::string& path, std::optional<double> timeout) {
            py::gil_scoped_release release;
            return unwrap(runtime::FileLock::acquire(path, timeout));
          },
          py::arg("path"), py::arg("timeout") = py::none())
      .def_property_readonly("path", &runtime::FileLock::path)
      .def("release", &runtime::FileLock::release);

  py::class_<runtime::InMemoryCache>(m, "InMemoryCache")
      .def(py::init<>())
      .def("get", &cache_get<runtime::InMemoryCache>, py::arg("key"))
      .def("insert", &cache_insert<runtime::InMemoryCache>, py::arg("key"),
           py::arg("value"))
      .def("__len__", &runtime::InMemoryCache::size)
      .def_static(
          "from_env_var",
          [](const std::string& name) {
            return unwrap(runtime::InMemoryCache::from_env_var(name));
          },
          py::arg("name"))
      .def_static(
          "from_file_path",
          [](const std::string& path) {
            return unwrap(runtime::InMemoryCache::from_file_path(path));
          },
          py::arg("path"));

  py::class_<runtime::OnDiskCache>(m, "OnDiskCache")
      .def(py::init([](std::optional<std::string> name) {
             return std::make_unique<runtime::OnDiskCache>(name.value_or(""));
           }),
           py::arg("name") = py::none())
      .def_static("inductor", &runtime::OnDiskCache::inductor)
      .def_static("at", &runtime::OnDiskCache::at, py::arg("base_dir"))
      .def_property_readonly("base_dir", &runtime::OnDiskCache::base_dir)
      .def(
          "path_for",
          [](const runtime::OnDiskCache& c, py::handle key) {
            return unwrap(c.path_for(
                to_cache_value(key, ErrorReason::kKeyEncoding, "key")));
          },
          py::arg("key"))
      .def("get", &cache_get<runtime::OnDiskCache>, py::arg("key"))
      .def("insert", &cache_insert<runtime::OnDiskCache>, py::arg("key"),
           py::arg("value"));
}

}  // namespace cachepack::python
