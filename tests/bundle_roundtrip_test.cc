// Writing and reading bundles: what goes in comes out, in order, by key,
// chunked, compressed or raw, identically on every run and thread count.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/hash.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::bundle {
namespace {

using ::testing::Field;

using cachepack::testing::HasError;
using cachepack::testing::IsOk;
using cachepack::testing::IsOkAndHolds;
using testing::generated;
using testing::read_all;
using testing::TempDir;
using testing::text_bytes;

struct Item {
  std::string type;
  std::string key;
  Bytes content;
};

std::vector<Item> sample_items() {
  return {
      {"inductor", "fabc", generated(5000, 1)},
      {"autotune", "xy/1.best_config", text_bytes("{\"XBLOCK\": 128}")},
      {"inductor", "fdef", generated(300, 2, /*compressible=*/false)},
      {"pgo", std::string("k\0nul", 5), {}},
      {"autotune", "xy/0.best_config", text_bytes("{\"XBLOCK\": 64}")},
  };
}

Result<WriteStats> write_items(const std::string& path,
                               const std::vector<Item>& items,
                               WriterOptions options = {}) {
  CP_ASSIGN_OR_RETURN(auto writer,
                      BundleWriter::create(path, std::move(options)));
  for (const Item& it : items) {
    CP_TRY(writer.add(it.type, it.key, it.content));
  }
  return writer.finish();
}

TEST(BundleWriter, RoundTripsEveryEntryInInsertionOrder) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  auto items = sample_items();
  ASSERT_TRUE(write_items(path, items));
  auto reader = BundleReader::open(path);
  ASSERT_THAT(reader, IsOk());
  ASSERT_EQ(reader->size(), items.size());
  auto entries = reader->entries();
  ASSERT_TRUE(entries);
  for (size_t i = 0; i < items.size(); ++i) {
    const EntryInfo& e = (*entries)[i];
    EXPECT_EQ(e.type, items[i].type);
    EXPECT_EQ(e.key, items[i].key);
    EXPECT_EQ(e.original_size, items[i].content.size());
    EXPECT_EQ(e.sha256, sha256(items[i].content));
    auto content = reader->read(i);
    ASSERT_THAT(content, IsOk());
    EXPECT_EQ(*content, items[i].content);
  }
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(BundleReader, GetFindsEntriesByTypeAndKeyRegardlessOfOrder) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  auto items = sample_items();
  ASSERT_TRUE(write_items(path, items));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  for (const Item& it : items) {
    auto got = reader->get(it.type, it.key);
    ASSERT_THAT(got, IsOk());
    ASSERT_TRUE(got->has_value()) << it.type << " " << it.key;
    EXPECT_EQ(**got, it.content);
  }
}

TEST(BundleReader, GetOfAbsentPairIsAnEmptyOptional) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  ASSERT_TRUE(write_items(path, sample_items()));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  for (auto [type, key] : std::vector<std::pair<std::string, std::string>>{
           {"inductor", "nope"},
           {"nosuchtype", "fabc"},
           {"autotune", "fabc"},
           {"inductor", ""},
           {"inductor", "fabcd"}}) {
    auto got = reader->get(type, key);
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value()) << type << " " << key;
  }
}

TEST(BundleReader, RepeatedPairResolvesToTheLastStored) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  ASSERT_TRUE(write_items(path, {{"autotune", "k", text_bytes("first")},
                                 {"inductor", "k", text_bytes("other")},
                                 {"autotune", "k", text_bytes("second")}}));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto got = reader->get("autotune", "k");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, text_bytes("second"));
  EXPECT_EQ(reader->size(), 3u);  // Both are kept and listed.
}

TEST(BundleWriter, IdenticalInputsGiveIdenticalBytes) {
  TempDir dir;
  auto items = sample_items();
  items.push_back({"precompile", "big", generated(3 << 20, 7)});
  WriterOptions one;
  one.chunk_size = 1 << 20;
  WriterOptions four = one;
  four.threads = 4;
  ASSERT_TRUE(write_items(dir.file("a.cpk"), items, one));
  ASSERT_TRUE(write_items(dir.file("b.cpk"), items, one));
  ASSERT_TRUE(write_items(dir.file("c.cpk"), items, four));
  Bytes a = read_all(dir.file("a.cpk"));
  EXPECT_EQ(a, read_all(dir.file("b.cpk")));
  EXPECT_EQ(a, read_all(dir.file("c.cpk")));
}

TEST(BundleWriter, StreamsToAPipeWithoutSeeking) {
  TempDir dir;
  auto items = sample_items();
  items.push_back({"precompile", "big", generated(3 << 20, 7)});
  ASSERT_TRUE(write_items(dir.file("file.cpk"), items));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Bytes received;
  std::thread drain([&] {
    std::byte buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
      received.insert(received.end(), buf, buf + n);
    }
  });
  // The pipe is closed and the reader joined whatever happens.
  auto written = [&]() -> Result<WriteStats> {
    WriterOptions options;
    options.threads = 2;
    CP_ASSIGN_OR_RETURN(auto writer, BundleWriter::to_stream(fds[1], options));
    for (const Item& it : items) {
      CP_TRY(writer.add(it.type, it.key, it.content));
    }
    return writer.finish();
  }();
  ::close(fds[1]);
  drain.join();
  ::close(fds[0]);
  ASSERT_THAT(written, IsOk());
  EXPECT_EQ(received, read_all(dir.file("file.cpk")));
}

TEST(BundleWriter, RecordsCreationTimeOnlyWhenAsked) {
  TempDir dir;
  ASSERT_TRUE(write_items(dir.file("a.cpk"), sample_items()));
  WriterOptions timed;
  timed.creation_unix_seconds = 1700000000;
  timed.user_metadata = {{"torch", "2.5.0"}, {"gpu", "H100"}};
  ASSERT_TRUE(write_items(dir.file("b.cpk"), sample_items(), timed));
  auto a = BundleReader::open(dir.file("a.cpk"));
  auto b = BundleReader::open(dir.file("b.cpk"));
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->metadata().creation_unix_seconds.has_value());
  EXPECT_EQ(a->metadata().producer, "cachepack");
  EXPECT_EQ(b->metadata().creation_unix_seconds, 1700000000);
  EXPECT_EQ(b->metadata().user.at("torch"), "2.5.0");
  EXPECT_EQ(b->metadata().user.at("gpu"), "H100");
}

TEST(BundleWriter, SplitsLargeEntriesIntoIndependentChunks) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  Bytes big = generated(10 * 4096 + 123, 3);
  WriterOptions options;
  options.chunk_size = 4096;
  options.threads = 3;
  ASSERT_TRUE(write_items(path, {{"inductor", "big", big}}, options));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto e = reader->entry(0);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->chunks.size(), 11u);
  Bytes joined;
  for (size_t i = 0; i < e->chunks.size(); ++i) {
    EXPECT_EQ(e->chunks[i].codec, Codec::kZstd);
    auto part = reader->read_chunk(*e, i);
    ASSERT_THAT(part, IsOk());
    append_bytes(joined, *part);
  }
  EXPECT_EQ(joined, big);
  auto whole = reader->read(0);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, big);
  EXPECT_TRUE(reader->verify_all());
}

TEST(BundleReader, ReadsRangesDecompressingOnlyTheChunksThatHoldThem) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  Bytes big = generated(5 * 4096 + 100, 3);
  WriterOptions options;
  options.chunk_size = 4096;
  ASSERT_TRUE(write_items(path, {{"inductor", "big", big}}, options));
  Bytes bytes = read_all(path);
  auto reader = BundleReader::from_bytes(bytes);
  ASSERT_TRUE(reader);
  auto e = reader->entry(0);
  ASSERT_TRUE(e);
  for (auto [from, n] :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 10},
                                                  {4090, 12},
                                                  {4096, 4096},
                                                  {100, 3 * 4096},
                                                  {0, big.size()},
                                                  {big.size(), 0},
                                                  {big.size() - 1, 1}}) {
    auto part = reader->read_range(*e, from, n);
    ASSERT_THAT(part, IsOk()) << from << "+" << n;
    EXPECT_EQ(*part, Bytes(big.begin() + from, big.begin() + from + n));
  }
  auto outside = reader->read_range(*e, big.size() - 5, 6);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code(), ErrorCode::kInvalidArgument);
  // Damage in the last chunk does not stop reads of the first.
  Bytes damaged = bytes;
  damaged[e->chunks.back().offset] ^= std::byte{1};
  auto hurt = BundleReader::from_bytes(damaged);
  ASSERT_TRUE(hurt);
  EXPECT_TRUE(hurt->read_range(*e, 0, 4096));
  auto tail = hurt->read_range(*e, big.size() - 1, 1);
  ASSERT_FALSE(tail);
  EXPECT_EQ(tail.error().reason(), ErrorReason::kChecksumMismatch);
}

TEST(BundleReader, DecompressesChunksOnSeveralThreads) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  Bytes big = generated(40 * 4096 + 7, 8);
  WriterOptions options;
  options.chunk_size = 4096;
  ASSERT_TRUE(write_items(path, {{"inductor", "big", big}}, options));
  ReaderOptions threaded;
  threaded.threads = 4;
  auto reader = BundleReader::open(path, threaded);
  ASSERT_TRUE(reader);
  auto got = reader->read(0);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, big);
}

TEST(BundleWriter, StoresIncompressibleEntriesRaw) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  Bytes noise = generated(2000, 9, /*compressible=*/false);
  WriterOptions alone;
  alone.solid_block_size = 0;  // Each entry stored on its own.
  ASSERT_TRUE(write_items(
      path,
      {{"inductor", "noise", noise}, {"inductor", "text", generated(2000, 9)}},
      alone));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto noise_entry = reader->entry(0);
  auto text_entry = reader->entry(1);
  ASSERT_TRUE(noise_entry && text_entry);
  EXPECT_EQ(noise_entry->codec, Codec::kRaw);
  EXPECT_EQ(noise_entry->stored_size, noise.size());
  EXPECT_EQ(text_entry->codec, Codec::kZstd);
  EXPECT_LT(text_entry->stored_size, 2000u);
}

TEST(BundleWriter, LevelZeroStoresEverythingRaw) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  WriterOptions options;
  options.level = 0;
  ASSERT_TRUE(write_items(path, sample_items(), options));
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto entries = reader->entries();
  ASSERT_TRUE(entries);
  for (const EntryInfo& e : *entries) {
    EXPECT_EQ(e.codec, Codec::kRaw);
    EXPECT_EQ(e.stored_size, e.original_size);
  }
  EXPECT_TRUE(reader->verify_all());
}

TEST(BundleWriter, EmptyBundleIsValid) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  ASSERT_TRUE(write_items(path, {}));
  auto reader = BundleReader::open(path);
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ(reader->size(), 0u);
  EXPECT_TRUE(reader->verify_all());
}

TEST(BundleWriter, RejectsEmptyTypeAndBadOptions) {
  TempDir dir;
  auto writer = BundleWriter::create(dir.file("b.cpk"));
  ASSERT_TRUE(writer);
  auto bad = writer->add("", "k", {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  WriterOptions options;
  options.level = 99;
  EXPECT_FALSE(BundleWriter::create(dir.file("c.cpk"), options));
  options.level = 3;
  options.threads = 0;
  EXPECT_FALSE(BundleWriter::create(dir.file("c.cpk"), options));
}

TEST(BundleWriter, LimitsAreTheFormatsAndNamedInMessages) {
  TempDir dir;
  WriterOptions options;
  for (uint64_t size : {kMinChunkSize - 1, kMaxChunkSize + 1}) {
    options.chunk_size = size;
    auto writer = BundleWriter::create(dir.file("c.cpk"), options);
    EXPECT_THAT(writer, HasError(ErrorCode::kInvalidArgument));
    if (!writer) {
      EXPECT_EQ(writer.error().message(), "chunk size must be 4 KiB..256 MiB");
    }
  }
  options.chunk_size = kMaxChunkSize;
  auto writer = BundleWriter::create(dir.file("c.cpk"), options);
  ASSERT_THAT(writer, IsOk());
  EXPECT_THAT(writer->add("t", std::string(kMaxKeySize, 'k'), {}), IsOk());
  auto too_long = writer->add("t", std::string(kMaxKeySize + 1, 'k'), {});
  EXPECT_THAT(too_long, HasError(ErrorCode::kInvalidArgument));
  if (!too_long) {
    EXPECT_EQ(too_long.error().message(),
              "key of 1048577 bytes is over the 1 MiB limit");
  }
  EXPECT_EQ(ReaderLimits{}.max_chunk_size, kMaxChunkSize);
  EXPECT_EQ(ReaderLimits{}.max_key_size, kMaxKeySize);
}

TEST(BundleWriter, UnfinishedWriterLeavesNoFileBehind) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  {
    auto writer = BundleWriter::create(path);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->add("inductor", "k", generated(100, 1)));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(
      std::filesystem::is_empty(std::filesystem::path(path).parent_path()));
}

TEST(BundleWriter, ReplacesAnExistingFileOnlyWhenFinished) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  ASSERT_TRUE(write_items(path, sample_items()));
  Bytes before = read_all(path);
  {
    auto writer = BundleWriter::create(path);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->add("inductor", "k", generated(100, 1)));
    EXPECT_EQ(read_all(path), before);
  }
  EXPECT_EQ(read_all(path), before);
}

TEST(BundleWriter, DictionariesAreStoredAndUsed) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  std::vector<Bytes> samples;
  for (int i = 0; i < 200; ++i) {
    std::string json = "{\"XBLOCK\": " + std::to_string(i % 7 * 32) +
                       ", \"num_warps\": " + std::to_string(i % 4 + 1) +
                       ", \"num_stages\": 2, \"configs_hash\": \"" +
                       std::to_string(i * 7919) + "\"}";
    samples.push_back(text_bytes(json));
  }
  std::vector<ByteSpan> spans(samples.begin(), samples.end());
  auto dict = train_dictionary(spans, 4096);
  ASSERT_THAT(dict, IsOk());
  WriterOptions options;
  options.dictionaries["autotune"] = *dict;
  auto writer = BundleWriter::create(path, options);
  ASSERT_TRUE(writer);
  for (size_t i = 0; i < samples.size(); ++i) {
    ASSERT_TRUE(writer->add("autotune", "k" + std::to_string(i), samples[i]));
  }
  ASSERT_TRUE(writer->add("inductor", "plain", generated(1000, 4)));
  ASSERT_TRUE(writer->finish());
  auto reader = BundleReader::open(path);
  ASSERT_TRUE(reader);
  auto dicts = reader->dictionaries();
  ASSERT_TRUE(dicts);
  ASSERT_EQ(dicts->size(), 1u);
  EXPECT_EQ((*dicts)[0].first, "autotune");
  EXPECT_THAT(reader->entry(0),
              IsOkAndHolds(Field(&EntryInfo::dictionary, 1u)));
  EXPECT_THAT(reader->entry(samples.size()),
              IsOkAndHolds(Field(&EntryInfo::dictionary, 0u)));
  for (size_t i = 0; i < samples.size(); ++i) {
    auto got = reader->read(i);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(*got, samples[i]);
  }
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(BundleWriter, TrainsDictionariesFromItsFirstEntries) {
  TempDir dir;
  std::vector<Item> items;
  for (int i = 0; i < 300; ++i) {
    std::string json = "{\"XBLOCK\": " + std::to_string(i % 7 * 32) +
                       ", \"num_warps\": " + std::to_string(i % 4 + 1) +
                       ", \"num_stages\": 2, \"configs_hash\": \"" +
                       std::to_string(i * 7919) + "\"}";
    items.push_back({"autotune", "a" + std::to_string(i), text_bytes(json)});
    if (i % 50 == 0) {
      items.push_back(
          {"inductor", "f" + std::to_string(i), generated(5000, i)});
    }
  }
  WriterOptions plain;
  plain.solid_block_size = 0;  // Entry by entry, as dictionaries compress.
  WriterOptions trained;
  trained.train_dictionaries_bytes = 32 << 10;  // Trains part-way through.
  WriterOptions trained_threads = trained;
  trained_threads.threads = 3;
  ASSERT_TRUE(write_items(dir.file("plain.cpk"), items, plain));
  ASSERT_TRUE(write_items(dir.file("dict.cpk"), items, trained));
  ASSERT_TRUE(write_items(dir.file("dict3.cpk"), items, trained_threads));
  EXPECT_EQ(read_all(dir.file("dict.cpk")), read_all(dir.file("dict3.cpk")));
  auto reader = BundleReader::open(dir.file("dict.cpk"));
  ASSERT_TRUE(reader);
  auto dicts = reader->dictionaries();
  ASSERT_TRUE(dicts);
  ASSERT_EQ(dicts->size(), 1u);
  EXPECT_EQ((*dicts)[0].first, "autotune");
  for (size_t i = 0; i < items.size(); ++i) {
    auto got = reader->read(i);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(*got, items[i].content);
  }
  EXPECT_TRUE(reader->verify_all());
  // The entries' bytes shrink (the dictionary itself is stored once).
  auto plain_reader = BundleReader::open(dir.file("plain.cpk"));
  ASSERT_TRUE(plain_reader);
  uint64_t stored_plain = 0, stored_dict = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    auto plain = plain_reader->entry(i);
    auto dict = reader->entry(i);
    ASSERT_THAT(plain, IsOk());
    ASSERT_THAT(dict, IsOk());
    stored_plain += plain->stored_size;
    stored_dict += dict->stored_size;
  }
  EXPECT_LT(stored_dict, stored_plain * 3 / 4);
}

TEST(BundleWriter, BorrowedContentGivesTheSameBytesAndFlushReleasesIt) {
  TempDir dir;
  std::vector<Bytes> contents;
  for (int i = 0; i < 40; ++i) {
    contents.push_back(generated(1000 + i * 20011, static_cast<uint32_t>(i)));
  }
  WriterOptions options;
  options.threads = 3;
  options.chunk_size = 64 * 1024;  // Several chunks per large entry.
  auto copied = BundleWriter::create(dir.file("copied.cpk"), options);
  auto borrowed = BundleWriter::create(dir.file("borrowed.cpk"), options);
  ASSERT_TRUE(copied && borrowed);
  for (size_t i = 0; i < contents.size(); ++i) {
    std::string key = "f" + std::to_string(i);
    ASSERT_TRUE(copied->add("inductor", key, contents[i]));
    ASSERT_TRUE(borrowed->add_borrowed("inductor", key, contents[i]));
  }
  ASSERT_TRUE(borrowed->flush());
  // After flush the writer no longer reads the caller's buffers.
  std::vector<Bytes> originals = contents;
  for (auto& c : contents) std::fill(c.begin(), c.end(), std::byte{0xee});
  ASSERT_TRUE(copied->finish());
  ASSERT_TRUE(borrowed->finish());
  EXPECT_EQ(read_all(dir.file("copied.cpk")),
            read_all(dir.file("borrowed.cpk")));
  auto reader = BundleReader::open(dir.file("borrowed.cpk"));
  ASSERT_TRUE(reader);
  for (size_t i = 0; i < originals.size(); ++i) {
    auto got = reader->read(i);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(*got, originals[i]) << i;
  }
}

TEST(BundleWriter, TrainedDictionariesAlsoRoundTrip) {
  TempDir dir;
  std::vector<Item> items;
  for (int i = 0; i < 200; ++i) {
    std::string json = "{\"XBLOCK\": " + std::to_string(i % 7 * 32) +
                       ", \"num_warps\": " + std::to_string(i % 4 + 1) +
                       ", \"configs_hash\": \"" + std::to_string(i * 7919) +
                       "\"}";
    items.push_back({"autotune", "a" + std::to_string(i), text_bytes(json)});
  }
  WriterOptions trained;
  trained.train_dictionaries_bytes = 16 << 10;
  trained.dictionary_kind = DictionaryKind::kTrained;
  ASSERT_TRUE(write_items(dir.file("trained.cpk"), items, trained));
  auto reader = BundleReader::open(dir.file("trained.cpk"));
  ASSERT_TRUE(reader);
  auto dicts = reader->dictionaries();
  ASSERT_TRUE(dicts);
  ASSERT_EQ(dicts->size(), 1u);
  for (size_t i = 0; i < items.size(); ++i) {
    auto got = reader->read(i);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(*got, items[i].content);
  }
  EXPECT_TRUE(reader->verify_all());
}

TEST(RawContentDictionary, TakesEverySampleInTurnUpToItsCapacity) {
  std::vector<Bytes> contents;
  for (int i = 0; i < 10; ++i) contents.push_back(Bytes(3000, std::byte(i)));
  std::vector<ByteSpan> samples(contents.begin(), contents.end());
  auto dict = raw_content_dictionary(samples, 12 * 1024);
  ASSERT_TRUE(dict);
  EXPECT_EQ(dict->size(), 12u * 1024);
  // Slices of capacity / samples bytes, one from each sample before any
  // second one.
  const size_t slice = 12 * 1024 / 10;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ((*dict)[i * slice], std::byte(i)) << i;
    EXPECT_EQ((*dict)[i * slice + slice - 1], std::byte(i)) << i;
  }
  EXPECT_EQ((*dict)[10 * slice], std::byte(0));  // Second round.
}

TEST(RawContentDictionary, NeverStartsWithZstdsDictionaryMagic) {
  // A raw dictionary that began with 37 a4 30 ec would be parsed as a
  // trained one by zstd and fail to load.
  std::vector<Bytes> contents(9, Bytes(2048, std::byte{'x'}));
  const uint8_t magic[] = {0x37, 0xa4, 0x30, 0xec};
  for (int k = 0; k < 4; ++k) contents[0][k] = std::byte(magic[k]);
  std::vector<ByteSpan> samples(contents.begin(), contents.end());
  auto dict = raw_content_dictionary(samples, 8192);
  ASSERT_TRUE(dict);
  ASSERT_GE(dict->size(), 4u);
  EXPECT_NE(std::memcmp(dict->data(), magic, 4), 0);
}

TEST(RawContentDictionary, NeedsEightSamples) {
  std::vector<Bytes> contents(7, Bytes(2048, std::byte{'x'}));
  std::vector<ByteSpan> samples(contents.begin(), contents.end());
  auto dict = raw_content_dictionary(samples);
  ASSERT_FALSE(dict);
  EXPECT_EQ(dict.error().code(), ErrorCode::kInvalidArgument);
}

TEST(BundleReader, OpensFromUnalignedMemory) {
  TempDir dir;
  std::string path = dir.file("b.cpk");
  ASSERT_TRUE(write_items(path, sample_items()));
  Bytes bytes = read_all(path);
  Bytes shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  auto reader = BundleReader::from_bytes(ByteSpan(shifted).subspan(1));
  ASSERT_THAT(reader, IsOk());
  auto got = reader->get("inductor", "fabc");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, sample_items()[0].content);
}

namespace solid {

// Entries of a compile cache: many small ones that repeat one another's
// text (generated sources, autotune JSON), and one above the chunk size.
std::vector<Item> repetitive_items() {
  std::vector<Item> items;
  Bytes common = generated(3000, 7, /*compressible=*/false);
  for (int i = 0; i < 60; ++i) {
    Bytes content = common;
    Bytes own = text_bytes("kernel " + std::to_string(i));
    content.insert(content.end(), own.begin(), own.end());
    items.push_back(
        {i % 3 ? "inductor" : "autotune", "k" + std::to_string(i), content});
  }
  items.push_back({"pgo", "big", generated(9000, 8)});
  items.push_back({"pgo", "empty", {}});
  return items;
}

void expect_all_read_back(const BundleReader& reader,
                          const std::vector<Item>& items) {
  ASSERT_EQ(reader.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_THAT(reader.read(i), IsOkAndHolds(items[i].content)) << i;
    EXPECT_THAT(reader.get(items[i].type, items[i].key),
                IsOkAndHolds(::testing::Optional(items[i].content)))
        << i;
  }
}

TEST(SolidBlocks, SmallEntriesShareBlocksAndMatchAcrossEntries) {
  TempDir dir;
  auto items = repetitive_items();
  WriterOptions options;
  options.chunk_size = 4096;
  WriterOptions alone = options;
  alone.solid_block_size = 0;
  auto solid_stats = write_items(dir.file("solid.cpk"), items, options);
  auto alone_stats = write_items(dir.file("alone.cpk"), items, alone);
  ASSERT_THAT(solid_stats, IsOk());
  ASSERT_THAT(alone_stats, IsOk());
  // 60 x 3 kB of the same incompressible bytes: alone, each entry stores
  // them again; together, once.
  EXPECT_LT(solid_stats->file_size * 5, alone_stats->file_size);
  auto reader = BundleReader::open(dir.file("solid.cpk"));
  ASSERT_THAT(reader, IsOk());
  auto blocks = reader->blocks();
  ASSERT_THAT(blocks, IsOk());
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ((*blocks)[0].codec, Codec::kZstd);
  for (size_t i = 0; i < 60; ++i) {
    auto e = reader->entry(i);
    ASSERT_THAT(e, IsOk());
    EXPECT_EQ(e->block, 1u);
    EXPECT_EQ(e->stored_size, 0u);
  }
  // Above the chunk size: chunked on its own. Empty: nothing stored.
  EXPECT_THAT(reader->entry(60), IsOkAndHolds(Field(&EntryInfo::block, 0u)));
  EXPECT_THAT(reader->entry(61), IsOkAndHolds(Field(&EntryInfo::block, 0u)));
  expect_all_read_back(*reader, items);
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(SolidBlocks, BlocksCloseBeforeTheyPassTheBlockSize) {
  TempDir dir;
  std::vector<Item> items;
  for (int i = 0; i < 50; ++i) {
    items.push_back(
        {"inductor", "k" + std::to_string(i), generated(1000 + i, i)});
  }
  WriterOptions options;
  options.chunk_size = 4096;
  options.solid_block_size = 4096;
  ASSERT_THAT(write_items(dir.file("b.cpk"), items, options), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  auto blocks = reader->blocks();
  ASSERT_THAT(blocks, IsOk());
  EXPECT_GE(blocks->size(), 12u);
  for (const ChunkInfo& b : *blocks) EXPECT_LE(b.original_size, 4096u);
  expect_all_read_back(*reader, items);
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(SolidBlocks, SameBytesWhateverTheThreadCount) {
  TempDir dir;
  auto items = repetitive_items();
  WriterOptions one;
  one.solid_block_size = 16384;
  WriterOptions three = one;
  three.threads = 3;
  ASSERT_THAT(write_items(dir.file("1.cpk"), items, one), IsOk());
  ASSERT_THAT(write_items(dir.file("3.cpk"), items, three), IsOk());
  EXPECT_EQ(read_all(dir.file("1.cpk")), read_all(dir.file("3.cpk")));
}

TEST(SolidBlocks, ALoneSmallEntryIsStoredOnItsOwn) {
  TempDir dir;
  ASSERT_THAT(
      write_items(dir.file("b.cpk"), {{"inductor", "only", generated(500, 1)}}),
      IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT(reader->blocks(), IsOkAndHolds(::testing::IsEmpty()));
  auto e = reader->entry(0);
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->block, 0u);
  EXPECT_GT(e->stored_size, 0u);
  EXPECT_THAT(reader->read(0), IsOkAndHolds(generated(500, 1)));
}

TEST(SolidBlocks, EntriesWithADictionaryStayOutOfBlocks) {
  TempDir dir;
  auto items = repetitive_items();
  WriterOptions options;
  options.train_dictionaries_bytes = 64 << 10;
  ASSERT_THAT(write_items(dir.file("b.cpk"), items, options), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  auto dicts = reader->dictionaries();
  ASSERT_THAT(dicts, IsOk());
  ASSERT_FALSE(dicts->empty());
  for (size_t i = 0; i < reader->size(); ++i) {
    auto e = reader->entry(i);
    ASSERT_THAT(e, IsOk());
    EXPECT_FALSE(e->block != 0 && e->dictionary != 0) << i;
  }
  expect_all_read_back(*reader, items);
  EXPECT_THAT(reader->verify_all(), IsOk());
}

TEST(SolidBlocks, RangesAndStreamsOfSolidEntriesRead) {
  TempDir dir;
  auto items = repetitive_items();
  ASSERT_THAT(write_items(dir.file("b.cpk"), items), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  auto e = reader->entry(5);
  ASSERT_THAT(e, IsOk());
  ASSERT_NE(e->block, 0u);
  const Bytes& want = items[5].content;
  EXPECT_THAT(reader->read_range(*e, 100, 50),
              IsOkAndHolds(Bytes(want.begin() + 100, want.begin() + 150)));
  EXPECT_THAT(reader->read_range(*e, want.size() - 1, 2),
              HasError(ErrorCode::kInvalidArgument));
  EXPECT_THAT(reader->read_chunk(*e, 0), HasError(ErrorCode::kInvalidArgument));
}

TEST(SolidBlocks, ConcurrentReadsOfOneBlockAgree) {
  TempDir dir;
  auto items = repetitive_items();
  ASSERT_THAT(write_items(dir.file("b.cpk"), items), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < items.size(); ++i) {
        size_t at = (i * 7 + static_cast<size_t>(t) * 13) % items.size();
        auto got = reader->read(at);
        if (!got || *got != items[at].content) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace solid
}  // namespace
}  // namespace cachepack::bundle
