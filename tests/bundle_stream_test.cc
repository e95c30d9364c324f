// Streaming both ways: BundleWriter::add_stream writes the same bytes as
// add() whatever the source's piece sizes, and refuses a source that lies
// about its size; EntryContentSource yields an entry chunk by chunk and
// reports a SHA-256 mismatch on its last piece.
#include "serializer/bundle_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using ::testing::Optional;

using cachepack::testing::IsOk;
using testing::generated;
using testing::read_all;
using testing::TempDir;

// Yields bytes in pieces of a fixed odd size; may lie about its size.
class Pieces final : public ContentSource {
 public:
  Pieces(ByteSpan data, size_t piece, uint64_t declared)
      : data_(data), piece_(piece), declared_(declared) {}
  uint64_t size() const override { return declared_; }
  Result<ByteSpan> next() override {
    ByteSpan out = data_.subspan(at_, std::min(piece_, data_.size() - at_));
    at_ += out.size();
    return out;
  }

 private:
  ByteSpan data_;
  size_t piece_;
  uint64_t declared_;
  size_t at_ = 0;
};

Bytes write_bundle(const TempDir& dir, const std::string& name, int threads,
                   bool stream, size_t piece,
                   const std::vector<Bytes>& contents) {
  WriterOptions options{.threads = threads, .chunk_size = 4096};
  auto w = BundleWriter::create(dir.file(name), options);
  EXPECT_TRUE(w);
  EXPECT_TRUE(w->begin_group("precompile"));
  for (size_t i = 0; i < contents.size(); ++i) {
    std::string key = "k" + std::to_string(i);
    if (stream) {
      Pieces source(contents[i], piece, contents[i].size());
      auto r = w->add_stream("precompile", key, source);
      EXPECT_THAT(r, IsOk());
    } else {
      EXPECT_TRUE(w->add("precompile", key, contents[i]));
    }
  }
  auto done = w->finish();
  EXPECT_THAT(done, IsOk());
  return read_all(dir.file(name));
}

TEST(BundleWriterStream, WritesTheSameBytesAsAddWhateverThePieces) {
  TempDir dir;
  std::vector<Bytes> contents = {Bytes(), generated(1, 1), generated(4096, 2),
                                 generated(4097, 3), generated(50'000, 4)};
  for (int threads : {1, 3}) {
    Bytes expected = write_bundle(dir, "a.cpk", threads, false, 0, contents);
    for (size_t piece : {1u, 999u, 4096u, 100'000u}) {
      EXPECT_EQ(write_bundle(dir, "s.cpk", threads, true, piece, contents),
                expected)
          << threads << " threads, pieces of " << piece;
    }
  }
}

TEST(BundleWriterStream, RefusesASourceShorterOrLongerThanDeclared) {
  TempDir dir;
  Bytes content = generated(10'000, 5);
  for (uint64_t declared : {9'999u, 10'001u}) {
    auto w = BundleWriter::create(dir.file("x.cpk"), {.chunk_size = 4096});
    ASSERT_TRUE(w);
    Pieces source(content, 333, declared);
    auto r = w->add_stream("precompile", "k", source);
    ASSERT_FALSE(r) << declared;
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(r.error().where().key, "k");
    EXPECT_FALSE(w->finish());  // Unusable from then on.
  }
}

TEST(EntryContentSource, YieldsTheEntryChunkByChunk) {
  TempDir dir;
  Bytes content = generated(10'000, 6);
  auto w = BundleWriter::create(dir.file("b.cpk"), {.chunk_size = 4096});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->add("precompile", "k", content));
  ASSERT_TRUE(w->finish());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_TRUE(reader);
  auto entry = reader->entry(0);
  ASSERT_TRUE(entry);
  EntryContentSource source(*reader, *entry);
  EXPECT_EQ(source.size(), content.size());
  EXPECT_THAT(source.known_sha256(), Optional(sha256(content)));
  Bytes got;
  size_t pieces = 0;
  while (true) {
    auto piece = source.next();
    ASSERT_THAT(piece, IsOk());
    if (piece->empty()) break;
    EXPECT_LE(piece->size(), 4096u);
    got.insert(got.end(), piece->begin(), piece->end());
    ++pieces;
  }
  EXPECT_EQ(pieces, 3u);
  EXPECT_EQ(got, content);
}

TEST(EntryContentSource, ReportsASha256MismatchOnItsLastPiece) {
  TempDir dir;
  Bytes content = generated(5'000, 7);
  auto w = BundleWriter::create(dir.file("c.cpk"), {.chunk_size = 4096});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->add("precompile", "k", content));
  ASSERT_TRUE(w->finish());
  auto reader = BundleReader::open(dir.file("c.cpk"));
  ASSERT_TRUE(reader);
  auto entry = reader->entry(0);
  ASSERT_TRUE(entry);
  entry->sha256[0] ^= std::byte{1};  // As an index that lies would.
  EntryContentSource source(*reader, *entry);
  ASSERT_TRUE(source.next());
  ASSERT_TRUE(source.next());
  auto last = source.next();
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().reason(), ErrorReason::kChecksumMismatch);
  EXPECT_EQ(last.error().where().key, "k");
}

}  // namespace
}  // namespace cachepack::bundle
