// cachepack._native: the C++ library behind the cachepack Python package
// (python/cachepack/). The Python layer is thin; the work happens here,
// without the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "python/native/bundle.h"
#include "python/native/environment.h"
#include "python/native/errors.h"
#include "python/native/mapped_file.h"
#include "python/native/moving.h"
#include "python/native/runtime.h"
#include "python/native/writing.h"
#include "tools/cli.h"

namespace cachepack::python {
namespace {

namespace py = pybind11;

// `python -m cachepack`: the CLI in this process, printing to descriptors 1
// and 2 as the binary does.
int run_cli(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  py::gil_scoped_release release;
  return cli::run_cli(static_cast<int>(args.size()), argv.data());
}

}  // namespace
}  // namespace cachepack::python

PYBIND11_MODULE(_native, m) {
  namespace python = cachepack::python;
  m.doc() = "cachepack's C++ library (use the cachepack package instead)";
  python::register_error_translator();
  python::register_buffers(m);
  python::register_bundle(m);
  python::register_writing(m);
  python::register_moving(m);
  python::register_environment(m);
  python::register_runtime(m);
  python::register_interfaces(m);
  python::register_runtime_memo(m);
  m.def("run_cli", &python::run_cli, pybind11::arg("argv"));
}
