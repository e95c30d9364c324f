// The public C++ API end to end, using only the headers under
// include/cachepack/ and the //:cachepack target: record two artifacts,
// serialize them as PyTorch's Mega-Cache blob, write a signed bundle, read
// it back with the signature required, and populate a cache from it.
//
//   bazel run //examples:quickstart -- /tmp/quickstart
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

Result<void> quickstart(const std::filesystem::path& dir) {
  // 1. Record what a compile produced, as PyTorch's CacheArtifactManager.
  ArtifactManager manager;
  const std::string key = "ab/" + std::string(64, 'c') + ".best_config";
  CP_TRY(manager.record("autotune", key, as_bytes(R"({"XBLOCK": 64})")));
  CP_TRY(manager.record("pgo", "code_state_f.py:0:", as_bytes("profile")));
  CP_ASSIGN_OR_RETURN(auto saved, manager.serialize());
  std::printf("Mega-Cache blob: %zu bytes, %zu artifacts\n",
              saved->bytes.size(), saved->info.total());

  // 2. Bundle it, signed.
  const std::string bundle_path = (dir / "compile.cpk").string();
  CP_ASSIGN_OR_RETURN(auto signing_key, bundle::SigningKey::generate());
  bundle::WriterOptions options;
  options.signing_keys = {&signing_key};
  CP_ASSIGN_OR_RETURN(auto writer,
                      bundle::BundleWriter::create(bundle_path, options));
  CP_TRY(bundle::add_megacache(writer, saved->bytes));
  CP_ASSIGN_OR_RETURN(auto stats, writer.finish());
  std::printf("bundle: %s, %llu bytes\n", bundle_path.c_str(),
              static_cast<unsigned long long>(stats.file_size));

  // 3. Read it back, refusing it unless our key signed it.
  bundle::ReaderOptions reader_options;
  reader_options.trusted_keys = {signing_key.public_key()};
  CP_ASSIGN_OR_RETURN(auto reader,
                      bundle::BundleReader::open(bundle_path, reader_options));

  // 4. Populate a cache directory from it, streaming each entry.
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
    std::fprintf(stderr, "usage: quickstart DIR\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  auto done = quickstart(argv[1]);
  if (!done) {
    std::fprintf(stderr, "quickstart: %s\n", done.error().to_string().c_str());
    return 1;
  }
  return 0;
}
