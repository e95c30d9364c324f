// The fixed-size parts of a cachepack bundle (docs/FORMAT.md): the 16-byte
// header, the 72-byte footer that locates the index, the signature records,
// the XXH3 digests used throughout, the size limits and the index's ordering
// rules. The reader and writer share these so the byte layout is written
// down in exactly one place.
#ifndef CACHEPACK_BUNDLE_FORMAT_H_
#define CACHEPACK_BUNDLE_FORMAT_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::bundle {

// "\x89CPK\r\n\x1a\n": a non-ASCII first byte and the line-ending bytes make
// text-mode transfers and truncation to 7 bits visible, as in PNG.
inline constexpr std::array<uint8_t, 8> kMagic = {0x89, 'C',  'P',  'K',
                                                  0x0d, 0x0a, 0x1a, 0x0a};
// "\x89CPKEND\n": the last 8 bytes of every footer.
inline constexpr std::array<uint8_t, 8> kFooterMagic = {0x89, 'C', 'P', 'K',
                                                        'E',  'N', 'D', 0x0a};
inline constexpr uint32_t kFormatVersion = 1;
// Header flags: features an older reader must refuse rather than misread.
// Readers reject unknown bits. kFlagSolidBlocks: entries may be stored in
// solid blocks (the index's `blocks`; docs/FORMAT.md, "Solid blocks").
inline constexpr uint32_t kFlagSolidBlocks = 1;
inline constexpr uint32_t kKnownFlags = kFlagSolidBlocks;

inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kFooterSize = 72;
// The index and every footer start at a multiple of this (a Cap'n Proto
// word); the zero padding before an index is shorter than it.
inline constexpr size_t kAlignment = 8;
inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSignatureSize = 64;
inline constexpr size_t kSignatureRecordSize = kPublicKeySize + kSignatureSize;
inline constexpr uint64_t kDefaultChunkSize = uint64_t{1} << 20;
// The chunk sizes a writer accepts. kMaxChunkSize is also the reader's
// default ReaderLimits::max_chunk_size, so whatever is written can be read.
inline constexpr uint64_t kMinChunkSize = uint64_t{4} << 10;
inline constexpr uint64_t kMaxChunkSize = uint64_t{256} << 20;
// Solid blocks: runs of consecutive small entries compressed together as
// one zstd frame of at most this many original bytes (WriterOptions::
// solid_block_size; 0 turns them off). The block sizes a writer accepts are
// those of chunks, so every block is within ReaderLimits::max_chunk_size.
inline constexpr uint64_t kDefaultSolidBlockSize = uint64_t{4} << 20;
// A solid block's zstd window: the block's size rounded up to a power of
// two (at least 2^10, at most 2^27, the largest every decoder accepts by
// default), so any entry can match any before it in the block.
inline int solid_block_window_log(uint64_t block_size) {
  int log = 10;
  while (log < 27 && (uint64_t{1} << log) < block_size) ++log;
  return log;
}
// The longest key a writer accepts; the reader's default
// ReaderLimits::max_key_size.
inline constexpr uint64_t kMaxKeySize = uint64_t{1} << 20;
// No zstd frame expands more than this (an RLE block: 4 bytes for 128 KiB),
// so a zstd chunk claiming more than this many times its stored size is
// false, and is refused before it sizes an allocation.
inline constexpr uint64_t kMaxZstdExpansion = 32768;
// A reader walks the index with a Cap'n Proto traversal limit of
// kIndexTraversalFactor x its size in words + kIndexTraversalSlack, and
// nesting limit kIndexNestingLimit, never the library's 64 MiB default.
inline constexpr uint64_t kIndexTraversalFactor = 4;
inline constexpr uint64_t kIndexTraversalSlack = 1024;
inline constexpr int kIndexNestingLimit = 16;

// The Ed25519 message is this 32-byte context, the 16-byte header and the
// SHA-256 of the index bytes: the index holds every entry's digests and the
// metadata, so one signature covers everything a reader will trust.
inline constexpr std::string_view kSignatureContext{
    "cachepack bundle index v1\0\0\0\0\0\0\0", 32};

struct Header {
  uint32_t version = kFormatVersion;
  uint32_t flags = 0;
};

// How an entry's (or chunk's) bytes are stored.
enum class Codec : uint8_t { kRaw = 0, kZstd = 1 };
std::string_view to_string(Codec codec);

using Xxh128 = std::array<std::byte, 16>;  // Canonical (big-endian) form.

struct Footer {
  uint64_t index_offset = 0;
  uint64_t index_size = 0;
  Xxh128 index_xxh3{};
  uint64_t signatures_offset = 0;  // 0 when signature_count is 0.
  uint64_t signature_count = 0;
  uint64_t previous_footer_offset = 0;  // 0: first version of the bundle.
  uint64_t checksum = 0;
};

// The one answer to "is this file a bundle?" for everything that accepts
// either a bundle or a PyTorch Mega-Cache blob (which has no magic: a
// CRC-32, then version 1 as 8 bytes). `file` is the whole file. True when it
// starts with the bundle magic, and also when it looks like a damaged
// bundle: at least 6 of the 8 magic bytes in place, or a valid bundle
// footer at its end. A damaged bundle then gets the bundle reader's "bad
// magic" error rather than a blob parser's CRC mismatch. No Mega-Cache blob
// is ever taken for one (its bytes 4..7 are zero, the magic's are not).
bool is_bundle(ByteSpan file);

// Output paths ending in this are written as bundles by default.
inline constexpr std::string_view kBundleExtension = ".cpk";
bool has_bundle_extension(std::string_view path);

std::array<std::byte, kHeaderSize> encode_header(const Header& header);
// kTooShort, kBadMagic (naming the first differing byte of a damaged
// bundle's magic), kUnsupportedVersion (unknown version or flags). `data`
// is the whole file, so a damaged magic can be told from another format.
Result<Header> decode_header(ByteSpan data);

// Where each field starts in the footer's 72 bytes (FORMAT.md, "Footer").
namespace footer_field {
inline constexpr size_t kIndexOffset = 0;
inline constexpr size_t kIndexSize = 8;
inline constexpr size_t kIndexXxh3 = 16;
inline constexpr size_t kSignaturesOffset = 32;
inline constexpr size_t kSignatureCount = 40;
inline constexpr size_t kPreviousFooterOffset = 48;
inline constexpr size_t kChecksum = 56;  // Covers the bytes before it.
inline constexpr size_t kMagic = 64;
}  // namespace footer_field

// The footer checksum is XXH3-64 of the footer's bytes before the checksum
// field (the first 56) followed by the signature block, seeded with the
// footer's own file offset: a footer copied to another position (a bundle
// stored inside a bundle) never validates there.
uint64_t footer_checksum(ByteSpan first56, ByteSpan signature_block,
                         uint64_t footer_offset);
// Encodes with `footer.checksum` as given; seal_footer computes it.
std::array<std::byte, kFooterSize> encode_footer(const Footer& footer);
// Sets `footer.checksum` for a footer written at `footer_offset` right after
// `signature_block` (empty when unsigned), and returns its 72 bytes.
std::array<std::byte, kFooterSize> seal_footer(Footer& footer,
                                               ByteSpan signature_block,
                                               uint64_t footer_offset);
// Decodes the 72 bytes at `footer_offset` of `file` and checks magic,
// checksum and that every range it names lies in the file before it.
Result<Footer> decode_footer(ByteSpan file, uint64_t footer_offset);

Xxh128 xxh3_128(ByteSpan data);
Xxh128 xxh128_from_words(uint64_t high, uint64_t low);
uint64_t xxh128_high(const Xxh128& h);
uint64_t xxh128_low(const Xxh128& h);

// The order of the index's lookup table: by type number, then by key as
// unsigned bytes (ties are left to the caller, which orders by position).
// Negative, zero or positive, as memcmp.
inline int compare_lookup_order(uint32_t type_a, std::string_view key_a,
                                uint32_t type_b, std::string_view key_b) {
  if (type_a != type_b) return type_a < type_b ? -1 : 1;
  // char_traits<char> compares as unsigned char, as memcmp does.
  int c = key_a.compare(key_b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// Whether a Mega-Cache group table (the group counts, in order) splits
// `entry_count` entries in stored order into consecutive runs, each entry
// of its group's type (`same_type(group, entry)`), covering every entry.
// Returns what is wrong, or nullopt when it does.
std::optional<std::string_view> group_partition_error(
    std::span<const uint64_t> counts, uint64_t entry_count,
    const std::function<bool(size_t group, uint64_t entry)>& same_type);

// The exact bytes an Ed25519 signature covers.
std::array<std::byte, 80> signature_message(ByteSpan header, ByteSpan index);

// Streaming XXH3-128 for entries whose stored bytes arrive chunk by chunk.
class Xxh128Stream {
 public:
  Xxh128Stream();
  ~Xxh128Stream();
  Xxh128Stream(const Xxh128Stream&) = delete;
  Xxh128Stream& operator=(const Xxh128Stream&) = delete;
  void reset();
  void update(ByteSpan data);
  Xxh128 digest() const;

 private:
  void* state_;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_FORMAT_H_
