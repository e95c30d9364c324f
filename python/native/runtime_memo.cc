// cachepack.runtime's memoizers and isolation key (cachepack/runtime_memo.h,
// cachepack/runtime_isolation.h). The decorators themselves are Python
// (python/cachepack/_memo.py): they call the user's functions and encoders;
// the keys, the caches, the files and the dump are here.
#include "cachepack/runtime_memo.h"

#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cachepack/runtime_config.h"
#include "cachepack/runtime_isolation.h"
#include "python/native/errors.h"
#include "python/native/runtime.h"

namespace cachepack::python {
namespace {

namespace py = pybind11;
using pickle::Value;
using runtime::CacheEntry;

Value encoded(py::handle obj, ErrorReason reason, const char* what) {
  try {
    return to_value(obj);
  } catch (const NativeError& e) {
    throw NativeError(Error(
        ErrorCode::kInvalidArgument, reason,
        std::string(what) + " is not pickle-able: " + e.error().message()));
  }
}

py::object entry_tuple(const std::optional<CacheEntry>& e) {
  if (!e) return py::none();
  return py::make_tuple(from_value(e->encoded_params),
                        from_value(e->encoded_result));
}

CacheEntry entry_of(py::handle params, py::handle result) {
  return CacheEntry{
      encoded(params, ErrorReason::kValueEncoding, "encoded params"),
      encoded(result, ErrorReason::kValueEncoding, "encoded result")};
}

using Selection = std::variant<bool, std::vector<std::string>>;

runtime::ContextSelection selection_of(const Selection& s) {
  if (const bool* b = std::get_if<bool>(&s)) return *b;
  return runtime::ContextSelection::only(std::get<std::vector<std::string>>(s));
}

std::string isolation_key(const Selection& runtime_context,
                          const Selection& compile_context,
                          const std::string& inductor_configs,
                          const std::string& torch_determinism_configs,
                          const std::string& cuda_matmul_precision_configs,
                          std::optional<std::string> torch_version_hash,
                          std::optional<std::string> triton_version_hash,
                          std::optional<std::string> runtime_name,
                          std::optional<std::string> runtime_version,
                          std::optional<std::string> accelerator_properties) {
  runtime::IsolationSchema schema{selection_of(runtime_context),
                                  selection_of(compile_context)};
  runtime::IsolationContext c{inductor_configs,
                              torch_determinism_configs,
                              cuda_matmul_precision_configs,
                              std::move(torch_version_hash),
                              std::move(triton_version_hash),
                              std::move(runtime_name),
                              std::move(runtime_version),
                              std::move(accelerator_properties)};
  py::gil_scoped_release release;
  return unwrap(runtime::isolation_key(schema, c));
}

}  // namespace

void register_runtime_memo(py::module_& m) {
  m.def(
      "memo_key",
      [](py::handle encoded_params) {
        Value v = encoded(encoded_params, ErrorReason::kKeyEncoding,
                          "memoizer parameters");
        return unwrap(runtime::key_of_pickled(v));
      },
      py::arg("encoded_params"));
  m.def("isolation_key", &isolation_key, py::arg("runtime_context"),
        py::arg("compile_context"), py::arg("inductor_configs"),
        py::arg("torch_determinism_configs"),
        py::arg("cuda_matmul_precision_configs"), py::arg("torch_version_hash"),
        py::arg("triton_version_hash"), py::arg("runtime"),
        py::arg("runtime_version"), py::arg("accelerator_properties"));
  m.def("runtime_config", [] {
    const runtime::RuntimeConfig& c = runtime::runtime_config();
    py::dict d;
    d["caching_module_enabled"] = c.caching_module_enabled;
    d["force_disable_caches"] = c.force_disable_caches;
    d["dump_memoizer_cache"] = c.dump_memoizer_cache;
    d["cache_dump_file_path"] = c.cache_dump_file_path;
    return d;
  });
  m.def("torch_cache_dir", &runtime::torch_cache_dir);
  m.def(
      "pickle_cache_entry",
      [](py::handle params, py::handle result) {
        Bytes b = unwrap(runtime::pickle_cache_entry(entry_of(params, result)));
        return py::bytes(as_chars(b).data(), b.size());
      },
      py::arg("encoded_params"), py::arg("encoded_result"));

  py::class_<runtime::Memoizer>(m, "Memoizer")
      .def(py::init([](std::optional<std::string> sub_key) {
             return std::make_unique<runtime::Memoizer>(std::move(sub_key));
           }),
           py::arg("sub_key") = py::none())
      .def_property_readonly("sub_key", &runtime::Memoizer::sub_key)
      .def(
          "get",
          [](runtime::Memoizer& self, const std::string& key) {
            return entry_tuple(self.cache().get(key));
          },
          py::arg("key"))
      .def(
          "insert",
          [](runtime::Memoizer& self, std::string key, py::handle params,
             py::handle result) {
            return self.cache().insert(std::move(key),
                                       entry_of(params, result));
          },
          py::arg("key"), py::arg("encoded_params"), py::arg("encoded_result"))
      .def("__len__",
           [](runtime::Memoizer& self) { return self.cache().size(); })
      .def("cache_clear", &runtime::Memoizer::cache_clear)
      .def_property_readonly("dump_file_path",
                             &runtime::Memoizer::dump_file_path)
      .def("dump_to_disk",
           [](const runtime::Memoizer& self) {
             py::gil_scoped_release release;
             unwrap(self.dump_to_disk());
           })
      .def(
          "prepopulate_from_dump",
          [](runtime::Memoizer& self, const std::string& path) {
            py::gil_scoped_release release;
            return unwrap(self.prepopulate_from_dump(path));
          },
          py::arg("path"));

  py::class_<runtime::PersistentMemoizer>(m, "PersistentMemoizer")
      .def(py::init([](std::optional<std::string> sub_dir) {
             return std::make_unique<runtime::PersistentMemoizer>(
                 sub_dir.value_or(""));
           }),
           py::arg("sub_dir") = py::none())
      .def_property_readonly("memoizer", &runtime::PersistentMemoizer::memoizer,
                             py::return_value_policy::reference_internal)
      .def_property_readonly("cache_dir",
                             [](const runtime::PersistentMemoizer& self) {
                               return self.disk().cache_dir();
                             })
      .def(
          "lookup",
          [](runtime::PersistentMemoizer& self, const std::string& key) {
            std::optional<CacheEntry> e;
            {
              py::gil_scoped_release release;
              e = unwrap(self.lookup(key));
            }
            return entry_tuple(e);
          },
          py::arg("key"))
      .def(
          "store",
          [](runtime::PersistentMemoizer& self, const std::string& key,
             py::handle params, py::handle result) {
            CacheEntry e = entry_of(params, result);
            py::gil_scoped_release release;
            return unwrap(self.store(key, std::move(e)));
          },
          py::arg("key"), py::arg("encoded_params"), py::arg("encoded_result"))
      .def("cache_clear", &runtime::PersistentMemoizer::cache_clear);
}

}  // namespace cachepack::python
