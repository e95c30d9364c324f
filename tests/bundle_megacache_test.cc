// Conversion between PyTorch Mega-Cache blobs and bundles: blob -> bundle ->
// blob reproduces the blob byte for byte, groups (even repeated ones)
// included. Vector tests read $CACHEPACK_VECTORS.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "cachepack/bundle_convert.h"
#include "cachepack/bundle_dictionary.h"
#include "cachepack/bundle_listing.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using cachepack::testing::IsOk;
using testing::generated;
using testing::read_all;
using testing::TempDir;
using testing::text_bytes;
using testing::write_all;

std::string vectors_dir() {
  const char* dir = std::getenv("CACHEPACK_VECTORS");
  return dir ? dir : "";
}

#define REQUIRE_VECTORS()                                     \
  if (vectors_dir().empty()) {                                \
    GTEST_SKIP() << "CACHEPACK_VECTORS is not set; run with " \
                    "--test_env=CACHEPACK_VECTORS=/path/to/"  \
                    "shared/vectors/pytorch-megacache";       \
  }

Bytes to_bundle_and_back(const TempDir& dir, ByteSpan blob,
                         WriterOptions options = {}) {
  std::string path = dir.file("v.cpk");
  auto writer = BundleWriter::create(path, options);
  EXPECT_TRUE(writer);
  auto added = add_megacache(*writer, blob);
  EXPECT_THAT(added, IsOk());
  EXPECT_TRUE(writer->finish());
  auto reader = BundleReader::open(path);
  EXPECT_THAT(reader, IsOk());
  if (!reader) return {};
  auto verified = reader->verify_all();
  EXPECT_THAT(verified, IsOk());
  auto back = bundle_to_megacache(*reader);
  EXPECT_THAT(back, IsOk());
  return back ? *back : Bytes{};
}

class VectorRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(VectorRoundTrip, BlobToBundleToBlobIsByteExact) {
  REQUIRE_VECTORS();
  TempDir dir;
  Bytes blob = read_all(vectors_dir() + "/" + GetParam());
  ASSERT_FALSE(blob.empty());
  EXPECT_EQ(to_bundle_and_back(dir, blob), blob);
  WriterOptions threaded;
  threaded.threads = 3;
  threaded.chunk_size = 64 * 1024;  // large.bin has entries above this.
  EXPECT_EQ(to_bundle_and_back(dir, blob, threaded), blob);
}

// Every single-save vector, the two-save blob with its repeated group, and
// a blob with an empty trailing group.
INSTANTIATE_TEST_SUITE_P(Vectors, VectorRoundTrip,
                         ::testing::Values("empty.bin", "one_artifact.bin",
                                           "all_types.bin", "large.bin",
                                           "appended_two_saves.bin",
                                           "quirk_trailing_zero_group.bin"));

TEST(BundleMegaCache, EveryArtifactIsReachableByTypeAndKey) {
  REQUIRE_VECTORS();
  TempDir dir;
  Bytes blob = read_all(vectors_dir() + "/all_types.bin");
  auto parsed = megacache::parse(blob);
  ASSERT_TRUE(parsed);
  std::string path = dir.file("v.cpk");
  auto writer = BundleWriter::create(path);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(add_megacache(*writer, blob));
  ASSERT_TRUE(writer->finish());
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto artifacts = parsed->artifacts();
  ASSERT_EQ(reader->size(), artifacts.size());
  for (size_t i = 0; i < artifacts.size(); ++i) {
    auto content = reader->read(i);
    ASSERT_TRUE(content);
    EXPECT_EQ(*content, artifacts[i].to_owned().content);
    auto got = reader->get(artifacts[i].type, artifacts[i].key);
    ASSERT_TRUE(got && got->has_value());
  }
  auto listed = list_bundle(*reader);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), artifacts.size());
  EXPECT_EQ((*listed)[0].type, artifacts[0].type);
  EXPECT_EQ((*listed)[0].sha256, sha256_hex(artifacts[0].content));
}

TEST(BundleMegaCache, DictionariesKeepTheRoundTripExact) {
  REQUIRE_VECTORS();
  TempDir dir;
  Bytes blob = read_all(vectors_dir() + "/large.bin");
  auto parsed = megacache::parse(blob);
  ASSERT_TRUE(parsed);
  auto artifacts = parsed->artifacts();
  WriterOptions options;
  options.dictionaries = train_dictionaries(
      artifacts, kTrainedDictionaryCapacity, DictionaryKind::kTrained);
  EXPECT_FALSE(options.dictionaries.empty());
  EXPECT_EQ(to_bundle_and_back(dir, blob, options), blob);
}

TEST(BundleMegaCache, AppendingABlobAddsItsGroupsAfterTheOldOnes) {
  TempDir dir;
  megacache::Writer first;
  Bytes a = generated(100, 1), b = generated(50, 2), c = generated(70, 3);
  megacache::KeyedContent ea{"fa", a}, eb{"fb", b}, ec{"x/y.best_config", c};
  ASSERT_TRUE(first.append_group("inductor", std::span(&ea, 1)));
  ASSERT_TRUE(first.append_group("autotune", std::span(&ec, 1)));
  ByteSpan first_bytes = first.bytes();
  Bytes first_blob(first_bytes.begin(), first_bytes.end());
  megacache::Writer second;
  ASSERT_TRUE(second.append_group("inductor", std::span(&eb, 1)));
  ByteSpan second_bytes = second.bytes();
  Bytes second_blob(second_bytes.begin(), second_bytes.end());

  std::string path = dir.file("b.cpk");
  {
    auto writer = BundleWriter::create(path);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(add_megacache(*writer, first_blob));
    ASSERT_TRUE(writer->finish());
  }
  {
    auto writer = BundleWriter::append(path);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(add_megacache(*writer, second_blob));
    ASSERT_TRUE(writer->finish());
  }
  // What PyTorch writes after two saves: the second save's groups follow.
  ASSERT_TRUE(first.append_group("inductor", std::span(&eb, 1)));
  ByteSpan expected = first.bytes();
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto back = bundle_to_megacache(*reader);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, Bytes(expected.begin(), expected.end()));
}

TEST(BundleMegaCache, UngroupedBundlesExportOneGroupPerType) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  auto writer = BundleWriter::create(path);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->add("inductor", "f1", text_bytes("one")));
  ASSERT_TRUE(writer->add("autotune", "a1", text_bytes("two")));
  ASSERT_TRUE(writer->add("inductor", "f2", text_bytes("three")));
  ASSERT_TRUE(writer->finish());
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto blob = bundle_to_megacache(*reader);
  ASSERT_TRUE(blob);
  auto parsed = megacache::parse(*blob);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_EQ(parsed->groups.size(), 2u);
  EXPECT_EQ(parsed->groups[0].type, "inductor");
  ASSERT_EQ(parsed->groups[0].artifacts.size(), 2u);
  EXPECT_EQ(parsed->groups[0].artifacts[1].key, "f2");
  EXPECT_EQ(parsed->groups[1].type, "autotune");
}

TEST(BundleMegaCache, AddFileDetectsTheFormatByContent) {
  TempDir dir;
  megacache::Writer blob;
  Bytes content = generated(300, 5);
  megacache::KeyedContent e{"fkey", content};
  ASSERT_TRUE(blob.append_group("inductor", std::span(&e, 1)));
  write_all(dir.file("blob.bin"), blob.bytes());
  {
    auto writer = BundleWriter::create(dir.file("one.cpk"));
    ASSERT_TRUE(writer);
    ASSERT_TRUE(add_file(*writer, dir.file("blob.bin")));
    ASSERT_TRUE(writer->finish());
  }
  EXPECT_TRUE(is_bundle_file(dir.file("one.cpk")));
  EXPECT_FALSE(is_bundle_file(dir.file("blob.bin")));
  auto writer = BundleWriter::create(dir.file("two.cpk"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE(add_file(*writer, dir.file("one.cpk")));
  ASSERT_TRUE(writer->finish());
  auto reader = BundleReader::open(dir.file("two.cpk"));
  ASSERT_TRUE(reader);
  auto back = bundle_to_megacache(*reader);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, read_all(dir.file("blob.bin")));

  write_all(dir.file("short"), text_bytes("abc"));
  auto w = BundleWriter::create(dir.file("three.cpk"));
  ASSERT_TRUE(w);
  auto bad = add_file(*w, dir.file("short"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason(), ErrorReason::kBadMagic);
}

TEST(BundleMegaCache, AddFileWritesWhatAddMegaCacheWrites) {
  // Larger than the steps by which add_file releases the mapped input:
  // reading it back later (copies, not views) must not change a byte.
  TempDir dir;
  megacache::Writer blob;
  std::vector<Bytes> contents;
  for (int i = 0; i < 60; ++i) contents.push_back(generated(400'000, i));
  contents.push_back(generated(9'000'000, 99));  // Chunked, not in a block.
  std::vector<megacache::KeyedContent> group;
  for (size_t i = 0; i < contents.size(); ++i) {
    group.push_back({"fkey" + std::to_string(i), contents[i]});
  }
  ASSERT_TRUE(blob.append_group("inductor", group));
  write_all(dir.file("blob.bin"), blob.bytes());
  WriterOptions options;
  options.threads = 2;
  {
    auto writer = BundleWriter::create(dir.file("mapped.cpk"), options);
    ASSERT_TRUE(writer);
    ASSERT_THAT(add_file(*writer, dir.file("blob.bin")), IsOk());
    ASSERT_TRUE(writer->finish());
  }
  {
    auto writer = BundleWriter::create(dir.file("in_memory.cpk"), options);
    ASSERT_TRUE(writer);
    ASSERT_THAT(add_megacache(*writer, blob.bytes()), IsOk());
    ASSERT_TRUE(writer->finish());
  }
  EXPECT_EQ(read_all(dir.file("mapped.cpk")),
            read_all(dir.file("in_memory.cpk")));
  auto reader = BundleReader::open(dir.file("mapped.cpk"));
  ASSERT_TRUE(reader);
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(BundleFormat, NoMegaCacheVectorIsTakenForABundle) {
  REQUIRE_VECTORS();
  size_t checked = 0;
  for (const auto& f : std::filesystem::directory_iterator(vectors_dir())) {
    if (f.path().extension() != ".bin") continue;
    Bytes blob = read_all(f.path().string());
    EXPECT_FALSE(is_bundle(blob)) << f.path();
    EXPECT_FALSE(is_bundle_file(f.path().string())) << f.path();
    ++checked;
  }
  EXPECT_GT(checked, 10u);
}

TEST(BundleTools, VerifyBundleChecksTrustedKeys) {
  TempDir dir;
  std::string key_path = dir.file("key.pem");
  ASSERT_TRUE(write_key_pair(key_path));
  std::string other_path = dir.file("other.pem");
  ASSERT_TRUE(write_key_pair(other_path));
  auto key = SigningKey::load_pem(key_path);
  ASSERT_TRUE(key);
  WriterOptions options;
  options.signing_keys.push_back(&*key);
  auto writer = BundleWriter::create(dir.file("b.cpk"), options);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->add("inductor", "k", generated(10, 1)));
  ASSERT_TRUE(writer->finish());
  auto open = [&](const std::string& pub) {
    ReaderOptions options;
    auto loaded = load_public_key(pub);
    EXPECT_TRUE(loaded);
    if (loaded) options.trusted_keys.push_back(*loaded);
    return BundleReader::open(dir.file("b.cpk"), options);
  };
  auto trusted = open(key_path + ".pub");
  ASSERT_THAT(trusted, IsOk());
  auto ok = verify_bundle(*trusted);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(*ok, "1 entries, 10 bytes, 1 valid signature (trusted)");
  auto untrusted = open(other_path + ".pub");
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().reason(), ErrorReason::kSignature);
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_TRUE(reader);
  auto plain = verify_bundle(*reader);
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "1 entries, 10 bytes, 1 valid signature");
}

}  // namespace
}  // namespace cachepack::bundle
