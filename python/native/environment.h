// cachepack.environment and cachepack.explain(): the environment a bundle
// records (cachepack/environment.h) and what populating from it would do
// (cachepack/explain.h). Environments cross into Python as dicts of the
// JSON form (docs/ENVIRONMENT.md), through environment_to_json() and
// environment_from_json(), so both sides agree on every field by its name.
#ifndef CACHEPACK_PYTHON_NATIVE_ENVIRONMENT_H_
#define CACHEPACK_PYTHON_NATIVE_ENVIRONMENT_H_

#include <pybind11/pybind11.h>

#include <vector>

#include "cachepack/environment.h"

namespace cachepack::python {

namespace py = pybind11;

// A dict (or None: empty) as an Environment; kInvalidArgument / kInvalidJson
// thrown for a value that is not one. Needs the GIL.
Environment environment_from_python(py::handle env);

// The environment as a dict in the JSON form. Needs the GIL.
py::dict environment_to_python(const Environment& env);

// One dict per difference: field, recorded, target, severity ("blocks" or
// "warns"), message. Needs the GIL.
py::list differences_to_python(
    const std::vector<EnvironmentDifference>& differences);

void register_environment(py::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_ENVIRONMENT_H_
