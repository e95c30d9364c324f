// What a reader refuses before anything is read: a damaged or unverifiable
// tail never falls back silently to an older version, the structural steps
// of verify_all() run on their own without decompressing, and every error
// names the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using cachepack::testing::IsOk;

using ::testing::HasSubstr;

using cachepack::testing::IsOk;
using testing::craft_bundle;
using testing::generated;
using testing::read_all;
using testing::TempDir;
using testing::write_all;

namespace sc = schema;

struct Versions {
  Bytes bytes;
  uint64_t older_end = 0;  // Where the first version's footer ends.
};

// Two signed versions: k0..k2, then k3..k4 appended and signed again.
Versions two_signed_versions(const TempDir& dir, const SigningKey& key) {
  std::string path = dir.file("two.cpk");
  WriterOptions options;
  options.signing_keys.push_back(&key);
  {
    auto writer = BundleWriter::create(path, options);
    EXPECT_TRUE(writer);
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(writer->add("inductor", "k" + std::to_string(i),
                              generated(300 + i, i)));
    }
    EXPECT_TRUE(writer->finish());
  }
  uint64_t older_end = read_all(path).size();
  auto writer = BundleWriter::append(path, options);
  EXPECT_TRUE(writer);
  for (int i = 3; i < 5; ++i) {
    EXPECT_TRUE(writer->add("autotune", "k" + std::to_string(i),
                            generated(300 + i, i)));
  }
  EXPECT_TRUE(writer->finish());
  return {read_all(path), older_end};
}

ReaderOptions trusting(const SigningKey& key) {
  ReaderOptions options;
  options.trusted_keys.push_back(key.public_key());
  return options;
}

struct DamagedTail {
  std::string what;
  Bytes bytes;
  uint64_t intact_end;  // End of the newest footer that is still intact.
  size_t entries;       // In the version that footer closes.
};

// The ways a newest version's tail goes bad: a footer checksum byte zeroed,
// its last byte cut (both leave the first version intact), junk after it
// (the newest version is intact, but the file does not end with it).
std::vector<DamagedTail> damaged_tails(const Versions& v) {
  const Bytes& good = v.bytes;
  std::vector<DamagedTail> out;
  Bytes zeroed = good;
  zeroed[good.size() - kFooterSize + 56] = std::byte{0};
  if (zeroed == good) zeroed[good.size() - kFooterSize + 57] ^= std::byte{1};
  out.push_back({"checksum byte zeroed", zeroed, v.older_end, 3});
  out.push_back(
      {"last byte cut", Bytes(good.begin(), good.end() - 1), v.older_end, 3});
  for (size_t junk : {1, 8, 72}) {
    Bytes longer = good;
    longer.resize(good.size() + junk, std::byte{0});
    out.push_back(
        {std::to_string(junk) + " bytes of junk", longer, good.size(), 5});
  }
  return out;
}

TEST(BundleReader, RefusesDamagedNewestFooterUnderTrustedKey) {
  TempDir dir;
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  Versions v = two_signed_versions(dir, *key);
  std::string path = dir.file("damaged.cpk");
  for (const auto& [what, bytes, intact_end, entries] : damaged_tails(v)) {
    write_all(path, bytes);
    auto reader = BundleReader::open(path, trusting(*key));
    ASSERT_FALSE(reader) << what << ": fell back to the older signed version";
    EXPECT_EQ(reader.error().code(), ErrorCode::kDataLoss) << what;
    EXPECT_EQ(reader.error().where().file, path) << what;
    // The error says that an older version exists and where it ends.
    EXPECT_THAT(reader.error().message(),
                HasSubstr("intact footer at offset " +
                          std::to_string(intact_end - kFooterSize)))
        << what;
  }
}

TEST(BundleReader, OpensTheOlderVersionOnlyWhenAskedAndSaysWhatItSkipped) {
  TempDir dir;
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  Versions v = two_signed_versions(dir, *key);
  for (const auto& [what, bytes, intact_end, entries] : damaged_tails(v)) {
    ReaderOptions options = trusting(*key);
    options.allow_older_version = true;
    options.verify_structure = true;
    auto reader = BundleReader::from_bytes(bytes, options);
    ASSERT_THAT(reader, IsOk()) << what;
    EXPECT_EQ(reader->size(), entries) << what;
    EXPECT_EQ(reader->ignored_tail(), bytes.size() - intact_end) << what;
    EXPECT_TRUE(reader->verify_all()) << what;
  }
}

TEST(BundleReader, AnIntactBundleNeedsNoPermissionToOpen) {
  TempDir dir;
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  Versions v = two_signed_versions(dir, *key);
  ReaderOptions options = trusting(*key);
  options.verify_structure = true;
  auto reader = BundleReader::from_bytes(v.bytes, options);
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ(reader->size(), 5u);
  EXPECT_EQ(reader->ignored_tail(), 0u);
  auto report = reader->verify_structure();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->entries, 5u);
  EXPECT_EQ(report->valid_signatures, 1u);
  EXPECT_EQ(report->trusted_signatures, 1u);
}

// "hi" is 2 bytes, so 6 zero bytes pad the index to offset 24.
Bytes one_entry_bundle() {
  TempDir dir;
  std::string path = dir.file("one.cpk");
  auto writer = BundleWriter::create(path);
  EXPECT_TRUE(writer);
  EXPECT_TRUE(writer->add("autotune", "k", testing::text_bytes("hi")));
  EXPECT_TRUE(writer->finish());
  return read_all(path);
}

TEST(BundleReader, VerifyStructureRefusesNonZeroPadding) {
  Bytes bundle = one_entry_bundle();
  bundle[20] = std::byte{1};
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);  // Opening alone reads only header, footer, index.
  auto coverage = reader->check_byte_coverage();
  ASSERT_FALSE(coverage);
  EXPECT_EQ(coverage.error().reason(), ErrorReason::kBadIndex);
  EXPECT_EQ(coverage.error().where().offset, 18u);
  EXPECT_FALSE(reader->verify_structure());
  ReaderOptions strict;
  strict.verify_structure = true;
  auto refused = BundleReader::from_bytes(bundle, strict);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().where().offset, 18u);
}

TEST(BundleReader, VerifyStructureDecompressesNothing) {
  Bytes bundle = one_entry_bundle();
  bundle[16] ^= std::byte{1};  // The entry's content, "hi".
  ReaderOptions strict;
  strict.verify_structure = true;
  auto reader = BundleReader::from_bytes(bundle, strict);
  ASSERT_THAT(reader, IsOk());
  EXPECT_TRUE(reader->verify_structure());
  auto all = reader->verify_all();
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().reason(), ErrorReason::kChecksumMismatch);
  EXPECT_EQ(all.error().where().offset, 16u);
}

// A one-type bundle of `count` empty entries with keys k<i>, whose lookup
// table and groups the test chooses.
Bytes crafted(size_t count, const std::vector<uint32_t>& lookup,
              const std::vector<std::pair<uint32_t, uint64_t>>& groups) {
  return craft_bundle({}, [&](sc::BundleIndex::Builder root) {
    root.initTypes(1).set(0, "t");
    auto es = root.initEntries(count);
    for (size_t i = 0; i < count; ++i) {
      std::string key = "k" + std::to_string(i);
      es[i].setKey(capnp::Data::Reader(
          reinterpret_cast<const kj::byte*>(key.data()), key.size()));
      es[i].setOffset(kHeaderSize);
      Bytes digest(32);
      es[i].setSha256(capnp::Data::Reader(
          reinterpret_cast<const kj::byte*>(digest.data()), 32));
    }
    auto l = root.initLookup(lookup.size());
    for (size_t i = 0; i < lookup.size(); ++i) l.set(i, lookup[i]);
    auto g = root.initGroups(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      g[i].setTypeId(groups[i].first);
      g[i].setCount(groups[i].second);
    }
  });
}

TEST(BundleReader, CheckLookupOrderRefusesAnUnsortedTable) {
  Bytes in_order = crafted(2, {0, 1}, {});  // Must outlive its reader.
  auto sorted = BundleReader::from_bytes(in_order);
  ASSERT_TRUE(sorted);
  EXPECT_TRUE(sorted->check_lookup_order());
  Bytes bundle = crafted(2, {1, 0}, {});
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto ok = reader->check_lookup_order();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().reason(), ErrorReason::kBadIndex);
  EXPECT_FALSE(reader->verify_structure());
}

TEST(BundleReader, CheckGroupsRefusesGroupsThatDoNotPartitionTheEntries) {
  auto whole = BundleReader::from_bytes(crafted(2, {0, 1}, {{0, 2}}));
  ASSERT_THAT(whole, IsOk());
  EXPECT_TRUE(whole->check_groups());
  for (auto groups : std::vector<std::vector<std::pair<uint32_t, uint64_t>>>{
           {{0, 1}}, {{0, 3}}, {{0, 1}, {1, 1}}}) {
    Bytes bundle = crafted(2, {0, 1}, groups);
    auto reader = BundleReader::from_bytes(bundle);
    ASSERT_TRUE(reader);
    auto ok = reader->check_groups();
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().reason(), ErrorReason::kBadIndex);
  }
}

TEST(BundleReader, CheckFooterChainRefusesAPreviousFooterThatIsNotOne) {
  Bytes bundle = crafted(1, {0}, {});
  uint64_t at = bundle.size() - kFooterSize;
  auto footer = decode_footer(bundle, at);
  ASSERT_TRUE(footer);
  footer->previous_footer_offset = kHeaderSize;  // The index, not a footer.
  auto encoded = seal_footer(*footer, {}, at);
  std::copy(encoded.begin(), encoded.end(), bundle.begin() + at);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto ok = reader->check_footer_chain();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().reason(), ErrorReason::kBadFooter);
  EXPECT_FALSE(reader->verify_structure());
}

TEST(BundleReader, EveryErrorNamesTheFile) {
  TempDir dir;
  std::string path = dir.file("bad.cpk");
  // Entry 0 lies outside the data region; the lookup table is unsorted.
  write_all(path, craft_bundle({}, [](sc::BundleIndex::Builder root) {
              root.initTypes(1).set(0, "t");
              auto es = root.initEntries(2);
              es[0].setOffset(1 << 20);
              es[0].setStoredSize(1);
              es[0].setOriginalSize(1);
              es[1].setOffset(kHeaderSize);
              es[1].setKey(capnp::Data::Reader(
                  reinterpret_cast<const kj::byte*>("long key"), 8));
              auto l = root.initLookup(2);
              l.set(0, 1);
              l.set(1, 0);
            }));
  auto reader = BundleReader::open(path);
  ASSERT_THAT(reader, IsOk());
  std::vector<Error> errors;
  auto collect = [&](const auto& result) {
    if (!result) errors.push_back(result.error());
  };
  collect(reader->entry(0));
  collect(reader->entry(7));
  collect(reader->entries());
  collect(reader->read(0));
  collect(reader->get("t", ""));
  collect(reader->verify_structure());
  collect(reader->verify_all());
  collect(reader->check_lookup_order());
  EXPECT_EQ(errors.size(), 8u);
  for (const Error& e : errors) {
    EXPECT_EQ(e.where().file, path) << e.to_string();
  }
  ReaderOptions small;
  small.limits.max_key_size = 4;
  small.limits.max_entries = 1;
  auto limited = BundleReader::open(path, small);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().reason(), ErrorReason::kLimitExceeded);
  EXPECT_EQ(limited.error().where().file, path);
  EXPECT_TRUE(limited.error().where().offset.has_value());
  small.limits.max_entries = 2;
  auto key_limited = BundleReader::open(path, small);
  ASSERT_TRUE(key_limited);
  auto long_key = key_limited->entry(1);
  ASSERT_FALSE(long_key);
  EXPECT_EQ(long_key.error().reason(), ErrorReason::kLimitExceeded);
  EXPECT_EQ(long_key.error().where().file, path);
}

}  // namespace
}  // namespace cachepack::bundle
