// The worked example in docs/FORMAT.md is the exact output of the writer:
// this test rebuilds it and compares byte for byte, so the document cannot
// drift from the code.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using cachepack::testing::IsOk;
using testing::read_all;
using testing::TempDir;
using testing::text_bytes;

// The block between "<!-- example-begin -->" and "<!-- example-end -->":
// lines "OFFSET | HEX BYTES | comment"; offsets are checked too.
Result<Bytes> example_from_doc(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read " + path);
  std::string line;
  bool inside = false;
  Bytes out;
  while (std::getline(in, line)) {
    if (line.find("<!-- example-begin -->") != std::string::npos) {
      inside = true;
      continue;
    }
    if (line.find("<!-- example-end -->") != std::string::npos) break;
    if (!inside) continue;
    size_t bar1 = line.find('|');
    if (bar1 == std::string::npos) continue;
    size_t bar2 = line.find('|', bar1 + 1);
    uint64_t offset = std::stoull(line.substr(0, bar1), nullptr, 16);
    if (offset != out.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "line says offset " + std::to_string(offset) + " but " +
                            std::to_string(out.size()) +
                            " bytes precede it: " + line);
    }
    std::istringstream hex(line.substr(bar1 + 1, bar2 - bar1 - 1));
    std::string byte;
    while (hex >> byte) {
      out.push_back(static_cast<std::byte>(std::stoul(byte, nullptr, 16)));
    }
  }
  return out;
}

std::string dump(ByteSpan b) {
  std::string s;
  for (size_t i = 0; i < b.size(); i += 16) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04zx |", i);
    s += buf;
    for (size_t j = i; j < std::min(b.size(), i + 16); ++j) {
      std::snprintf(buf, sizeof buf, " %02x", static_cast<unsigned>(b[j]));
      s += buf;
    }
    s += " |\n";
  }
  return s;
}

TEST(BundleFormat, WorkedExampleInFormatMdIsWhatTheWriterProduces) {
  TempDir dir;
  std::string path = dir.file("example.cpk");
  auto writer = BundleWriter::create(path);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->add("autotune", "k", text_bytes("hi")));
  ASSERT_TRUE(writer->finish());
  Bytes written = read_all(path);
  auto documented = example_from_doc("docs/FORMAT.md");
  ASSERT_THAT(documented, IsOk());
  EXPECT_EQ(*documented, written) << "the writer now produces:\n"
                                  << dump(written);
  auto reader = BundleReader::from_bytes(*documented);
  ASSERT_TRUE(reader);
  auto got = reader->get("autotune", "k");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, text_bytes("hi"));
}

TEST(BundleFormat, HeaderAndFooterEncodeAsDocumented) {
  auto header = encode_header(Header{});
  EXPECT_EQ(to_hex(header), "8943504b0d0a1a0a0000000100000000");
  Footer f;
  f.index_offset = 0x18;
  f.index_size = 0x20;
  f.checksum = 0x0102030405060708;
  auto bytes = encode_footer(f);
  EXPECT_EQ(to_hex(ByteSpan(bytes).subspan(0, 16)),
            "00000000000000180000000000000020");
  EXPECT_EQ(to_hex(ByteSpan(bytes).subspan(56)),
            "01020304050607088943504b454e440a");
}

TEST(BundleFormat, SealedFooterChecksumsItsFieldsSignaturesAndOffset) {
  Bytes file;
  append_bytes(file, encode_header(Header{}));
  append_bytes(file, Bytes(8, std::byte{0}));  // An index of one word.
  Bytes signatures(kSignatureRecordSize, std::byte{7});
  append_bytes(file, signatures);
  Footer f;
  f.index_offset = kHeaderSize;
  f.index_size = 8;
  f.signatures_offset = kHeaderSize + 8;
  f.signature_count = 1;
  uint64_t at = file.size();
  auto sealed = seal_footer(f, signatures, at);
  EXPECT_EQ(f.checksum,
            footer_checksum(ByteSpan(sealed).first(56), signatures, at));
  EXPECT_EQ(sealed, encode_footer(f));
  append_bytes(file, sealed);
  auto decoded = decode_footer(file, at);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->checksum, f.checksum);
}

TEST(BundleFormat, LookupOrderIsTypeThenKeyAsUnsignedBytes) {
  EXPECT_LT(compare_lookup_order(0, "z", 1, "a"), 0);
  EXPECT_LT(compare_lookup_order(1, "a", 1, "ab"), 0);
  EXPECT_LT(compare_lookup_order(1, "\x7f", 1, "\x80"), 0);
  EXPECT_EQ(
      compare_lookup_order(2, std::string("k\0", 2), 2, std::string("k\0", 2)),
      0);
  EXPECT_GT(compare_lookup_order(2, "", 1, "zz"), 0);
}

TEST(BundleFormat, GroupPartitionNamesWhatIsWrong) {
  std::vector<char> types = {'a', 'a', 'b'};
  std::vector<char> group_types;
  auto check = [&](std::vector<uint64_t> counts) {
    return group_partition_error(
        counts, types.size(),
        [&](size_t g, uint64_t e) { return group_types[g] == types[e]; });
  };
  group_types = {'a', 'b'};
  EXPECT_EQ(check({2, 1}), std::nullopt);
  EXPECT_EQ(check({2, 2}), "groups cover more entries than exist");
  EXPECT_EQ(check({2}), "groups do not cover every entry");
  group_types = {'a', 'a'};
  EXPECT_EQ(check({2, 1}), "group type differs from its entries' type");
}

}  // namespace
}  // namespace cachepack::bundle
