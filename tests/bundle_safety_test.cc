// Hostile and damaged input: every truncation and every byte flip is caught
// with a typed error, declared sizes bound decompression, and nothing the
// file claims is used before it is checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/hash.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using ::testing::HasSubstr;

using cachepack::testing::HasError;
using cachepack::testing::IsOk;
using cachepack::testing::IsOkAndHolds;
using testing::craft_bundle;
using testing::generated;
using testing::read_all;
using testing::TempDir;
using testing::text_bytes;

namespace sc = schema;

// A small bundle with a raw entry, a compressed one, a chunked one and an
// empty one, signed by `key`; with `solid`, the raw and compressed entries
// share a solid block instead.
Bytes small_bundle(const TempDir& dir, const SigningKey* key,
                   bool solid = false) {
  WriterOptions options;
  options.chunk_size = 4096;
  options.solid_block_size = solid ? kDefaultSolidBlockSize : 0;
  if (key) options.signing_keys.push_back(key);
  std::string path = dir.file("small.cpk");
  auto writer = BundleWriter::create(path, options);
  EXPECT_TRUE(writer);
  EXPECT_TRUE(writer->add("inductor", "raw", generated(40, 1, false)));
  EXPECT_TRUE(writer->add("autotune", "zstd", generated(200, 2)));
  EXPECT_TRUE(writer->add("pgo", "chunked", generated(4096 + 50, 3)));
  EXPECT_TRUE(writer->add("pgo", "empty", {}));
  EXPECT_TRUE(writer->finish());
  return read_all(path);
}

bool typed(const Error& e) { return e.reason() != ErrorReason::kUnspecified; }

TEST(BundleReader, TruncationAtEveryOffsetGivesATypedError) {
  TempDir dir;
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  for (bool solid : {false, true}) {
    Bytes bundle = small_bundle(dir, &*key, solid);
    ASSERT_TRUE(BundleReader::from_bytes(bundle));
    for (size_t n = 0; n < bundle.size(); ++n) {
      auto reader = BundleReader::from_bytes(ByteSpan(bundle).first(n));
      ASSERT_FALSE(reader) << "opened a bundle truncated to " << n << " bytes";
      EXPECT_TRUE(typed(reader.error())) << reader.error().to_string();
      EXPECT_THAT(reader, HasError(ErrorCode::kDataLoss)) << n;
    }
  }
}

class EveryByteFlip : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(BundleReader, EveryByteFlip,
                         ::testing::Values(false, true), [](const auto& info) {
                           return info.param ? "Solid" : "EntryByEntry";
                         });

TEST_P(EveryByteFlip, OfASignedBundleFailsVerification) {
  TempDir dir;
  auto key = SigningKey::generate();
  ASSERT_TRUE(key);
  Bytes bundle = small_bundle(dir, &*key, GetParam());
  if (GetParam()) {
    auto reader = BundleReader::from_bytes(bundle);
    ASSERT_TRUE(reader);
    ASSERT_THAT(reader->blocks(), IsOkAndHolds(::testing::SizeIs(1)));
  }
  ReaderOptions trusting;
  trusting.trusted_keys.push_back(key->public_key());
  {
    auto clean = BundleReader::from_bytes(bundle, trusting);
    ASSERT_THAT(clean, IsOk());
    ASSERT_TRUE(clean->verify_all());
  }
  for (size_t i = 0; i < bundle.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      Bytes damaged = bundle;
      damaged[i] ^= std::byte{mask};
      // Both a reader that demands the signature and one that does not
      // must notice.
      for (bool trust : {true, false}) {
        auto reader = BundleReader::from_bytes(
            damaged, trust ? trusting : ReaderOptions{});
        if (!reader) {
          EXPECT_TRUE(typed(reader.error())) << reader.error().to_string();
          continue;
        }
        auto verified = reader->verify_all();
        ASSERT_FALSE(verified) << "flip of byte " << i << " mask " << int(mask)
                               << " trust " << trust << " went unnoticed";
        EXPECT_TRUE(typed(verified.error())) << verified.error().to_string();
      }
    }
  }
}

TEST(BundleReader, StoredBytesAreCheckedBeforeDecompression) {
  TempDir dir;
  Bytes bundle = small_bundle(dir, nullptr);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto e = reader->entry(1);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->codec, Codec::kZstd);
  Bytes damaged = bundle;
  damaged[e->offset + e->stored_size / 2] ^= std::byte{0x10};
  auto bad = BundleReader::from_bytes(damaged);
  ASSERT_TRUE(bad);  // The index is intact; only the entry is damaged.
  auto got = bad->get("autotune", "zstd");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kChecksumMismatch);
  EXPECT_EQ(got.error().where().key, "zstd");
  EXPECT_TRUE(bad->get("inductor", "raw"));  // The others still read.
}

// An index with one zstd entry over `frame`, declaring `declared` bytes.
Bytes bundle_with_frame(const Bytes& frame, uint64_t declared) {
  return craft_bundle(frame, [&](sc::BundleIndex::Builder root) {
    root.initTypes(1).set(0, "inductor");
    auto e = root.initEntries(1)[0];
    e.setKey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("k"), 1));
    e.setOffset(kHeaderSize);
    e.setStoredSize(frame.size());
    e.setOriginalSize(declared);
    e.setCodec(sc::Codec::ZSTD);
    Xxh128 h = xxh3_128(frame);
    e.setXxh3High(xxh128_high(h));
    e.setXxh3Low(xxh128_low(h));
    Bytes zero(32);
    e.setSha256(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(zero.data()), 32));
    root.initLookup(1).set(0, 0);
  });
}

Bytes zstd_frame(const Bytes& content, bool with_size) {
  Bytes frame(ZSTD_compressBound(content.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_size ? 1 : 0);
  size_t n = with_size ? ZSTD_compress2(cctx, frame.data(), frame.size(),
                                        content.data(), content.size())
                       : 0;
  if (!with_size) {
    // A streamed frame carries no content size.
    ZSTD_outBuffer out{frame.data(), frame.size(), 0};
    ZSTD_inBuffer in{content.data(), content.size(), 0};
    ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
    n = out.pos;
  }
  ZSTD_freeCCtx(cctx);
  frame.resize(n);
  return frame;
}

TEST(BundleReader, RejectsADecompressionBombWithContentSize) {
  Bytes bomb = zstd_frame(Bytes(8 << 20), /*with_size=*/true);
  ASSERT_LT(bomb.size(), 2048u);
  Bytes bundle = bundle_with_frame(bomb, 100);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_THAT(reader, IsOk());
  auto got = reader->get("inductor", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kDecompression);
}

TEST(BundleReader, RejectsADecompressionBombWithoutContentSize) {
  Bytes bomb = zstd_frame(Bytes(8 << 20), /*with_size=*/false);
  Bytes bundle = bundle_with_frame(bomb, 100);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto got = reader->get("inductor", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kDecompression)
      << got.error().to_string();
}

TEST(BundleReader, RejectsDeclaredSizesAboveTheLimitWithoutAllocating) {
  Bytes frame = zstd_frame(Bytes(100), true);
  Bytes bundle = bundle_with_frame(frame, uint64_t{1} << 40);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto got = reader->get("inductor", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kLimitExceeded);
  EXPECT_EQ(got.error().code(), ErrorCode::kResourceExhausted);
}

TEST(BundleReader, RejectsClaimsBeyondWhatZstdCanExpandTo) {
  Bytes frame = zstd_frame(Bytes(100), true);
  // Under every size limit, but no zstd frame of this size could hold it.
  Bytes bundle = bundle_with_frame(frame, frame.size() * 32768 + 32768);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto got = reader->get("inductor", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kBadIndex);
}

TEST(BundleReader, RejectsRangesOutsideTheDataRegion) {
  Bytes data = generated(64, 1);
  for (auto [offset, size] :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 10},
                                                  {16, 65},
                                                  {80, 8},
                                                  {uint64_t{1} << 63, 8},
                                                  {16, ~uint64_t{0}}}) {
    Bytes bundle = craft_bundle(data, [&](sc::BundleIndex::Builder root) {
      root.initTypes(1).set(0, "t");
      auto e = root.initEntries(1)[0];
      e.setOffset(offset);
      e.setStoredSize(size);
      e.setOriginalSize(size);
      Bytes zero(32);
      e.setSha256(capnp::Data::Reader(
          reinterpret_cast<const kj::byte*>(zero.data()), 32));
      root.initLookup(1).set(0, 0);
    });
    auto reader = BundleReader::from_bytes(bundle);
    ASSERT_TRUE(reader);
    auto e = reader->entry(0);
    ASSERT_FALSE(e) << offset << "+" << size;
    EXPECT_EQ(e.error().reason(), ErrorReason::kBadIndex);
    EXPECT_FALSE(reader->verify_all());
  }
}

TEST(BundleReader, RejectsChunkTablesThatDoNotAddUp) {
  Bytes data = generated(64, 1);
  Bytes bundle = craft_bundle(data, [&](sc::BundleIndex::Builder root) {
    root.initTypes(1).set(0, "t");
    auto e = root.initEntries(1)[0];
    e.setOffset(16);
    e.setStoredSize(64);
    e.setOriginalSize(64);
    Bytes zero(32);
    e.setSha256(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(zero.data()), 32));
    auto chunks = e.initChunks(2);
    chunks[0].setStoredSize(32);
    chunks[0].setOriginalSize(32);
    chunks[1].setStoredSize(40);  // 72 > 64.
    chunks[1].setOriginalSize(40);
    root.initLookup(1).set(0, 0);
  });
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto e = reader->entry(0);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().reason(), ErrorReason::kBadIndex);
}

TEST(BundleReader, RejectsAnIndexThatIsNotCapnProto) {
  // A footer and checksum that are right, over index bytes that are not a
  // message: a segment table claiming far more words than there are.
  Bytes bundle;
  append_bytes(bundle, encode_header(Header{}));
  Bytes index(64, std::byte{0xff});
  Footer footer;
  footer.index_offset = bundle.size();
  footer.index_size = index.size();
  footer.index_xxh3 = xxh3_128(index);
  append_bytes(bundle, index);
  uint64_t at = bundle.size();
  append_bytes(bundle, seal_footer(footer, {}, at));
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().reason(), ErrorReason::kBadIndex);
  EXPECT_EQ(reader.error().where().offset, 16u);
}

TEST(BundleReader, LimitsAreConfigurable) {
  TempDir dir;
  Bytes bundle = small_bundle(dir, nullptr);
  ReaderOptions strict;
  strict.limits.max_entries = 3;
  auto reader = BundleReader::from_bytes(bundle, strict);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().reason(), ErrorReason::kLimitExceeded);

  ReaderOptions small_chunks;
  small_chunks.limits.max_chunk_size = 1000;
  auto chunky = BundleReader::from_bytes(bundle, small_chunks);
  ASSERT_TRUE(chunky);
  EXPECT_TRUE(chunky->get("inductor", "raw"));
  auto big = chunky->get("pgo", "chunked");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().reason(), ErrorReason::kLimitExceeded);

  ReaderOptions tiny_index;
  tiny_index.limits.max_index_size = 64;
  auto index = BundleReader::from_bytes(bundle, tiny_index);
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().code(), ErrorCode::kResourceExhausted);
}

TEST(BundleReader, RejectsOtherFormatsByMagic) {
  Bytes blob = {std::byte{0x12}, std::byte{0x25}, std::byte{0xef},
                std::byte{0xff}, std::byte{0},    std::byte{0},
                std::byte{0},    std::byte{0},    std::byte{0},
                std::byte{0},    std::byte{0},    std::byte{1}};
  Bytes padded = blob;
  padded.resize(200);
  for (const Bytes& input : {blob, padded}) {
    auto reader = BundleReader::from_bytes(input);
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().reason(), ErrorReason::kBadMagic);
  }
}

TEST(BundleFormat, IsBundleAlsoRecognisesDamagedMagics) {
  TempDir dir;
  Bytes bundle = small_bundle(dir, nullptr);
  EXPECT_TRUE(is_bundle(bundle));
  for (std::vector<size_t> flipped :
       std::vector<std::vector<size_t>>{{0}, {7}, {1, 5}}) {
    Bytes damaged = bundle;
    for (size_t i : flipped) damaged[i] ^= std::byte{0x40};
    EXPECT_TRUE(is_bundle(damaged)) << flipped[0];
  }
  // The whole magic gone: the valid footer at the end still says bundle.
  Bytes wiped = bundle;
  std::fill(wiped.begin(), wiped.begin() + 8, std::byte{0});
  EXPECT_TRUE(is_bundle(wiped));
  // Other formats: a Mega-Cache header (CRC-32, version 1), text, nothing.
  Bytes blob = {std::byte{0x89}, std::byte{'C'}, std::byte{'P'}, std::byte{'K'},
                std::byte{0},    std::byte{0},   std::byte{0},   std::byte{0},
                std::byte{0},    std::byte{0},   std::byte{0},   std::byte{1}};
  EXPECT_FALSE(is_bundle(blob));  // Even with a CRC equal to "\x89CPK".
  EXPECT_FALSE(is_bundle(text_bytes("hello, world")));
  EXPECT_FALSE(is_bundle({}));
}

TEST(BundleReader, DamagedMagicIsBadMagicAtTheFirstDifferingByte) {
  TempDir dir;
  Bytes bundle = small_bundle(dir, nullptr);
  for (size_t at : {0u, 3u, 7u}) {
    Bytes damaged = bundle;
    damaged[at] ^= std::byte{1};
    auto reader = BundleReader::from_bytes(damaged);
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(reader.error().reason(), ErrorReason::kBadMagic);
    EXPECT_EQ(reader.error().where().offset, at);
    EXPECT_THAT(reader.error().message(), HasSubstr("damaged bundle"));
  }
}

TEST(BundleReader, RejectsUnknownVersionsAndFlags) {
  TempDir dir;
  Bytes bundle = small_bundle(dir, nullptr);
  for (size_t at : {11u, 15u}) {
    Bytes changed = bundle;
    changed[at] = std::byte{2};
    auto reader = BundleReader::from_bytes(changed);
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().reason(), ErrorReason::kUnsupportedVersion);
    EXPECT_EQ(reader.error().code(), ErrorCode::kUnimplemented);
  }
}

// One solid block over `stored` (declaring `block_size` decompressed bytes)
// and an entry per (offset, size) of `spans`, keys "e0", "e1", ..., whose
// SHA-256 is of those bytes of `content` where they lie in it.
Bytes solid_bundle(const Bytes& stored, sc::Codec codec, uint64_t block_size,
                   const std::vector<std::pair<uint64_t, uint64_t>>& spans,
                   const Bytes& content, uint32_t flags = kFlagSolidBlocks) {
  return craft_bundle(
      stored,
      [&](sc::BundleIndex::Builder root) {
        root.initTypes(1).set(0, "inductor");
        auto b = root.initBlocks(1)[0];
        b.setOffset(kHeaderSize);
        b.setStoredSize(stored.size());
        b.setOriginalSize(block_size);
        b.setCodec(codec);
        Xxh128 h = xxh3_128(stored);
        b.setXxh3High(xxh128_high(h));
        b.setXxh3Low(xxh128_low(h));
        auto es = root.initEntries(spans.size());
        auto lookup = root.initLookup(spans.size());
        for (size_t i = 0; i < spans.size(); ++i) {
          auto [offset, size] = spans[i];
          std::string key = "e" + std::to_string(i);
          es[i].setKey(capnp::Data::Reader(
              reinterpret_cast<const kj::byte*>(key.data()), key.size()));
          es[i].setBlock(1);
          es[i].setOffset(offset);
          es[i].setOriginalSize(size);
          Sha256Digest d{};
          if (offset + size <= content.size()) {
            d = sha256(ByteSpan(content).subspan(offset, size));
          }
          es[i].setSha256(capnp::Data::Reader(
              reinterpret_cast<const kj::byte*>(d.data()), d.size()));
          lookup.set(i, static_cast<uint32_t>(i));
        }
      },
      Header{.flags = flags});
}

TEST(SolidBlocks, WriterSetsTheHeaderFlagThatOlderReadersRefuse) {
  TempDir dir;
  Bytes solid = small_bundle(dir, nullptr, /*solid=*/true);
  Bytes alone = small_bundle(dir, nullptr, /*solid=*/false);
  // Readers before solid blocks knew no flag and refused any bit set.
  EXPECT_EQ(solid[15], std::byte{kFlagSolidBlocks});
  EXPECT_EQ(alone[15], std::byte{0});
  auto reader = BundleReader::from_bytes(solid);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->header().flags, kFlagSolidBlocks);
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(SolidBlocks, RejectsBlocksInABundleWithoutTheFlag) {
  Bytes content = text_bytes("abcdefghij");
  Bytes reader_bytes =
      solid_bundle(content, sc::Codec::RAW, 10, {{0, 10}}, content, 0);
  auto reader = BundleReader::from_bytes(reader_bytes);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().reason(), ErrorReason::kBadIndex);
  EXPECT_THAT(reader.error().message(), HasSubstr("solid-blocks flag"));
}

TEST(SolidBlocks, RejectsAnEntryThatEndsPastItsBlock) {
  Bytes content = generated(100, 1);
  Bytes reader_bytes =
      solid_bundle(content, sc::Codec::RAW, 100, {{0, 60}, {60, 50}}, content);
  auto reader = BundleReader::from_bytes(reader_bytes);
  ASSERT_TRUE(reader);
  EXPECT_THAT(reader->read(0), IsOk());
  auto e = reader->entry(1);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().reason(), ErrorReason::kBadIndex);
  EXPECT_EQ(e.error().where().key, "e1");
  EXPECT_EQ(e.error().where().offset, reader->footer().index_offset);
  EXPECT_THAT(e.error().message(), HasSubstr("ends past"));
  // An offset past the end, too large to add without overflow.
  Bytes far_bytes = solid_bundle(content, sc::Codec::RAW, 100,
                                 {{UINT64_MAX - 5, 10}}, content);
  auto far = BundleReader::from_bytes(far_bytes);
  ASSERT_TRUE(far);
  EXPECT_THAT(far->entry(0), HasError(ErrorCode::kDataLoss));
}

TEST(SolidBlocks, VerifyRefusesOverlapsGapsAndUnclaimedBytes) {
  Bytes content = generated(100, 2);
  struct Case {
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    const char* says;
  };
  for (const Case& c :
       {Case{{{0, 60}, {50, 50}}, "overlap"}, Case{{{0, 40}, {50, 50}}, "gap"},
        Case{{{0, 40}, {40, 40}}, "add up"}}) {
    Bytes reader_bytes =
        solid_bundle(content, sc::Codec::RAW, 100, c.spans, content);
    auto reader = BundleReader::from_bytes(reader_bytes);
    ASSERT_TRUE(reader) << c.says;
    // Each entry alone is readable: only the structure is wrong.
    EXPECT_THAT(reader->read(0), IsOk());
    auto verified = reader->verify_structure();
    ASSERT_FALSE(verified) << c.says;
    EXPECT_EQ(verified.error().reason(), ErrorReason::kBadIndex);
    EXPECT_THAT(verified.error().message(), HasSubstr(c.says));
  }
}

TEST(SolidBlocks, ABlockSizeThatLiesIsADecompressionError) {
  Bytes content = generated(1000, 3);
  // The frame says 1000 bytes, the index 2000: refused before decompressing.
  Bytes claims_more_bytes =
      solid_bundle(zstd_frame(content, true), sc::Codec::ZSTD, 2000,
                   {{0, 1000}, {1000, 1000}}, content);
  auto claims_more = BundleReader::from_bytes(claims_more_bytes);
  ASSERT_TRUE(claims_more);
  auto got = claims_more->read(0);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kDecompression);
  EXPECT_EQ(got.error().where().offset, kHeaderSize);
  EXPECT_EQ(got.error().where().key, "e0");
  // Without a size in the frame, the frame ends before the second entry.
  Bytes ends_early_bytes =
      solid_bundle(zstd_frame(content, false), sc::Codec::ZSTD, 2000,
                   {{0, 1000}, {1000, 1000}}, content);
  auto ends_early = BundleReader::from_bytes(ends_early_bytes);
  ASSERT_TRUE(ends_early);
  EXPECT_THAT(ends_early->read(0), IsOkAndHolds(content));
  auto second = ends_early->read(1);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().reason(), ErrorReason::kDecompression);
  EXPECT_THAT(second.error().message(), HasSubstr("ends after 1000"));
  // The index says less than the frame holds: its entries read, but
  // verification decompresses the whole block and notices.
  Bytes claims_less_bytes =
      solid_bundle(zstd_frame(content, false), sc::Codec::ZSTD, 500,
                   {{0, 250}, {250, 250}}, content);
  auto claims_less = BundleReader::from_bytes(claims_less_bytes);
  ASSERT_TRUE(claims_less);
  EXPECT_THAT(claims_less->read(1), IsOk());
  auto verified = claims_less->verify_all();
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().reason(), ErrorReason::kDecompression);
}

TEST(SolidBlocks, BlockIsCheckedBeforeDecompressionAndNamesTheEntry) {
  TempDir dir;
  Bytes bundle = small_bundle(dir, nullptr, /*solid=*/true);
  auto reader = BundleReader::from_bytes(bundle);
  ASSERT_TRUE(reader);
  auto e = reader->entry(1);
  ASSERT_TRUE(e);
  ASSERT_NE(e->block, 0u);
  Bytes damaged = bundle;
  damaged[e->block_data.offset + e->block_data.stored_size / 2] ^=
      std::byte{0x10};
  auto bad = BundleReader::from_bytes(damaged);
  ASSERT_TRUE(bad);
  auto got = bad->get("autotune", "zstd");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kChecksumMismatch);
  EXPECT_EQ(got.error().where().key, "zstd");
  EXPECT_EQ(got.error().where().offset, e->block_data.offset);
  EXPECT_TRUE(bad->get("pgo", "chunked"));  // Outside the block: still reads.
}

TEST(SolidBlocks, ReadingAnEntryDecompressesItsBlockOnlyUpToTheEntry) {
  // Two entries of 300 kB; the frame's second half is cut off (the index
  // vouches for what is left). The first entry needs only the frame's
  // start, the second the missing part.
  Bytes first = generated(300000, 4), second = generated(300000, 5);
  Bytes content = first;
  content.insert(content.end(), second.begin(), second.end());
  Bytes frame = zstd_frame(content, true);
  frame.resize(frame.size() * 3 / 4);
  Bytes reader_bytes =
      solid_bundle(frame, sc::Codec::ZSTD, content.size(),
                   {{0, first.size()}, {first.size(), second.size()}}, content);
  auto reader = BundleReader::from_bytes(reader_bytes);
  ASSERT_TRUE(reader);
  EXPECT_THAT(reader->read(0), IsOkAndHolds(first));
  auto got = reader->read(1);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), ErrorReason::kDecompression);
  EXPECT_THAT(got.error().message(), HasSubstr("cut short"));
}

}  // namespace
}  // namespace cachepack::bundle
