// cachepack.runtime: the pickle codec (cachepack/pickle.h) and the typed
// caches (cachepack/runtime_cache.h) for Python, with Python objects
// converted to and from pickle::Value at the boundary.
#ifndef CACHEPACK_PYTHON_NATIVE_RUNTIME_H_
#define CACHEPACK_PYTHON_NATIVE_RUNTIME_H_

#include <pybind11/pybind11.h>

#include "cachepack/pickle.h"

namespace cachepack::python {

void register_runtime(pybind11::module_& m);
// The memoizers and isolation keys (python/native/runtime_memo.cc).
void register_runtime_memo(pybind11::module_& m);

// A Python object of the pickle codec's kinds as a Value (exact types only;
// NativeError kInvalidArgument otherwise), and back. Call with the GIL.
pickle::Value to_value(pybind11::handle obj, int depth = 0);
pybind11::object from_value(const pickle::Value& v);

// A Python object as a pickle::Value (exact types only); throws NativeError
// (kInvalidArgument / kUnsupportedPickle or kLimitExceeded) otherwise.
pickle::Value value_from_python(pybind11::handle obj);
// The Python object for a pickle::Value. Both need the GIL.
pybind11::object value_to_python(const pickle::Value& value);

// The memoization caches (cachepack/runtime_interfaces.h), in
// python/native/interfaces.cc.
void register_interfaces(pybind11::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_RUNTIME_H_
