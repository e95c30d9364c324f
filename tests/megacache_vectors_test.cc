// PyTorch's own blobs (shared/vectors/pytorch-megacache): every manifest is
// reproduced exactly by the reader and, for single saves, byte for byte by
// the writer.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cachepack/artifact_manager.h"
#include "cachepack/hash.h"
#include "cachepack/megacache.h"
#include "tests/testing/result_matchers.h"
#include "tests/vectors.h"
#include "util/file.h"
#include "util/text.h"

namespace cachepack {
namespace {

using testing::HasError;
using testing::HasErrorAt;
using testing::IsOk;

namespace fs = std::filesystem;
using nlohmann::json;

json load_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

class ValidVector : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidVector, ReadsExactlyItsManifest) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  json manifest = load_json(dir / (GetParam() + ".json"));
  auto bytes = read_file((dir / (GetParam() + ".bin")).string());
  ASSERT_THAT(bytes, IsOk());
  ASSERT_EQ(sha256_hex(*bytes), manifest["sha256"]);

  auto blob = megacache::parse(*bytes);
  ASSERT_THAT(blob, IsOk());
  ASSERT_EQ(blob->groups.size(), manifest["groups"].size());
  for (size_t g = 0; g < blob->groups.size(); ++g) {
    EXPECT_EQ(blob->groups[g].type, manifest["groups"][g]["type"]);
    EXPECT_EQ(blob->groups[g].artifacts.size(),
              manifest["groups"][g]["count"].get<size_t>());
  }
  auto artifacts = blob->artifacts();
  ASSERT_EQ(artifacts.size(), manifest["artifacts"].size());
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const json& want = manifest["artifacts"][i];
    SCOPED_TRACE("artifact " + std::to_string(i));
    EXPECT_EQ(artifacts[i].type, want["type"]);
    EXPECT_EQ(artifacts[i].key, unhex(want["key_utf8_hex"]));
    EXPECT_EQ(artifacts[i].content.size(), want["content_size"].get<size_t>());
    EXPECT_EQ(artifacts[i].content_offset,
              want["content_offset"].get<uint64_t>());
    EXPECT_EQ(sha256_hex(artifacts[i].content), want["content_sha256"]);
  }
}

TEST_P(ValidVector, WriterRebuildsTheBlobByteForByte) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  json manifest = load_json(dir / (GetParam() + ".json"));
  auto original = read_file((dir / (GetParam() + ".bin")).string());
  ASSERT_TRUE(original);
  // Contents come from the manifest where it carries them, else from their
  // recorded offsets (checked against the manifest's SHA-256).
  megacache::Writer writer;
  size_t next = 0;
  std::vector<std::string> storage;
  storage.reserve(2 * manifest["artifacts"]
                          .size());  // No reallocation: views into it are kept.
  for (const auto& group : manifest["groups"]) {
    std::vector<megacache::KeyedContent> entries;
    for (size_t i = 0; i < group["count"].get<size_t>(); ++i, ++next) {
      const json& a = manifest["artifacts"][next];
      std::string content;
      if (a.contains("content_b64")) {
        content = *base64_decode_strict(a["content_b64"].get<std::string>());
      } else {
        content = std::string(
            as_chars(*original).substr(a["content_offset"].get<size_t>(),
                                       a["content_size"].get<size_t>()));
      }
      ASSERT_EQ(sha256_hex(as_bytes(content)), a["content_sha256"]);
      storage.push_back(std::move(content));
      // Keys are only stored here as views: keep them alive in `storage` too.
      storage.push_back(unhex(a["key_utf8_hex"]));
      entries.push_back(
          {storage.back(), as_bytes(storage[storage.size() - 2])});
    }
    ASSERT_TRUE(writer.append_group(group["type"].get<std::string>(), entries));
  }
  ByteSpan rebuilt = writer.bytes();
  ASSERT_EQ(rebuilt.size(), original->size());
  EXPECT_TRUE(std::equal(rebuilt.begin(), rebuilt.end(), original->begin()));
}

INSTANTIATE_TEST_SUITE_P(PyTorchVectors, ValidVector,
                         ::testing::Values("empty", "one_artifact", "all_types",
                                           "large"));

TEST(AppendedTwoSaves, MergePolicyLoadsAllSixArtifacts) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  json manifest = load_json(dir / "appended_two_saves.json");
  auto bytes = read_file((dir / "appended_two_saves.bin").string());
  ASSERT_TRUE(bytes);
  auto groups = load_groups(*bytes, GroupPolicy::kMerge);
  ASSERT_THAT(groups, IsOk());
  CacheInfo info = cache_info_of(*groups);
  EXPECT_EQ(info.total(), 6u);
  EXPECT_EQ(info.count("inductor"), 4u);
  EXPECT_EQ(info.count("autotune"), 2u);
  EXPECT_EQ(info.types(), (std::vector<std::string>{"inductor", "autotune"}));
  // Inside the merged group: stored order.
  std::vector<std::string> want;
  for (const auto& a : manifest["artifacts"]) {
    if (a["type"] == "inductor") want.push_back(a["key"]);
  }
  EXPECT_EQ(info.keys("inductor"), want);
}

TEST(AppendedTwoSaves, PyTorchCompatiblePolicyReproducesPyTorchsLoad) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  json manifest = load_json(dir / "appended_two_saves.json");
  auto bytes = read_file((dir / "appended_two_saves.bin").string());
  ASSERT_TRUE(bytes);
  auto groups = load_groups(*bytes, GroupPolicy::kPyTorchCompatible);
  ASSERT_TRUE(groups);
  const json& reference =
      manifest["pytorch_reference_load"]["after_dict_conversion"];
  std::vector<std::string> types;
  for (const auto& g : *groups) types.push_back(g.type);
  EXPECT_EQ(types, reference["types_in_order"].get<std::vector<std::string>>());
  std::vector<ArtifactView> loaded;
  for (const auto& g : *groups) {
    loaded.insert(loaded.end(), g.artifacts.begin(), g.artifacts.end());
  }
  ASSERT_EQ(loaded.size(), reference["artifacts"].size());
  ASSERT_EQ(loaded.size(), 4u);
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded[i].type, reference["artifacts"][i]["type"]);
    EXPECT_EQ(loaded[i].key, reference["artifacts"][i]["key"]);
    EXPECT_EQ(sha256_hex(loaded[i].content),
              reference["artifacts"][i]["content_sha256"]);
  }
}

TEST(AppendedTwoSaves, ManagerReproducesTwoSavesByteForByte) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  json manifest = load_json(dir / "appended_two_saves.json");
  auto bytes = read_file((dir / "appended_two_saves.bin").string());
  ASSERT_TRUE(bytes);
  auto blob = megacache::parse(*bytes);
  ASSERT_TRUE(blob);
  ArtifactManager manager;
  ASSERT_EQ(blob->groups.size(), 3u);
  // First save: groups 0 and 1; second save: group 2.
  for (size_t g = 0; g < 2; ++g) {
    for (const auto& a : blob->groups[g].artifacts) {
      ASSERT_TRUE(manager.record(a.type, a.key, a.content));
    }
  }
  auto first = manager.serialize();
  ASSERT_TRUE(first && *first);
  for (const auto& a : blob->groups[2].artifacts) {
    ASSERT_TRUE(manager.record(a.type, a.key, a.content));
  }
  auto second = manager.serialize();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->bytes, *bytes);
  EXPECT_EQ((*second)->info.total(), 6u);
  // The first blob's bytes after the CRC are a prefix of the second's.
  ASSERT_LT((*first)->bytes.size(), bytes->size());
  EXPECT_TRUE(std::equal((*first)->bytes.begin() + 4, (*first)->bytes.end(),
                         bytes->begin() + 4));
}

struct CorruptCase {
  std::string file;
  ErrorCode code;
  ErrorReason reason;
  uint64_t offset;
};

class CorruptVector : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptVector, FailsPromptlyWithTheExpectedTypedError) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  const CorruptCase& c = GetParam();
  json expectations = load_json(dir / "corrupt_expectations.json");
  ASSERT_TRUE(expectations["cases"].contains(c.file)) << c.file;
  auto bytes = read_file((dir / c.file).string());
  ASSERT_TRUE(bytes);
  auto start = std::chrono::steady_clock::now();
  // As PyTorch reads: an unregistered type is an error only when strict.
  auto blob = megacache::parse(*bytes, {.strict_types = true});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(blob) << c.file << " was accepted";
  EXPECT_THAT(blob, HasError(c.code, c.reason));
  EXPECT_THAT(blob, HasErrorAt(c.code, c.offset));
  // PyTorch's reader never returns on the overrun case; ours must at once.
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

INSTANTIATE_TEST_SUITE_P(
    PyTorchVectors, CorruptVector,
    ::testing::Values(
        CorruptCase{"corrupt_crc_byte_flipped.bin", ErrorCode::kDataLoss,
                    ErrorReason::kChecksumMismatch, 0},
        CorruptCase{"corrupt_payload_bit_flipped.bin", ErrorCode::kDataLoss,
                    ErrorReason::kChecksumMismatch, 0},
        CorruptCase{"corrupt_truncated.bin", ErrorCode::kDataLoss,
                    ErrorReason::kChecksumMismatch, 0},
        CorruptCase{"corrupt_too_short.bin", ErrorCode::kDataLoss,
                    ErrorReason::kTooShort, 0},
        CorruptCase{"corrupt_bad_version.bin", ErrorCode::kUnimplemented,
                    ErrorReason::kUnsupportedVersion, 4},
        CorruptCase{"corrupt_unknown_type.bin", ErrorCode::kUnimplemented,
                    ErrorReason::kUnknownType, 12},
        CorruptCase{"corrupt_invalid_utf8_key.bin", ErrorCode::kDataLoss,
                    ErrorReason::kInvalidUtf8, 40},
        CorruptCase{"corrupt_length_overrun_valid_crc.bin",
                    ErrorCode::kDataLoss, ErrorReason::kLengthOverrun, 120}),
    [](const auto& info) {
      std::string name = info.param.file.substr(8);
      name = name.substr(0, name.size() - 4);
      std::erase(name, '_');
      return name;
    });

TEST(UnknownTypeVector, IsCarriedUnchangedUnlessStrict) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  auto bytes = read_file((dir / "corrupt_unknown_type.bin").string());
  ASSERT_TRUE(bytes);
  auto blob = megacache::parse(*bytes);
  ASSERT_THAT(blob, IsOk());
  ASSERT_EQ(blob->groups.size(), 1u);
  EXPECT_EQ(blob->groups[0].type, "not_a_registered_type_main");
  megacache::Writer w;
  for (const auto& g : blob->groups) {
    std::vector<megacache::KeyedContent> entries;
    for (const auto& a : g.artifacts) entries.push_back({a.key, a.content});
    ASSERT_TRUE(w.append_group(g.type, entries));
  }
  ByteSpan rebuilt = w.bytes();
  EXPECT_TRUE(
      std::equal(rebuilt.begin(), rebuilt.end(), bytes->begin(), bytes->end()));
}

TEST(CorruptVector, ChecksumErrorNamesStoredAndComputedValues) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  json expectations = load_json(dir / "corrupt_expectations.json");
  auto bytes = read_file((dir / "corrupt_crc_byte_flipped.bin").string());
  ASSERT_TRUE(bytes);
  auto blob = megacache::parse(*bytes);
  ASSERT_FALSE(blob);
  // PyTorch's message: Expected b'L\xbe\xfd;' (stored), Got b'\xb3\xbe\xfd;'.
  EXPECT_NE(blob.error().message().find("stored 0x4cbefd3b"), std::string::npos)
      << blob.error().message();
  EXPECT_NE(blob.error().message().find("computed 0xb3befd3b"),
            std::string::npos);
}

TEST(QuirkVector,
     NonCanonicalBase64IsRejectedByDefaultAndLoadsLikePyTorchWhenLenient) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  auto bytes = read_file((dir / "quirk_noncanonical_base64_key.bin").string());
  ASSERT_TRUE(bytes);
  auto strict = megacache::parse(*bytes);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().reason(), ErrorReason::kInvalidBase64);
  megacache::ReadOptions lenient;
  lenient.base64 = megacache::Base64Mode::kLenient;
  auto loaded = megacache::parse(*bytes, lenient);
  ASSERT_THAT(loaded, IsOk());
  ASSERT_EQ(loaded->artifact_count(), 1u);
  EXPECT_EQ(loaded->artifacts()[0].key, "main/quirk-136956");
}

TEST(QuirkVector, TrailingZeroCountGroupIsAcceptedAsAnEmptyGroup) {
  CACHEPACK_REQUIRE_VECTORS(dir);
  auto bytes = read_file((dir / "quirk_trailing_zero_group.bin").string());
  ASSERT_TRUE(bytes);
  auto blob = megacache::parse(*bytes);
  ASSERT_THAT(blob, IsOk());
  ASSERT_EQ(blob->groups.size(), 2u);
  EXPECT_EQ(blob->groups[1].type, "aot_autograd");
  EXPECT_TRUE(blob->groups[1].artifacts.empty());
  EXPECT_EQ(blob->artifact_count(), 1u);
  // Writing the same groups gives the same bytes back.
  megacache::Writer writer;
  for (const auto& g : blob->groups) {
    std::vector<megacache::KeyedContent> entries;
    for (const auto& a : g.artifacts) entries.push_back({a.key, a.content});
    ASSERT_TRUE(writer.append_group(g.type, entries));
  }
  ByteSpan rebuilt = writer.bytes();
  EXPECT_TRUE(
      std::equal(rebuilt.begin(), rebuilt.end(), bytes->begin(), bytes->end()));
}

}  // namespace
}  // namespace cachepack
