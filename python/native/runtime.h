// cachepack.runtime: the pickle codec (cachepack/pickle.h) and the typed
// caches (cachepack/runtime_cache.h) for Python, with Python objects
// converted to and from pickle::Value at the boundary.
#ifndef CACHEPACK_PYTHON_NATIVE_RUNTIME_H_
#define CACHEPACK_PYTHON_NATIVE_RUNTIME_H_

#include <pybind11/pybind11.h>

namespace cachepack::python {

void register_runtime(pybind11::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_RUNTIME_H_
