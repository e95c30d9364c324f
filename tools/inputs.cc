// Where commands read artifacts from: bundles, Mega-Cache blobs and
// backend URLs (tools/inputs.h).
#include "tools/inputs.h"

#include <cstdio>

#include "cachepack/all_backends.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/megacache.h"

namespace cachepack::cli {

Result<std::unique_ptr<Backend>> open_url(const std::string& url) {
  CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
  return backends->open(url);
}

Result<LoadedInput> load_input(const std::string& path,
                               const BundleReadFlags& flags) {
  const std::vector<std::string>& trusted_key_files = flags.trusted_key_files;
  if (bundle::is_bundle_file(path)) {
    CP_ASSIGN_OR_RETURN(auto reader,
                        open_bundle(path, flags, BundleUse::kEverything));
    CP_ASSIGN_OR_RETURN(auto source,
                        BundleArtifactSource::open(std::move(reader)));
    const bundle::BundleReader* opened = &source->reader();
    return LoadedInput{
        .format = "cachepack", .source = std::move(source), .bundle = opened};
  }
  if (!trusted_key_files.empty()) {
    return make_error(ErrorCode::kPermissionDenied, ErrorReason::kSignature,
                      "a PyTorch Mega-Cache blob carries no signature; "
                      "convert it to a signed bundle (cachepack convert "
                      "--sign) to populate with --trusted-key",
                      ErrorLocation{.file = path});
  }
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  megacache::ReadOptions blob_options;
  blob_options.strict_types = flags.strict_types;
  CP_ASSIGN_OR_RETURN(
      auto blob, in_file(megacache::parse(file.bytes(), blob_options), path));
  LoadedInput input{.format = "pytorch-megacache", .file = std::move(file)};
  input.views = blob.artifacts();
  input.source = std::make_unique<ViewArtifactSource>(input.views);
  return input;
}

Result<ArtifactInput> open_input(const std::string& name,
                                 const BundleReadFlags& flags) {
  ArtifactInput opened{.name = name};
  if (is_url(name)) {
    CP_ASSIGN_OR_RETURN(opened.backend, open_url(name));
  } else {
    CP_ASSIGN_OR_RETURN(opened.file, load_input(name, flags));
  }
  return opened;
}

PackSource ArtifactInput::pack_source() const {
  if (backend) return {.backend = backend.get()};
  return {.artifacts = file.source.get()};
}

bool is_url(const std::string& s) { return s.find("://") != std::string::npos; }

std::string human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace cachepack::cli
