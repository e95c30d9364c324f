// cachepack.populate() and pack(): moving artifacts between bundles or
// blobs and the storage backends named by URL (docs/BACKENDS.md).
#ifndef CACHEPACK_PYTHON_NATIVE_MOVING_H_
#define CACHEPACK_PYTHON_NATIVE_MOVING_H_

#include <pybind11/pybind11.h>

namespace cachepack::python {

void register_moving(pybind11::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_MOVING_H_
