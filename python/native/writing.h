// cachepack.write(), append() and keygen(): making and signing bundles from
// Mega-Cache bytes, files, open Bundles or (type, key, bytes) iterables.
#ifndef CACHEPACK_PYTHON_NATIVE_WRITING_H_
#define CACHEPACK_PYTHON_NATIVE_WRITING_H_

#include <pybind11/pybind11.h>

namespace cachepack::python {

void register_writing(pybind11::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_WRITING_H_
