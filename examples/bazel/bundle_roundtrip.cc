// Uses cachepack from another Bazel workspace (@cachepack//:cachepack):
// record two artifacts, write them as a signed bundle, read it back with
// the signature required, and populate a cache directory from it.
//
//   bazel run //:bundle_roundtrip -- /tmp/roundtrip
#include <cstdio>
#include <filesystem>
#include <string>

#include "cachepack/all_backends.h"
#include "cachepack/artifact_manager.h"
#include "cachepack/artifact_source.h"
#include "cachepack/bundle_convert.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/error.h"
#include "cachepack/populate.h"

namespace {

using namespace cachepack;

Result<void> roundtrip(const std::filesystem::path& dir) {
  ArtifactManager manager;
  CP_TRY(manager.record("autotune",
                        "ab/" + std::string(64, 'c') + ".best_config",
                        as_bytes(R"({"XBLOCK": 64})")));
  CP_TRY(manager.record("pgo", "code_state_f.py:0:", as_bytes("profile")));
  CP_ASSIGN_OR_RETURN(auto saved, manager.serialize());

  const std::string bundle_path = (dir / "compile.cpk").string();
  CP_ASSIGN_OR_RETURN(auto signing_key, bundle::SigningKey::generate());
  bundle::WriterOptions options;
  options.signing_keys = {&signing_key};
  CP_ASSIGN_OR_RETURN(auto writer,
                      bundle::BundleWriter::create(bundle_path, options));
  CP_TRY(bundle::add_megacache(writer, saved->bytes));
  CP_TRY(writer.finish());

  bundle::ReaderOptions reader_options;
  reader_options.trusted_keys = {signing_key.public_key()};
  CP_ASSIGN_OR_RETURN(auto reader,
                      bundle::BundleReader::open(bundle_path, reader_options));
  CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
  CP_ASSIGN_OR_RETURN(auto backend,
                      backends->open("file://" + (dir / "cache").string()));
  CP_ASSIGN_OR_RETURN(auto source,
                      BundleArtifactSource::open(std::move(reader)));
  CP_ASSIGN_OR_RETURN(auto report, populate(*source, *backend));
  std::printf("populated: %llu stored, %llu skipped, %llu failed\n",
              static_cast<unsigned long long>(report.stored()),
              static_cast<unsigned long long>(report.skipped()),
              static_cast<unsigned long long>(report.failed()));
  if (!report.ok()) {
    return make_error(ErrorCode::kInternal, "populate failed");
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bundle_roundtrip DIR\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  auto done = roundtrip(argv[1]);
  if (!done) {
    std::fprintf(stderr, "bundle_roundtrip: %s\n",
                 done.error().to_string().c_str());
    return 1;
  }
  return 0;
}
