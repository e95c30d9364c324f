// cachepack.runtime's fcache/dcache/icache (cachepack/runtime_interfaces.h) for
// Python. The C++ caches run without the GIL; whenever they need Python (a
// params encoder, the function being recorded) a callback takes the GIL,
// and a Python exception raised there is re-raised unchanged once the C++
// call has returned. Python objects become pickle::Values only where the
// cache needs them, so the caching module switch and the deterministic
// checks come first, as in torch.
#include <pybind11/stl.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "cachepack/runtime_interfaces.h"
#include "python/native/errors.h"
#include "python/native/runtime.h"

namespace cachepack::python {
namespace {

namespace py = pybind11;
using pickle::Value;
using runtime::MemoCache;
using runtime::MemoOptions;
using runtime::Params;

// Python code run from a C++ callback.
class Callbacks {
 public:
  template <typename F>
  Result<Value> run(F&& f) {
    py::gil_scoped_acquire gil;
    try {
      return f();
    } catch (const NativeError& e) {
      return tl::unexpected(e.error());
    } catch (const py::error_already_set&) {
      raised_ = std::current_exception();
      return make_error(ErrorCode::kInternal, "a Python callback raised");
    }
  }
  // With the GIL held: the callback's Python exception, if there was one,
  // else the error.
  template <typename T>
  T unwrap_or_reraise(Result<T> r) {
    if (raised_) std::rethrow_exception(raised_);
    return unwrap(std::move(r));
  }

 private:
  std::exception_ptr raised_;
};

Value convert(py::handle obj, ErrorReason reason, const std::string& what) {
  try {
    return value_from_python(obj);
  } catch (const NativeError& e) {
    throw NativeError(Error(ErrorCode::kInvalidArgument, reason,
                            what + ": " + e.error().message()));
  }
}

// The key's params part: `params` as given, or custom_params_encoder(
// *params[0], **params[1]), as torch's _make_key.
MemoOptions options_for(Callbacks& cb, const std::string& fn_name,
                        py::handle params, py::handle params_encoder,
                        std::string isolation_key) {
  MemoOptions o{.isolation_key = std::move(isolation_key)};
  o.custom_params_encoder = [&cb, fn_name, params,
                             params_encoder](const Params&) -> Result<Value> {
    return cb.run([&]() -> Result<Value> {
      py::object p = py::reinterpret_borrow<py::object>(params);
      if (!params_encoder.is_none()) {
        py::tuple pair = py::reinterpret_borrow<py::tuple>(params);
        p = params_encoder(*pair[0], **pair[1]);
      }
      return convert(p, ErrorReason::kCustomParamsEncoderRequired,
                     "custom params encoder required for function " + fn_name);
    });
  };
  return o;
}

py::object get(MemoCache& cache, const std::string& fn_name, py::handle params,
               const std::string& isolation_key, py::handle params_encoder) {
  Callbacks cb;
  MemoOptions o =
      options_for(cb, fn_name, params, params_encoder, isolation_key);
  Result<std::optional<Value>> r;
  {
    py::gil_scoped_release release;
    r = cache.get(fn_name, Params{}, o);
  }
  std::optional<Value> hit = cb.unwrap_or_reraise(std::move(r));
  if (!hit) return py::none();
  return py::make_tuple(value_to_python(*hit));
}

bool insert(MemoCache& cache, const std::string& fn_name, py::handle params,
            py::handle result, const std::string& isolation_key,
            py::handle params_encoder, py::handle result_encoder) {
  Callbacks cb;
  MemoOptions o =
      options_for(cb, fn_name, params, params_encoder, isolation_key);
  o.custom_result_encoder = [&](const Value&) -> Result<Value> {
    return cb.run([&]() -> Result<Value> {
      py::object r = py::reinterpret_borrow<py::object>(result);
      if (!result_encoder.is_none()) r = result_encoder(r);
      return convert(r, ErrorReason::kCustomResultEncoderRequired,
                     "custom result encoder required for function " + fn_name);
    });
  };
  Result<bool> r;
  {
    py::gil_scoped_release release;
    r = cache.insert(fn_name, Params{}, Value(), o);
  }
  return cb.unwrap_or_reraise(std::move(r));
}

// (cached, value): the stored value to decode, or fn's own result.
py::tuple record(MemoCache& cache, const std::string& fn_name, py::tuple args,
                 py::dict kwargs, py::handle fn,
                 const std::string& isolation_key, py::handle params_encoder,
                 py::handle result_encoder) {
  Callbacks cb;
  py::tuple params = py::make_tuple(args, kwargs);
  MemoOptions o =
      options_for(cb, fn_name, params, params_encoder, isolation_key);
  py::object raw;
  auto call = [&]() -> Result<Value> {
    return cb.run([&]() -> Result<Value> {
      raw = fn(*args, **kwargs);
      py::object r = raw;
      if (!result_encoder.is_none()) r = result_encoder(r);
      return convert(r, ErrorReason::kCustomResultEncoderRequired,
                     "custom result encoder required for function " + fn_name);
    });
  };
  Result<MemoCache::Recorded> r;
  {
    py::gil_scoped_release release;
    r = cache.record_call(fn_name, Params{}, call, o);
  }
  MemoCache::Recorded rec = cb.unwrap_or_reraise(std::move(r));
  bool cached = rec.source == MemoCache::Source::kCached ||
                rec.source == MemoCache::Source::kLostToCached;
  if (cached) return py::make_tuple(true, value_to_python(rec.value));
  return py::make_tuple(false, raw);
}

}  // namespace

void register_interfaces(py::module_& m) {
  py::class_<MemoCache>(m, "MemoCache")
      .def("get", &get, py::arg("fn_name"), py::arg("params"),
           py::arg("isolation_key"), py::arg("params_encoder"))
      .def("insert", &insert, py::arg("fn_name"), py::arg("params"),
           py::arg("result"), py::arg("isolation_key"),
           py::arg("params_encoder"), py::arg("result_encoder"))
      .def("record", &record, py::arg("fn_name"), py::arg("args"),
           py::arg("kwargs"), py::arg("fn"), py::arg("isolation_key"),
           py::arg("params_encoder"), py::arg("result_encoder"));
  py::class_<runtime::DeterministicMemoCache, MemoCache>(
      m, "DeterministicMemoCache")
      .def("dump",
           [](runtime::DeterministicMemoCache& c) {
             py::gil_scoped_release release;
             return unwrap(c.dump());
           })
      .def("memory_size", [](runtime::DeterministicMemoCache& c) {
        // Without the GIL: a record holding the cache's lock may be waiting
        // for it in a callback.
        py::gil_scoped_release release;
        return c.memory_size();
      });
  m.def(
      "fcache", [] { return unwrap(runtime::fcache()); },
      py::return_value_policy::reference);
  m.def(
      "dcache", [] { return unwrap(runtime::dcache()); },
      py::return_value_policy::reference);
  m.def(
      "icache", [] { return unwrap(runtime::icache()); },
      py::return_value_policy::reference);
  m.def("memo_caching_module_enabled",
        [] { return runtime::runtime_config().memo_caching_module_enabled; });
  m.def("deterministic_caching_enabled",
        [] { return runtime::runtime_config().deterministic_caching_enabled; });
  m.def("check_result_coders", [](bool has_encoder, bool has_decoder) {
    MemoOptions o;
    if (has_encoder) {
      o.custom_result_encoder = [](const Value& v) -> Result<Value> {
        return v;
      };
    }
    if (has_decoder) {
      o.custom_result_decoder = [](const Value& v) -> Result<Value> {
        return v;
      };
    }
    unwrap(runtime::check_result_coders(o));
  });
  m.def(
      "parse_python_literal",
      [](std::string_view text) {
        return value_to_python(unwrap(runtime::parse_python_literal(text)));
      },
      py::arg("text"));
}

}  // namespace cachepack::python
