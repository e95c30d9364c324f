#include "python/native/moving.h"

#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cachepack/all_backends.h"
#include "cachepack/bundle_format.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/megacache.h"
#include "cachepack/pack.h"
#include "cachepack/populate.h"
#include "python/native/bundle.h"
#include "python/native/environment.h"
#include "python/native/errors.h"

namespace cachepack::python {
namespace {

namespace py = pybind11;

// The CLI's bound on --threads.
constexpr int kMaxPopulateThreads = 256;

Result<std::unique_ptr<Backend>> open_url(const std::string& url) {
  CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
  return backends->open(url);
}

// Before anything is written, as `cachepack populate --env` checks: the
// environment the bundle recorded against `target`. Blocking differences
// throw kInvalidArgument / kEnvironmentMismatch unless `ignore`; the
// warnings (and, ignored, the blocking differences) are returned as lines.
std::vector<std::string> check_environment(const LoadedArtifacts& loaded,
                                           const Environment& target,
                                           const std::string& source,
                                           bool ignore) {
  return unwrap(environment_warnings(loaded.environment, target, source, ignore,
                                     "ignore_environment"));
}

py::dict populate_artifacts(py::handle source, const std::string& url,
                            const std::string& policy_text, int threads,
                            py::handle trusted_keys, py::handle environment,
                            bool ignore_environment) {
  if (threads < 1 || threads > kMaxPopulateThreads) {
    throw_invalid_argument("threads must be 1.." +
                           std::to_string(kMaxPopulateThreads) + ", not " +
                           std::to_string(threads));
  }
  auto trusted = trusted_keys_from_python(trusted_keys);
  // Without an environment nothing is compared: the bundle's recorded one
  // is not even read.
  std::optional<Environment> target;
  if (!environment.is_none()) target = environment_from_python(environment);
  InputBytes input(source);
  std::optional<PopulateReport> report;
  std::string backend_url;
  std::vector<std::string> notices;
  std::vector<std::string> warnings;
  double seconds = 0;
  {
    py::gil_scoped_release release;
    auto start = std::chrono::steady_clock::now();
    PopulateOptions options;
    options.policy = unwrap(parse_populate_policy(policy_text));
    options.threads = static_cast<unsigned>(threads);
    auto loaded = unwrap(load_artifacts(input, trusted, target.has_value()));
    if (target) {
      warnings = check_environment(
          *loaded, merge_environments(current_native_environment(), *target),
          input.name, ignore_environment);
    }
    auto backend = unwrap(open_url(url));
    report.emplace(unwrap(populate(*loaded->source, *backend, options)));
    backend_url = backend->url();
    notices = backend->notices();
    seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  py::dict by_type;
  for (const auto& [type, t] : report->by_type) {
    py::dict summary;
    summary["stored"] = t.stored;
    summary["skipped"] = t.skipped;
    summary["superseded"] = t.superseded;
    summary["unsupported"] = t.unsupported;
    summary["failed"] = t.failed;
    summary["bytes"] = t.bytes_stored;
    by_type[text_to_python(type)] = summary;
  }
  py::list failures;
  for (const auto& a : report->artifacts) {
    if (a.outcome != PopulateOutcome::kFailed || !a.error) continue;
    failures.append(py::make_tuple(text_to_python(a.type),
                                   text_to_python(a.key),
                                   to_python_error(*a.error)));
  }
  py::dict out;
  out["by_type"] = by_type;
  out["failures"] = failures;
  out["url"] = backend_url;
  out["notices"] = notices;
  out["warnings"] = warnings;
  out["seconds"] = seconds;
  return out;
}

// One source of pack(): a backend URL, or a bundle or blob.
struct PackInput {
  std::string url;
  std::unique_ptr<InputBytes> input;
};

py::tuple pack_artifacts(py::handle sources, const std::string& out) {
  std::vector<PackInput> inputs;
  for (py::handle s : sources) {
    PackInput in;
    if (py::isinstance<py::str>(s) &&
        s.cast<std::string>().find("://") != std::string::npos) {
      in.url = s.cast<std::string>();
    } else {
      in.input = std::make_unique<InputBytes>(s);
    }
    inputs.push_back(std::move(in));
  }
  std::optional<PackStats> stats;
  Bytes blob;
  uint64_t written = 0;
  bool to_bundle = bundle::has_bundle_extension(out);
  {
    py::gil_scoped_release release;
    std::vector<std::unique_ptr<Backend>> backends;
    std::vector<std::unique_ptr<LoadedArtifacts>> loaded;
    std::vector<PackSource> pack_sources;
    for (const PackInput& in : inputs) {
      if (in.input) {
        loaded.push_back(unwrap(load_artifacts(*in.input, {})));
        pack_sources.push_back({.artifacts = loaded.back()->source.get()});
      } else {
        backends.push_back(unwrap(open_url(in.url)));
        pack_sources.push_back({.backend = backends.back().get()});
      }
    }
    if (to_bundle) {
      auto writer = unwrap(bundle::BundleWriter::create(out));
      BundlePackSink sink(writer);
      stats = unwrap(pack(pack_sources, sink));
      written = unwrap(writer.finish()).file_size;
    } else {
      MegacachePackSink sink;
      stats = unwrap(pack(pack_sources, sink));
      ByteSpan bytes = unwrap(sink.finish());
      blob.assign(bytes.begin(), bytes.end());
      written = blob.size();
    }
  }
  py::dict summary;
  summary["artifacts"] = stats->artifacts;
  summary["duplicates"] = stats->duplicates;
  summary["types"] = stats->types;
  summary["bytes"] = stats->bytes;
  summary["file_size"] = written;
  py::object data = py::none();
  if (!to_bundle) {
    data = py::bytes(reinterpret_cast<const char*>(blob.data()), blob.size());
  }
  return py::make_tuple(summary, data);
}

}  // namespace

void register_moving(py::module_& m) {
  m.def("populate", &populate_artifacts, py::arg("source"), py::arg("url"),
        py::arg("policy"), py::arg("threads"), py::arg("trusted_keys"),
        py::arg("environment") = py::none(),
        py::arg("ignore_environment") = false);
  m.def("pack", &pack_artifacts, py::arg("sources"), py::arg("out"));
}

}  // namespace cachepack::python
