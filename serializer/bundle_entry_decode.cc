// Decoding one entry of a bundle's index into an EntryInfo: type, key,
// stored range, sizes, codec, digests, dictionary and chunk list, each
// checked against the file, the type table, the dictionaries and the
// ReaderLimits before anything uses it (docs/FORMAT.md, "Reading and the
// checks a reader makes", step 5).
#include <cstring>
#include <optional>
#include <string>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"
#include "serializer/bundle.capnp.h"
#include "serializer/bundle_reader_state.h"

namespace cachepack::bundle {
namespace {

namespace sc = ::cachepack::bundle::schema;

// "entry N: what": every message about an entry names its position.
std::string about_entry(const EntryInfo& info, const std::string& what) {
  return "entry " + std::to_string(info.position) + ": " + what;
}

// A malformed entry whose key is known: kBadIndex at the index, with the key.
tl::unexpected<Error> bad_entry(const EntryInfo& info, uint64_t index_offset,
                                const std::string& what) {
  return make_error(ErrorCode::kDataLoss, ErrorReason::kBadIndex,
                    about_entry(info, what),
                    ErrorLocation{.offset = index_offset, .key = info.key});
}

// An entry's declared size over a ReaderLimits value, with the key.
tl::unexpected<Error> entry_over_limit(const EntryInfo& info,
                                       uint64_t index_offset,
                                       const std::string& what) {
  return make_error(ErrorCode::kResourceExhausted, ErrorReason::kLimitExceeded,
                    about_entry(info, what),
                    ErrorLocation{.offset = index_offset, .key = info.key});
}

// Why [offset, +size) is not inside the data region [kHeaderSize,
// data_end), the same for an entry and a solid block; nothing when it is.
std::optional<std::string> outside_data_region(uint64_t offset, uint64_t size,
                                               uint64_t data_end) {
  if (offset >= kHeaderSize && offset <= data_end &&
      size <= data_end - offset) {
    return std::nullopt;
  }
  return "stored range [" + std::to_string(offset) + ", +" +
         std::to_string(size) + ") is outside the data region [" +
         std::to_string(kHeaderSize) + ", " + std::to_string(data_end) + ")";
}

// An entry's declared original size against ReaderLimits::max_entry_size.
Result<void> check_entry_size(const EntryInfo& info, uint64_t index_offset,
                              uint64_t max_entry_size) {
  if (info.original_size <= max_entry_size) return {};
  return entry_over_limit(
      info, index_offset,
      "declared size " + std::to_string(info.original_size) +
          " exceeds the limit of " + std::to_string(max_entry_size));
}

// The entry's SHA-256 into `info`, if it has the right length.
Result<void> decode_sha256(sc::Entry::Reader e, EntryInfo& info,
                           uint64_t index_offset) {
  auto sha = e.getSha256();
  if (sha.size() != info.sha256.size()) {
    return bad_entry(
        info, index_offset,
        "SHA-256 is not " + std::to_string(info.sha256.size()) + " bytes");
  }
  std::memcpy(info.sha256.data(), sha.begin(), info.sha256.size());
  return {};
}

std::optional<Codec> codec_of(sc::Codec c) {
  switch (c) {
    case sc::Codec::RAW:
      return Codec::kRaw;
    case sc::Codec::ZSTD:
      return Codec::kZstd;
  }
  return std::nullopt;
}

}  // namespace

// Entry `position` of `list`, each field checked against the file, the
// types, the dictionaries and the limits before anything uses it.
Result<EntryInfo> BundleReader::State::decode_entry(
    capnp::List<sc::Entry>::Reader list, capnp::List<sc::Block>::Reader blocks,
    size_t position) const {
  if (position >= list.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "entry position " + std::to_string(position) +
                          " is past the " + std::to_string(list.size()) +
                          " entries");
  }
  auto e = list[position];
  EntryInfo info;
  info.position = position;
  CP_TRY(decode_type_and_key(e, info));
  if (e.getBlock() != 0) {
    CP_TRY(decode_solid(blocks, e, info));
    return info;
  }
  CP_TRY(decode_sizes(e, info));
  CP_TRY(decode_codec_and_digests(e, info));
  CP_TRY(decode_chunks(e, info));
  return info;
}

// Until the key is decoded, an error names only the entry's position.
Result<void> BundleReader::State::decode_type_and_key(sc::Entry::Reader e,
                                                      EntryInfo& info) const {
  const uint64_t at = footer.index_offset;
  if (e.getTypeId() >= types.size()) {
    return bad_index(
        about_entry(info, "type id " + std::to_string(e.getTypeId()) +
                              " is not one of the " +
                              std::to_string(types.size()) + " types"));
  }
  info.type = types[e.getTypeId()];
  auto key = e.getKey();
  const uint64_t max_key_size = options.limits.max_key_size;
  if (key.size() > max_key_size) {
    return over_limit(at,
                      about_entry(info, "key of " + std::to_string(key.size()) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(max_key_size)));
  }
  info.key.assign(reinterpret_cast<const char*>(key.begin()), key.size());
  return {};
}

// The stored bytes lie in the data region, between the header and the
// index; the declared original size is within max_entry_size.
Result<void> BundleReader::State::decode_sizes(sc::Entry::Reader e,
                                               EntryInfo& info) const {
  const uint64_t at = footer.index_offset;
  info.offset = e.getOffset();
  info.stored_size = e.getStoredSize();
  info.original_size = e.getOriginalSize();
  if (auto outside = outside_data_region(info.offset, info.stored_size,
                                         footer.index_offset)) {
    return bad_entry(info, at, *outside);
  }
  return check_entry_size(info, at, options.limits.max_entry_size);
}

Result<void> BundleReader::State::decode_codec_and_digests(
    sc::Entry::Reader e, EntryInfo& info) const {
  const uint64_t at = footer.index_offset;
  auto codec = codec_of(e.getCodec());
  if (!codec) return bad_entry(info, at, "unknown codec");
  info.codec = *codec;
  info.xxh3 = xxh128_from_words(e.getXxh3High(), e.getXxh3Low());
  CP_TRY(decode_sha256(e, info, at));
  info.dictionary = e.getDictionary();
  if (info.dictionary > dictionary_count) {
    return bad_entry(info, at, "no such dictionary");
  }
  return {};
}

// An entry without a chunk list is one chunk (none when it is empty); a
// list has at least two, laid end to end from the entry's offset, and they
// add up to the entry's sizes.
Result<void> BundleReader::State::decode_chunks(sc::Entry::Reader e,
                                                EntryInfo& info) const {
  const uint64_t at = footer.index_offset;
  auto chunks = e.getChunks();
  if (chunks.size() == 0) {
    ChunkInfo c{info.offset, info.stored_size, info.original_size, info.codec,
                info.xxh3};
    CP_TRY(check_chunk(info, c));
    if (info.original_size > 0) info.chunks.push_back(c);
    return {};
  }
  if (chunks.size() < 2) return bad_entry(info, at, "chunk list of one chunk");
  uint64_t offset = info.offset, stored = 0, original = 0;
  info.chunks.reserve(chunks.size());
  for (auto ch : chunks) {
    auto codec = codec_of(ch.getCodec());
    if (!codec) return bad_entry(info, at, "unknown chunk codec");
    ChunkInfo c{offset, ch.getStoredSize(), ch.getOriginalSize(), *codec,
                xxh128_from_words(ch.getXxh3High(), ch.getXxh3Low())};
    CP_TRY(check_chunk(info, c));
    if (c.stored_size > info.stored_size - stored ||
        c.original_size > info.original_size - original) {
      return bad_entry(info, at, "chunks exceed the entry's sizes");
    }
    stored += c.stored_size;
    original += c.original_size;
    offset += c.stored_size;
    info.chunks.push_back(c);
  }
  if (stored != info.stored_size || original != info.original_size) {
    return bad_entry(info, at,
                     "chunk sizes do not add up to the entry's sizes");
  }
  return {};
}

// A chunk's original size is within max_chunk_size and possible for its
// codec: a raw chunk stores exactly its size, a zstd chunk at least one
// byte and at least 1 / kMaxZstdExpansion of it.
Result<void> BundleReader::State::check_chunk(const EntryInfo& info,
                                              const ChunkInfo& c) const {
  const uint64_t at = footer.index_offset;
  if (c.original_size > options.limits.max_chunk_size) {
    return entry_over_limit(info, at,
                            "chunk of " + std::to_string(c.original_size) +
                                " bytes exceeds the chunk limit");
  }
  if (c.codec == Codec::kRaw && c.stored_size != c.original_size) {
    return bad_entry(info, at,
                     "raw chunk with stored size " +
                         std::to_string(c.stored_size) + " != original size " +
                         std::to_string(c.original_size));
  }
  if (c.codec == Codec::kZstd && c.stored_size == 0) {
    return bad_entry(info, at, "empty zstd chunk");
  }
  if (c.codec == Codec::kZstd &&
      c.original_size / kMaxZstdExpansion > c.stored_size) {
    return bad_entry(info, at,
                     "chunk of " + std::to_string(c.stored_size) +
                         " stored bytes claims " +
                         std::to_string(c.original_size) +
                         " bytes, more than zstd can expand to");
  }
  return {};
}

// A solid block is checked as a chunk of an entry is, with the block's
// number in place of the entry's.
Result<ChunkInfo> BundleReader::State::decode_block(
    capnp::List<sc::Block>::Reader blocks, uint32_t number) const {
  const uint64_t at = footer.index_offset;
  if (number == 0 || number > blocks.size()) {
    return bad_index("no solid block " + std::to_string(number) + " of " +
                     std::to_string(blocks.size()));
  }
  auto b = blocks[number - 1];
  auto codec = codec_of(b.getCodec());
  auto bad = [&](const std::string& what) {
    return bad_index("solid block " + std::to_string(number) + ": " + what);
  };
  if (!codec) return bad("unknown codec");
  ChunkInfo c{b.getOffset(), b.getStoredSize(), b.getOriginalSize(), *codec,
              xxh128_from_words(b.getXxh3High(), b.getXxh3Low())};
  if (auto outside =
          outside_data_region(c.offset, c.stored_size, footer.index_offset)) {
    return bad(*outside);
  }
  if (c.original_size > options.limits.max_chunk_size) {
    return over_limit(at, "solid block " + std::to_string(number) + " of " +
                              std::to_string(c.original_size) +
                              " bytes exceeds the chunk limit");
  }
  if (c.codec == Codec::kRaw && c.stored_size != c.original_size) {
    return bad("raw block with stored size " + std::to_string(c.stored_size) +
               " != original size " + std::to_string(c.original_size));
  }
  if (c.codec == Codec::kZstd &&
      (c.stored_size == 0 ||
       c.original_size / kMaxZstdExpansion > c.stored_size)) {
    return bad(std::to_string(c.stored_size) + " stored bytes cannot hold " +
               std::to_string(c.original_size) + " bytes of zstd");
  }
  return c;
}

// An entry in a solid block names the block and where its content lies in
// the block's decompressed bytes; it stores nothing of its own.
Result<void> BundleReader::State::decode_solid(
    capnp::List<sc::Block>::Reader blocks, sc::Entry::Reader e,
    EntryInfo& info) const {
  const uint64_t at = footer.index_offset;
  if ((header.flags & kFlagSolidBlocks) == 0) {
    return bad_entry(info, at,
                     "names a solid block, but the header has no "
                     "solid-blocks flag");
  }
  info.block = e.getBlock();
  info.block_offset = e.getOffset();
  info.original_size = e.getOriginalSize();
  if (e.getStoredSize() != 0 || e.getChunks().size() != 0 ||
      e.getDictionary() != 0) {
    return bad_entry(info, at,
                     "in solid block " + std::to_string(info.block) +
                         " but has stored bytes, chunks or a dictionary of "
                         "its own");
  }
  CP_TRY(check_entry_size(info, at, options.limits.max_entry_size));
  auto block = decode_block(blocks, info.block);
  if (!block) {
    return tl::unexpected(std::move(block.error()).with_key(info.key));
  }
  info.block_data = *block;
  const uint64_t size = block->original_size;
  if (info.block_offset > size ||
      info.original_size > size - info.block_offset) {
    return bad_entry(info, at,
                     "content [" + std::to_string(info.block_offset) + ", +" +
                         std::to_string(info.original_size) +
                         ") ends past the " + std::to_string(size) +
                         " decompressed bytes of solid block " +
                         std::to_string(info.block));
  }
  CP_TRY(decode_sha256(e, info, at));
  info.offset = block->offset;
  info.stored_size = 0;
  info.codec = block->codec;
  info.xxh3 = block->xxh3;
  return {};
}

}  // namespace cachepack::bundle
