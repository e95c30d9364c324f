// Real blobs of PyTorch 2.13 (CPU), committed with their manifests under
// tests/vectors/torch-2.13 by tools/make_torch_vectors.py: the reader lists
// exactly what the manifest (and PyTorch's deserializer) lists, blob ->
// bundle -> blob is byte-exact, and populate into a torch:// directory
// writes exactly the files PyTorch's own load_cache_artifacts() wrote.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "backends/torch_dir_backend.h"
#include "cachepack/bundle_convert.h"
#include "cachepack/hash.h"
#include "cachepack/megacache.h"
#include "cachepack/populate.h"
#include "tests/backend_test_util.h"
#include "util/file.h"

namespace cachepack {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The vectors come in as the test's runfiles (a `data` dependency).
fs::path vectors_dir() {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  fs::path base = runfiles != nullptr
                      ? fs::path(runfiles) /
                            (workspace != nullptr ? workspace : "cachepack")
                      : fs::current_path();
  return base / "tests" / "vectors" / "torch-2.13";
}

class TorchVector : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::ifstream in(vectors_dir() / (GetParam() + ".json"));
    ASSERT_TRUE(in) << "no manifest for " << GetParam() << " in "
                    << vectors_dir();
    manifest_ = json::parse(in);
    auto bytes = read_file((vectors_dir() / (GetParam() + ".bin")).string());
    ASSERT_TRUE(bytes) << bytes.error().to_string();
    blob_ = std::move(*bytes);
    ASSERT_EQ(sha256_hex(blob_), manifest_["sha256"]);
  }

  json manifest_;
  Bytes blob_;
};

TEST_P(TorchVector, WasMadeByTorch213) {
  EXPECT_EQ(manifest_["torch"].get<std::string>().rfind("2.13.", 0), 0u)
      << manifest_["torch"];
}

TEST_P(TorchVector, ReaderListsExactlyTheManifest) {
  auto blob = megacache::parse(blob_);
  ASSERT_TRUE(blob) << blob.error().to_string();
  ASSERT_EQ(blob->groups.size(), manifest_["groups"].size());
  for (size_t g = 0; g < blob->groups.size(); ++g) {
    SCOPED_TRACE("group " + std::to_string(g));
    const json& want = manifest_["groups"][g];
    EXPECT_EQ(blob->groups[g].type, want["type"]);
    EXPECT_EQ(blob->groups[g].artifacts.size(), want["count"].get<size_t>());
    EXPECT_EQ(blob->groups[g].offset, want["offset"].get<uint64_t>());
  }
  auto artifacts = blob->artifacts();
  ASSERT_EQ(artifacts.size(), manifest_["artifacts"].size());
  for (size_t i = 0; i < artifacts.size(); ++i) {
    SCOPED_TRACE("artifact " + std::to_string(i));
    const json& want = manifest_["artifacts"][i];
    EXPECT_EQ(artifacts[i].type, want["type"]);
    EXPECT_EQ(artifacts[i].key, want["key"]);
    EXPECT_EQ(artifacts[i].content.size(), want["size"].get<size_t>());
    EXPECT_EQ(artifacts[i].content_offset, want["offset"].get<uint64_t>());
    EXPECT_EQ(sha256_hex(artifacts[i].content), want["sha256"]);
  }
}

TEST_P(TorchVector, BlobToBundleToBlobIsByteExact) {
  std::string dir = testing::make_temp_dir();
  std::string path = dir + "/v.cpk";
  auto writer = bundle::BundleWriter::create(path);
  ASSERT_TRUE(writer) << writer.error().to_string();
  auto added = bundle::add_megacache(*writer, blob_);
  ASSERT_TRUE(added) << added.error().to_string();
  EXPECT_EQ(*added, manifest_["artifacts"].size());
  ASSERT_TRUE(writer->finish());
  auto reader = bundle::BundleReader::open(path);
  ASSERT_TRUE(reader) << reader.error().to_string();
  auto back = bundle::bundle_to_megacache(*reader);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(*back == blob_);
  fs::remove_all(dir);
}

// Files under `root` (lock files left out, as in the manifest) with the
// SHA-256 of each.
std::map<std::string, std::string> files_with_sha256(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const std::string& rel : testing::files_under(root)) {
    if (rel.size() >= 5 && rel.compare(rel.size() - 5, 5, ".lock") == 0) {
      continue;
    }
    auto bytes = read_file(root + "/" + rel);
    EXPECT_TRUE(bytes) << rel;
    out[rel] = bytes ? sha256_hex(*bytes) : "";
  }
  return out;
}

TEST_P(TorchVector, PopulateWritesTheFilesTorchsLoadWrites) {
  std::string root = testing::make_temp_dir();
  auto backend = TorchDirBackend::open({.root = root});
  ASSERT_TRUE(backend) << backend.error().to_string();
  auto blob = megacache::parse(blob_);
  ASSERT_TRUE(blob);
  auto artifacts = blob->artifacts();
  auto report = populate(artifacts, **backend);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->failed(), 0u);

  std::map<std::string, std::string> want;
  for (const auto& [path, file] : manifest_["torch_load"]["files"].items()) {
    want[path] = file["sha256"];
  }
  EXPECT_EQ(files_with_sha256(root), want);
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Torch213, TorchVector,
                         ::testing::Values("mlp", "dynamic", "precompile"),
                         [](const auto& info) { return info.param; });

// A vector added by the generator must be added to the list above too.
TEST(TorchVectors, TheFolderHoldsExactlyTheTestedVectors) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(vectors_dir())) {
    if (entry.path().extension() == ".bin") {
      names.insert(entry.path().stem().string());
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"mlp", "dynamic", "precompile"}));
}

}  // namespace
}  // namespace cachepack
