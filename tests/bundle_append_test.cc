// Appending and signing existing bundles: both only add bytes after the old
// footer, so stopping them at any point leaves the previous bundle readable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using ::testing::HasSubstr;

using cachepack::testing::IsOk;
using testing::generated;
using testing::read_all;
using testing::TempDir;
using testing::text_bytes;
using testing::write_all;

void write_bundle(const std::string& path, int first, int count,
                  WriterOptions options = {}) {
  auto writer = BundleWriter::create(path, options);
  ASSERT_TRUE(writer);
  for (int i = first; i < first + count; ++i) {
    ASSERT_TRUE(writer->add("inductor", "k" + std::to_string(i),
                            generated(100 + i * 37, i)));
  }
  ASSERT_TRUE(writer->finish());
}

void append_entries(const std::string& path, int first, int count,
                    WriterOptions options = {}) {
  auto writer = BundleWriter::append(path, options);
  ASSERT_THAT(writer, IsOk());
  for (int i = first; i < first + count; ++i) {
    ASSERT_TRUE(writer->add(i % 2 ? "autotune" : "inductor",
                            "k" + std::to_string(i),
                            generated(100 + i * 37, i)));
  }
  auto stats = writer->finish();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->added, static_cast<size_t>(count));
}

// The entries k<first>..k<first+count-1> read back intact.
void expect_entries(const BundleReader& reader, int first, int count) {
  ASSERT_EQ(reader.size(), static_cast<size_t>(count));
  for (int i = first; i < first + count; ++i) {
    auto content = reader.read(static_cast<size_t>(i - first));
    ASSERT_THAT(content, IsOk());
    EXPECT_EQ(*content, generated(100 + i * 37, i)) << i;
  }
}

TEST(BundleAppend, AddsEntriesAfterTheOldOnes) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  Bytes before = read_all(path);
  append_entries(path, 3, 4);
  Bytes after = read_all(path);
  // The old bytes are untouched: append only writes past them.
  ASSERT_GT(after.size(), before.size());
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  expect_entries(*reader, 0, 7);
  EXPECT_EQ(reader->footer().previous_footer_offset,
            before.size() - kFooterSize);
  auto found = reader->get("autotune", "k5");
  ASSERT_TRUE(found && found->has_value());
  auto verified = reader->verify_all();
  EXPECT_THAT(verified, IsOk());
}

TEST(BundleAppend, AddsSolidBlocksOnlyToABundleWhoseHeaderAllowsThem) {
  TempDir dir;
  for (bool solid_before : {false, true}) {
    std::string path = dir.file(solid_before ? "solid.cpk" : "alone.cpk");
    WriterOptions before;
    if (!solid_before) before.solid_block_size = 0;
    write_bundle(path, 0, 3, before);
    Bytes header_before = read_all(path);
    header_before.resize(kHeaderSize);
    append_entries(path, 3, 20);  // Default options: solid blocks asked for.
    Bytes header_after = read_all(path);
    header_after.resize(kHeaderSize);
    EXPECT_EQ(header_after, header_before) << "the header is never rewritten";
    auto reader = BundleReader::open(path);
    ASSERT_THAT(reader, IsOk());
    expect_entries(*reader, 0, 23);
    EXPECT_THAT(reader->verify_all(), IsOk());
    auto blocks = reader->blocks();
    ASSERT_THAT(blocks, IsOk());
    // The first three entries share a block when the bundle allows them;
    // the twenty appended entries form a block of their own.
    EXPECT_EQ(blocks->size(), solid_before ? 2u : 0u) << solid_before;
  }
}

TEST(BundleAppend, RepeatedAppendsKeepEveryVersionAccountedFor) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 2);
  for (int round = 0; round < 4; ++round) append_entries(path, 2 + round, 1);
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  expect_entries(*reader, 0, 6);
  EXPECT_TRUE(reader->verify_all());
}

ReaderOptions allowing_older_version() {
  ReaderOptions options;
  options.allow_older_version = true;
  return options;
}

TEST(BundleAppend, AppendCutAtEveryOffsetIsRefusedUnlessAnOlderVersionIsAsked) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  Bytes old = read_all(path);
  append_entries(path, 3, 2);
  Bytes full = read_all(path);
  for (size_t n = old.size(); n < full.size(); ++n) {
    ByteSpan cut = ByteSpan(full).first(n);
    auto strict = BundleReader::from_bytes(cut);
    if (n == old.size()) {
      ASSERT_THAT(strict, IsOk());
    } else {
      ASSERT_FALSE(strict) << "cut at " << n << " opened an older version";
      EXPECT_EQ(strict.error().code(), ErrorCode::kDataLoss);
      EXPECT_THAT(strict.error().message(),
                  HasSubstr("intact footer at offset " +
                            std::to_string(old.size() - kFooterSize)));
    }
    auto reader = BundleReader::from_bytes(cut, allowing_older_version());
    ASSERT_THAT(reader, IsOk()) << "cut at " << n;
    expect_entries(*reader, 0, 3);
    EXPECT_EQ(reader->ignored_tail(), n - old.size());
    // Asked for explicitly, the older version verifies on its own.
    auto verified = reader->verify_all();
    EXPECT_THAT(verified, IsOk()) << n;
  }
}

TEST(BundleAppend, AppendAfterAnInterruptedAppendDiscardsItsLeftovers) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  size_t old_size = read_all(path).size();
  append_entries(path, 3, 2);
  Bytes full = read_all(path);
  // Keep only part of the appended data, as a crash would.
  write_all(path,
            ByteSpan(full).first(old_size + (full.size() - old_size) / 2));
  append_entries(path, 3, 3);
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->ignored_tail(), 0u);
  expect_entries(*reader, 0, 6);
  EXPECT_TRUE(reader->verify_all());
}

TEST(BundleAppend, RefusesToWriteOverADamagedNewestVersion) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  append_entries(path, 3, 2);
  Bytes full = read_all(path);
  // A complete newest version whose footer rotted: readers fall back to the
  // older version, but append and sign must not silently drop it.
  Bytes damaged = full;
  damaged[damaged.size() - 30] ^= std::byte{1};
  write_all(path, damaged);
  auto writer = BundleWriter::append(path);
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().reason(), ErrorReason::kBadFooter);
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  auto signed_ = sign_bundle(path, *key);
  ASSERT_FALSE(signed_);
  EXPECT_EQ(signed_.error().reason(), ErrorReason::kBadFooter);
  EXPECT_EQ(read_all(path), damaged);
  WriterOptions discard;
  discard.discard_damaged_tail = true;
  append_entries(path, 3, 1, discard);
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  expect_entries(*reader, 0, 4);
}

TEST(BundleAppend, ProcessKilledMidAppendLeavesTheOldBundleReadable) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  Bytes old = read_all(path);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto writer = BundleWriter::append(path);
    if (!writer) ::_exit(3);
    // More than a solid block and the write buffer, so part of it reaches
    // the file.
    for (int i = 0; i < 60; ++i) {
      if (!writer->add("inductor", "big" + std::to_string(i),
                       generated(100000, i, false))) {
        ::_exit(4);
      }
    }
    ::raise(SIGKILL);  // No destructor, no finish: as if the power failed.
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  Bytes after = read_all(path);
  ASSERT_GT(after.size(), old.size()) << "the child wrote nothing";
  EXPECT_TRUE(std::equal(old.begin(), old.end(), after.begin()));
  EXPECT_FALSE(BundleReader::open(path));
  auto reader = BundleReader::open(path, allowing_older_version());
  ASSERT_THAT(reader, IsOk());
  expect_entries(*reader, 0, 3);
  EXPECT_EQ(reader->ignored_tail(), after.size() - old.size());
}

TEST(BundleAppend, ConcurrentAppendsAndSignsAreRefused) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 2);
  auto first = BundleWriter::append(path);
  ASSERT_TRUE(first);
  auto second = BundleWriter::append(path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  auto sign = sign_bundle(path, *key);
  ASSERT_FALSE(sign);
  EXPECT_EQ(sign.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(first->add("inductor", "k2", generated(100 + 2 * 37, 2)));
  ASSERT_TRUE(first->finish());
  // The lock goes with the finished writer.
  ASSERT_TRUE(sign_bundle(path, *key));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  expect_entries(*reader, 0, 3);
}

TEST(BundleAppend, CreateOverABundleHoldsItUntilFinished) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 2);
  auto replacing = BundleWriter::create(path);
  ASSERT_TRUE(replacing);
  // Neither an append nor a sign may write into the file about to be
  // replaced: their entries would be lost silently with it.
  auto append = BundleWriter::append(path);
  ASSERT_FALSE(append);
  EXPECT_EQ(append.error().code(), ErrorCode::kUnavailable);
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  auto sign = sign_bundle(path, *key);
  ASSERT_FALSE(sign);
  EXPECT_EQ(sign.error().code(), ErrorCode::kUnavailable);
  auto other = BundleWriter::create(path);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(replacing->add("inductor", "k9", generated(10, 9)));
  ASSERT_TRUE(replacing->finish());
  append_entries(path, 10, 1);
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->size(), 2u);
}

TEST(BundleAppend, AppendHoldsTheBundleAgainstCreate) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 2);
  auto appending = BundleWriter::append(path);
  ASSERT_TRUE(appending);
  auto replacing = BundleWriter::create(path);
  ASSERT_FALSE(replacing);
  EXPECT_EQ(replacing.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(appending->add("inductor", "k2", generated(100 + 2 * 37, 2)));
  ASSERT_TRUE(appending->finish());
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  expect_entries(*reader, 0, 3);
}

TEST(BundleAppend, FailedAppendLeavesTheFileAlone) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 2);
  Bytes old = read_all(path);
  WriterOptions bad;
  bad.level = 99;  // Rejected after the old index has been read.
  EXPECT_FALSE(BundleWriter::append(path, bad));
  EXPECT_EQ(read_all(path), old);
}

TEST(BundleAppend, AbandonedAppendRestoresTheFile) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  Bytes old = read_all(path);
  {
    auto writer = BundleWriter::append(path);
    ASSERT_TRUE(writer);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(writer->add("inductor", "x" + std::to_string(i),
                              generated(100000, i, false)));
    }
  }
  EXPECT_EQ(read_all(path), old);
}

TEST(BundleAppend, KeepsMetadataAndMergesUserKeys) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  WriterOptions first;
  first.creation_unix_seconds = 42;
  first.user_metadata = {{"torch", "2.4"}, {"gpu", "A100"}};
  write_bundle(path, 0, 1, first);
  WriterOptions second;
  second.user_metadata = {{"torch", "2.5"}};
  append_entries(path, 1, 1, second);
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->metadata().creation_unix_seconds, 42);
  EXPECT_EQ(reader->metadata().user.at("torch"), "2.5");
  EXPECT_EQ(reader->metadata().user.at("gpu"), "A100");
}

TEST(BundleSign, SignatureMadeAtWriteTimeIsTrusted) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  WriterOptions options;
  options.signing_keys.push_back(&*key);
  write_bundle(path, 0, 3, options);
  ReaderOptions trusting;
  trusting.trusted_keys.push_back(key->public_key());
  auto reader = BundleReader::open(path, trusting);
  ASSERT_THAT(reader, IsOk());
  ASSERT_EQ(reader->signatures().size(), 1u);
  EXPECT_TRUE(reader->signatures()[0].valid);
  EXPECT_TRUE(reader->verify_all());
}

TEST(BundleSign, TrustRequiresASignatureByATrustedKey) {
  TempDir dir;
  std::string unsigned_path = dir.file("u.cpk");
  std::string signed_path = dir.file("s.cpk");
  auto key = SigningKey::generate();
  auto other = SigningKey::generate();
  ASSERT_TRUE(key && other);
  write_bundle(unsigned_path, 0, 2);
  WriterOptions options;
  options.signing_keys.push_back(&*key);
  write_bundle(signed_path, 0, 2, options);
  ReaderOptions trust_other;
  trust_other.trusted_keys.push_back(other->public_key());
  for (const std::string& path : {unsigned_path, signed_path}) {
    auto reader = BundleReader::open(path, trust_other);
    ASSERT_FALSE(reader) << path;
    EXPECT_EQ(reader.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(reader.error().reason(), ErrorReason::kSignature);
  }
  // Without a trust requirement both open.
  EXPECT_TRUE(BundleReader::open(unsigned_path));
  EXPECT_TRUE(BundleReader::open(signed_path));
}

TEST(BundleSign, SignBundleAddsSignaturesWithoutTouchingOldBytes) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 3);
  Bytes before = read_all(path);
  auto a = SigningKey::generate();
  auto b = SigningKey::generate();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(sign_bundle(path, *a));
  ASSERT_TRUE(sign_bundle(path, *b));
  ASSERT_TRUE(sign_bundle(path, *a));  // Re-signing replaces, not repeats.
  Bytes after = read_all(path);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
  for (const auto* key : {&*a, &*b}) {
    ReaderOptions trusting;
    trusting.trusted_keys.push_back(key->public_key());
    auto reader = BundleReader::open(path, trusting);
    ASSERT_THAT(reader, IsOk());
    EXPECT_EQ(reader->signatures().size(), 2u);
    auto verified = reader->verify_all();
    EXPECT_THAT(verified, IsOk());
  }
}

TEST(BundleSign, InterruptedSignLeavesTheBundleAsItWas) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  write_bundle(path, 0, 2);
  Bytes old = read_all(path);
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  ASSERT_TRUE(sign_bundle(path, *key));
  Bytes full = read_all(path);
  for (size_t n = old.size(); n < full.size(); ++n) {
    auto reader = BundleReader::from_bytes(ByteSpan(full).first(n),
                                           allowing_older_version());
    ASSERT_TRUE(reader) << n;
    EXPECT_TRUE(reader->signatures().empty());
    expect_entries(*reader, 0, 2);
  }
}

TEST(BundleSign, AppendDropsSignaturesUnlessItSignsAgain) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  WriterOptions signing;
  signing.signing_keys.push_back(&*key);
  write_bundle(path, 0, 2, signing);
  append_entries(path, 2, 1);
  {
    auto reader = BundleReader::open(path);
    ASSERT_TRUE(reader);
    EXPECT_TRUE(reader->signatures().empty());
  }
  append_entries(path, 3, 1, signing);
  ReaderOptions trusting;
  trusting.trusted_keys.push_back(key->public_key());
  auto reader = BundleReader::open(path, trusting);
  ASSERT_THAT(reader, IsOk());
  expect_entries(*reader, 0, 4);
  EXPECT_TRUE(reader->verify_all());
}

TEST(BundleKeys, KeyPairFilesRoundTripAndAreNeverOverwritten) {
  TempDir dir;
  std::string path = dir.file("key.pem");
  auto pub = write_key_pair(path);
  ASSERT_THAT(pub, IsOk());
  auto loaded = SigningKey::load_pem(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->public_key(), *pub);
  auto from_pub = load_public_key(path + ".pub");
  ASSERT_TRUE(from_pub);
  EXPECT_EQ(*from_pub, *pub);
  EXPECT_EQ(std::filesystem::status(path).permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  auto again = write_key_pair(path);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  auto garbage = SigningKey::from_pem("-----BEGIN NONSENSE-----\n");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().reason(), ErrorReason::kSignature);
}

}  // namespace
}  // namespace cachepack::bundle
