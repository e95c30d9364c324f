#include "python/native/environment.h"

#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cachepack/all_backends.h"
#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/explain.h"
#include "cachepack/megacache.h"
#include "python/native/bundle.h"
#include "python/native/errors.h"

namespace cachepack::python {
namespace {

py::object json_module() { return py::module_::import("json"); }

// environment_from_json() of a JSON text, as a dict.
py::dict parse_environment(const std::string& json, const std::string& source) {
  Environment env;
  {
    py::gil_scoped_release release;
    env = unwrap(environment_from_json(json, source));
  }
  return environment_to_python(env);
}

// environment_to_json() of a dict.
std::string format_environment(py::handle env, int indent) {
  return environment_to_json(environment_from_python(env), indent);
}

py::list compare(py::handle recorded, py::handle target) {
  return differences_to_python(compare_environments(
      environment_from_python(recorded), environment_from_python(target)));
}

py::list require_compatible(py::handle recorded, py::handle target,
                            const std::string& source) {
  return differences_to_python(unwrap(
      require_compatible_environment(environment_from_python(recorded),
                                     environment_from_python(target), source)));
}

// explain() of a bundle or blob: (explanation_to_json(),
// explanation_to_text()). The target environment is `environment` over this
// machine's native one.
py::tuple explain_input(py::handle source, const std::string& url,
                        py::handle environment, size_t max_keys) {
  Environment given = environment_from_python(environment);
  InputBytes input(source);
  std::string json;
  std::string text;
  {
    py::gil_scoped_release release;
    ExplainOptions options{.target_environment = merge_environments(
                               current_native_environment(), given),
                           .max_keys = max_keys};
    std::unique_ptr<Backend> target;
    if (!url.empty()) {
      auto backends = unwrap(registry_with_all_backends());
      target = unwrap(backends->open(url));
      options.target = target.get();
    }
    std::optional<Explanation> explained;
    if (bundle::is_bundle(input.data)) {
      bundle::ReaderOptions reader_options;
      reader_options.allow_older_version = input.allow_older_version;
      auto reader = unwrap(
          named(bundle::BundleReader::from_bytes(input.data, reader_options),
                input.name));
      explained.emplace(unwrap(named(explain(reader, options), input.name)));
    } else {
      // A Mega-Cache blob records no environment; its keys still compare.
      auto blob = unwrap(named(megacache::parse(input.data), input.name));
      auto views = blob.artifacts();
      ViewArtifactSource artifacts(views);
      explained.emplace(unwrap(explain(artifacts, std::nullopt, options)));
    }
    json = explanation_to_json(*explained);
    text = explanation_to_text(*explained);
  }
  return py::make_tuple(json, text);
}

}  // namespace

Environment environment_from_python(py::handle env) {
  if (env.is_none()) return Environment{};
  if (!py::isinstance<py::dict>(env)) {
    throw_invalid_argument("an environment is a dict of its JSON fields");
  }
  std::string json;
  try {
    json = json_module().attr("dumps")(env).cast<std::string>();
  } catch (const py::error_already_set& e) {
    throw_invalid_argument(std::string("an environment must be JSON: ") +
                           e.what());
  }
  return unwrap(environment_from_json(json, "environment"));
}

py::dict environment_to_python(const Environment& env) {
  return json_module().attr("loads")(environment_to_json(env));
}

py::list differences_to_python(
    const std::vector<EnvironmentDifference>& differences) {
  py::list out;
  for (const auto& d : differences) {
    py::dict item;
    item["field"] = d.field;
    item["recorded"] = d.recorded;
    item["target"] = d.target;
    item["severity"] = std::string(to_string(d.severity));
    item["message"] = d.message();
    out.append(item);
  }
  return out;
}

void register_environment(py::module_& m) {
  m.def("environment_from_json", &parse_environment, py::arg("json"),
        py::arg("source") = "");
  m.def("environment_to_json", &format_environment, py::arg("environment"),
        py::arg("indent") = -1);
  m.def("current_native_environment",
        [] { return environment_to_python(current_native_environment()); });
  m.def("compare_environments", &compare, py::arg("recorded"),
        py::arg("target"));
  m.def("require_compatible_environment", &require_compatible,
        py::arg("recorded"), py::arg("target"), py::arg("source") = "");
  m.def("explain", &explain_input, py::arg("source"), py::arg("url"),
        py::arg("environment"), py::arg("max_keys"));
}

}  // namespace cachepack::python
