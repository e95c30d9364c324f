// Our own Mega-Cache codec tests beyond PyTorch's vectors: round trips,
// truncation at every offset, CRC-valid corruption, and exact sizes.
#include "cachepack/megacache.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "cachepack/hash.h"
#include "tests/testing/result_matchers.h"
#include "util/text.h"

namespace cachepack {
namespace {

using testing::IsOk;

using megacache::KeyedContent;

// Fixes the CRC of a hand-edited blob so corruption past the checksum is what
// the reader sees.
void refresh_crc(Bytes& blob) {
  encode_fixed32_be(blob.data(), crc32(ByteSpan(blob).subspan(4)));
}

Bytes small_blob() {
  megacache::Writer w;
  std::string c1 = "content one";
  std::string c2(40, '\0');
  std::vector<KeyedContent> inductor = {{"fkey1", as_bytes(c1)},
                                        {"", as_bytes(c2)}};
  EXPECT_TRUE(w.append_group("inductor", inductor));
  std::vector<KeyedContent> pgo = {{"job:0:tag", as_bytes("x")}};
  EXPECT_TRUE(w.append_group("pgo", pgo));
  ByteSpan b = w.bytes();
  return Bytes(b.begin(), b.end());
}

TEST(MegaCacheWriter, EmptyBlobIsTwelveKnownBytes) {
  megacache::Writer w;
  ByteSpan b = w.bytes();
  EXPECT_EQ(to_hex(b), "1225efff0000000000000001");
}

TEST(MegaCacheWriter, GrowsPastHugePagesKeepingEveryByteAndTheChecksum) {
  // 40 groups of 1 to 2 MB cross the small mappings, the 2 MiB huge-page
  // granule and several moves of the buffer (util/append_buffer.h).
  megacache::Writer w;
  std::mt19937 rng(7);
  std::vector<std::string> contents;
  for (int g = 0; g < 40; ++g) {
    std::string c(1'000'000 + rng() % 1'000'000, '\0');
    for (auto& ch : c) ch = static_cast<char>(rng());
    contents.push_back(std::move(c));
    std::vector<KeyedContent> one = {
        {"key" + std::to_string(g), as_bytes(contents.back())}};
    ASSERT_TRUE(w.append_group("inductor", one));
    if (g % 7 == 0) ASSERT_FALSE(w.bytes().empty());  // CRC done in parts.
  }
  ByteSpan b = w.bytes();
  EXPECT_EQ(decode_fixed32_be(b.data()), crc32(b.subspan(4)));
  auto parsed = megacache::parse(b);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_EQ(parsed->artifact_count(), contents.size());
  auto all = parsed->artifacts();
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].key, "key" + std::to_string(i));
    EXPECT_EQ(as_chars(all[i].content), contents[i]) << i;
  }
  w.clear();
  EXPECT_EQ(to_hex(w.bytes()), "1225efff0000000000000001");
}

TEST(MegaCacheWriter, WritesPyTorchsFieldLayout) {
  megacache::Writer w;
  std::vector<KeyedContent> e = {{"k", as_bytes("abc")}};
  ASSERT_TRUE(w.append_group("pgo", e));
  ByteSpan b = w.bytes();
  // type: len 4 + "cGdv"; count 1; key: len 4 + "aw=="; content: len 3 + abc.
  EXPECT_EQ(to_hex(b.subspan(4)),
            "0000000000000001"
            "0000000000000004" +
                to_hex(as_bytes("cGdv")) +
                "0000000000000001"
                "0000000000000004" +
                to_hex(as_bytes("aw==")) + "0000000000000003" +
                to_hex(as_bytes("abc")));
  EXPECT_EQ(b.size(), 12 + megacache::group_size("pgo", e));
}

TEST(MegaCacheWriter, BytesCanBeTakenRepeatedlyWhileAppending) {
  megacache::Writer w;
  std::vector<KeyedContent> e = {{"k", as_bytes("v")}};
  ASSERT_TRUE(w.append_group("pgo", e));
  Bytes first(w.bytes().begin(), w.bytes().end());
  ASSERT_TRUE(w.append_group("pgo", e));
  Bytes second(w.bytes().begin(), w.bytes().end());
  EXPECT_EQ(decode_fixed32_be(second.data()),
            crc32(ByteSpan(second).subspan(4)));
  EXPECT_TRUE(std::equal(first.begin() + 4, first.end(), second.begin() + 4));
  auto parsed = megacache::parse(second);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->groups.size(), 2u);
}

TEST(MegaCacheWriter, RejectsKeysThatAreNotUtf8) {
  megacache::Writer w;
  std::vector<KeyedContent> e = {{"\xc0\x80", as_bytes("v")}};
  auto r = w.append_group("pgo", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), ErrorReason::kInvalidUtf8);
  EXPECT_EQ(w.bytes().size(), 12u);  // Nothing appended.
}

TEST(MegaCacheRoundTrip, RandomArtifactsSurviveWriteAndRead) {
  std::mt19937_64 rng(42);
  const char* types[] = {"inductor", "autotune", "aot_autograd", "pgo",
                         "precompile"};
  const char* key_parts[] = {"a", "é", "テ", "🔥", "/", ":", " ", "\n"};
  for (int round = 0; round < 20; ++round) {
    std::vector<std::pair<std::string,
                          std::vector<std::pair<std::string, std::string>>>>
        groups;
    int group_count = static_cast<int>(rng() % 6);
    for (int g = 0; g < group_count; ++g) {
      std::vector<std::pair<std::string, std::string>> artifacts;
      int n = static_cast<int>(rng() % 30);
      for (int i = 0; i < n; ++i) {
        std::string key;
        int parts = static_cast<int>(rng() % 12);
        for (int p = 0; p < parts; ++p) key += key_parts[rng() % 8];
        key.push_back('\0');
        std::string content(rng() % 3 == 0 ? 0 : rng() % 5000, '\0');
        for (auto& c : content) c = static_cast<char>(rng());
        artifacts.emplace_back(key, content);
      }
      groups.emplace_back(types[rng() % 5], std::move(artifacts));
    }
    megacache::Writer w;
    for (const auto& [type, artifacts] : groups) {
      std::vector<KeyedContent> entries;
      for (const auto& [k, c] : artifacts) entries.push_back({k, as_bytes(c)});
      ASSERT_TRUE(w.append_group(type, entries));
    }
    ByteSpan blob = w.bytes();
    auto parsed = megacache::parse(blob);
    ASSERT_THAT(parsed, IsOk());
    ASSERT_EQ(parsed->groups.size(), groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      EXPECT_EQ(parsed->groups[g].type, groups[g].first);
      ASSERT_EQ(parsed->groups[g].artifacts.size(), groups[g].second.size());
      for (size_t i = 0; i < groups[g].second.size(); ++i) {
        EXPECT_EQ(parsed->groups[g].artifacts[i].key,
                  groups[g].second[i].first);
        EXPECT_EQ(as_chars(parsed->groups[g].artifacts[i].content),
                  groups[g].second[i].second);
      }
    }
  }
}

TEST(MegaCacheRoundTrip, HugeContentIsAViewNotACopy) {
  Bytes huge(64 << 20);
  for (size_t i = 0; i < huge.size(); i += 4096) huge[i] = std::byte(i >> 12);
  megacache::Writer w;
  std::vector<KeyedContent> e = {{"fbig", huge}, {"fempty", {}}};
  ASSERT_TRUE(w.append_group("inductor", e));
  ByteSpan blob = w.bytes();
  auto parsed = megacache::parse(blob);
  ASSERT_TRUE(parsed);
  const auto& a = parsed->groups[0].artifacts[0];
  EXPECT_EQ(a.content.size(), huge.size());
  // The view points into the blob itself.
  EXPECT_EQ(a.content.data(), blob.data() + a.content_offset);
  EXPECT_TRUE(std::equal(a.content.begin(), a.content.end(), huge.begin()));
  EXPECT_TRUE(parsed->groups[0].artifacts[1].content.empty());
}

TEST(MegaCacheReader, HandsWhatItHasReadToDoneReadingFrontToBack) {
  // 20 MB in artifacts of 1.5 MB: several read steps in both passes.
  megacache::Writer w;
  std::vector<std::string> contents;
  for (int i = 0; i < 14; ++i) {
    contents.push_back(std::string(1'500'000, static_cast<char>('a' + i)));
  }
  for (int g = 0; g < 2; ++g) {
    std::vector<KeyedContent> group;
    for (int i = g * 7; i < g * 7 + 7; ++i) {
      group.push_back({"key" + std::to_string(i), as_bytes(contents[i])});
    }
    ASSERT_TRUE(w.append_group(g == 0 ? "inductor" : "pgo", group));
  }
  ByteSpan blob = w.bytes();

  std::vector<std::pair<size_t, size_t>> ranges;  // (begin, end) offsets.
  megacache::ReadOptions options;
  options.done_reading = [&](ByteSpan r) {
    size_t begin = static_cast<size_t>(r.data() - blob.data());
    ranges.emplace_back(begin, begin + r.size());
  };
  auto parsed = megacache::parse(blob, options);
  ASSERT_THAT(parsed, IsOk());
  auto plain = megacache::parse(blob);
  ASSERT_THAT(plain, IsOk());
  ASSERT_EQ(parsed->artifacts().size(), plain->artifacts().size());
  EXPECT_EQ(parsed->artifacts().back().content.data(),
            plain->artifacts().back().content.data());

  // Two passes, each contiguous and covering the input: the checksum from
  // byte 4, then the structure from byte 0.
  ASSERT_GE(ranges.size(), 4u);
  size_t pass = 0, expected_begin = 4;
  for (auto [begin, end] : ranges) {
    if (begin != expected_begin) {
      ASSERT_EQ(expected_begin, blob.size()) << "a gap before " << begin;
      ASSERT_EQ(begin, 0u);
      ++pass;
    }
    ASSERT_LT(begin, end);
    expected_begin = end;
  }
  EXPECT_EQ(pass, 1u);
  EXPECT_EQ(expected_begin, blob.size());
}

TEST(MegaCacheReader, RejectsEverySingleByteTruncation) {
  Bytes blob = small_blob();
  for (size_t n = 0; n < blob.size(); ++n) {
    auto parsed = megacache::parse(ByteSpan(blob).first(n));
    ASSERT_FALSE(parsed) << "prefix of " << n << " bytes was accepted";
    EXPECT_EQ(parsed.error().code(), ErrorCode::kDataLoss);
  }
}

TEST(MegaCacheReader, RejectsEveryTruncationEvenWithARecomputedCrc) {
  // Without the CRC to lean on, the bounds checks alone must catch it. A cut
  // at a group boundary is a valid shorter blob, so only other cuts fail.
  Bytes blob = small_blob();
  auto full = megacache::parse(blob);
  ASSERT_TRUE(full);
  std::set<size_t> boundaries = {megacache::kHeaderSize, blob.size()};
  boundaries.insert(full->groups[1].offset);
  for (size_t n = 4; n < blob.size(); ++n) {
    Bytes cut(blob.begin(), blob.begin() + n);
    refresh_crc(cut);
    auto parsed = megacache::parse(cut);
    if (boundaries.contains(n)) {
      EXPECT_TRUE(parsed) << n;
      continue;
    }
    ASSERT_FALSE(parsed) << "prefix of " << n << " bytes was accepted";
    EXPECT_EQ(parsed.error().code(), ErrorCode::kDataLoss) << n;
    ASSERT_TRUE(parsed.error().where().offset) << n;
    EXPECT_LE(*parsed.error().where().offset, n);
  }
}

TEST(MegaCacheReader, RejectsLengthOverrunWithValidCrc) {
  Bytes blob = small_blob();
  // The first content length field: 12 + type(8+12) + count 8 + key(8+8).
  size_t content_len_at = 12 + 8 + 12 + 8 + 8 + 8;
  encode_fixed64_be(blob.data() + content_len_at, ~uint64_t{0});
  refresh_crc(blob);
  auto parsed = megacache::parse(blob);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().reason(), ErrorReason::kLengthOverrun);
  EXPECT_EQ(parsed.error().where().offset, content_len_at);
  EXPECT_EQ(parsed.error().where().key, "fkey1");
}

TEST(MegaCacheReader, RejectsAnArtifactCountTheBytesCannotHold) {
  Bytes blob = small_blob();
  size_t count_at = 12 + 8 + 12;
  encode_fixed64_be(blob.data() + count_at, uint64_t{1} << 60);
  refresh_crc(blob);
  auto parsed = megacache::parse(blob);  // Must not try to reserve 2^60.
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().reason(), ErrorReason::kLengthOverrun);
  EXPECT_EQ(parsed.error().where().offset, count_at);
}

TEST(MegaCacheReader, RejectsTrailingBytesTooShortForAGroup) {
  Bytes blob = small_blob();
  size_t end = blob.size();
  blob.push_back(std::byte{0});
  refresh_crc(blob);
  auto parsed = megacache::parse(blob);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().reason(), ErrorReason::kTrailingBytes);
  EXPECT_EQ(parsed.error().where().offset, end);
}

TEST(MegaCacheReader, RejectsInductorTritonKeyThatIsNotTheContentHash) {
  megacache::Writer w;
  std::string content = "kernel";
  std::string wrong(64, 'a');
  std::vector<KeyedContent> e = {{wrong, as_bytes(content)}};
  ASSERT_TRUE(w.append_group("inductor_triton", e));
  auto parsed = megacache::parse(w.bytes());
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().reason(), ErrorReason::kInvalidContent);
  EXPECT_EQ(parsed.error().where().key, wrong);
  // With the right key it loads.
  megacache::Writer ok;
  std::string right = sha256_hex(as_bytes(content));
  std::vector<KeyedContent> e2 = {{right, as_bytes(content)}};
  ASSERT_TRUE(ok.append_group("inductor_triton", e2));
  EXPECT_TRUE(megacache::parse(ok.bytes()));
}

TEST(MegaCacheReader, CarriesUnregisteredTypesUnlessStrict) {
  megacache::Writer w;
  std::vector<KeyedContent> e = {{"k", as_bytes("v")}};
  ASSERT_TRUE(w.append_group("my_custom_type", e));
  auto carried = megacache::parse(w.bytes());
  ASSERT_TRUE(carried);
  EXPECT_EQ(carried->artifacts()[0].type, "my_custom_type");
  auto strict = megacache::parse(w.bytes(), {.strict_types = true});
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().reason(), ErrorReason::kUnknownType);
  EXPECT_EQ(strict.error().where().offset, 12u);
  megacache::ReadOptions any;
  any.types = nullptr;
  EXPECT_TRUE(megacache::parse(w.bytes(), any));
}

TEST(MegaCacheReader, SurvivesRandomCorruptionWithValidCrc) {
  // Random byte edits with the CRC fixed up: every outcome is a value (a
  // parse or a typed error), never a crash, hang or out-of-bounds read
  // (run under --config=asan to check the last).
  Bytes original = small_blob();
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes blob = original;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = 4 + rng() % (blob.size() - 4);
      blob[at] = static_cast<std::byte>(rng());
    }
    refresh_crc(blob);
    auto parsed = megacache::parse(blob);
    if (parsed) {
      for (const auto& a : parsed->artifacts()) {
        ASSERT_GE(a.content.data(), blob.data());
        ASSERT_LE(a.content.data() + a.content.size(),
                  blob.data() + blob.size());
      }
    }
  }
}

}  // namespace
}  // namespace cachepack
