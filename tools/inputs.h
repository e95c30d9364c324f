// Where commands read artifacts from: cachepack bundles, PyTorch Mega-Cache
// blobs and backend URLs, opened by one set of rules.
#ifndef CACHEPACK_TOOLS_INPUTS_H_
#define CACHEPACK_TOOLS_INPUTS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cachepack/artifact_source.h"
#include "cachepack/backend.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/error.h"
#include "cachepack/megacache.h"
#include "cachepack/pack.h"
#include "tools/bundle_input.h"
#include "util/file.h"

namespace cachepack::cli {

// A backend from the registry with every built-in and remote backend.
Result<std::unique_ptr<Backend>> open_url(const std::string& url);

// Artifacts read from an input file: a bundle's entries, streamed as they
// are used, or a mapped Mega-Cache blob's views.
struct LoadedInput {
  std::string format;
  std::optional<MappedFile> file;  // A blob's mapping, which views borrow.
  std::vector<ArtifactView> views;
  std::unique_ptr<ArtifactSource> source;
  // The bundle's reader (owned by `source`), null for a blob.
  const bundle::BundleReader* bundle = nullptr;
};

// The one place that turns an input file into artifacts: a cachepack bundle
// (recognised by its magic) or a PyTorch Mega-Cache blob (repeated type
// groups all kept). A bundle is opened as every whole-reading command opens
// it (tools/bundle_input.h): its structure checked as `verify` checks it
// before anything is read, an older version only when asked for; with
// trusted keys it must carry a valid signature by one of them, and every
// entry's SHA-256 is checked as it is read. A Mega-Cache blob cannot be
// signed, so trusted keys refuse it.
Result<LoadedInput> load_input(const std::string& path,
                               const BundleReadFlags& flags = {});

// A file (bundle or blob) or a backend, as a source for pack().
struct ArtifactInput {
  std::string name;                  // As the user gave it.
  std::unique_ptr<Backend> backend;  // Set for a URL.
  LoadedInput file;                  // Set for a file.

  PackSource pack_source() const;
};

// A URL (anything with "://") opens a backend, anything else a file.
Result<ArtifactInput> open_input(const std::string& name,
                                 const BundleReadFlags& flags = {});

// Whether a command argument names a backend rather than a file.
bool is_url(const std::string& s);

// "512 B", "1.5 MiB": a byte count for people.
std::string human(uint64_t bytes);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_INPUTS_H_
