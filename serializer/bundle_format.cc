#include "cachepack/bundle_format.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "cachepack/hash.h"

// Inlined xxHash: the distro's shared library leaves ~2.5x of XXH3's speed
// on the table for in-cache data (docs/anchors numbers).
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cachepack::bundle {
namespace {

bool has_magic(const std::byte* p, const std::array<uint8_t, 8>& magic) {
  return std::memcmp(p, magic.data(), magic.size()) == 0;
}

tl::unexpected<Error> bad_footer(uint64_t at, std::string message) {
  return data_loss(ErrorReason::kBadFooter, at, std::move(message));
}

// How many of the magic's bytes are in place (of those the file has).
size_t magic_bytes_matching(ByteSpan file) {
  size_t n = 0;
  for (size_t i = 0; i < std::min(file.size(), kMagic.size()); ++i) {
    n += file[i] == std::byte{kMagic[i]} ? 1 : 0;
  }
  return n;
}

// Nearly the magic: one or two bytes flipped, as damage does. A Mega-Cache
// blob matches at most 4 (its CRC-32 by chance).
constexpr size_t kNearMagic = 6;

bool ends_with_footer(ByteSpan file) {
  return file.size() >= kHeaderSize + kFooterSize &&
         decode_footer(file, file.size() - kFooterSize).has_value();
}

}  // namespace

std::string_view to_string(Codec codec) {
  return codec == Codec::kZstd ? "zstd" : "raw";
}

bool is_bundle(ByteSpan file) {
  return magic_bytes_matching(file) >= kNearMagic || ends_with_footer(file);
}

bool has_bundle_extension(std::string_view path) {
  return path.size() > kBundleExtension.size() &&
         path.ends_with(kBundleExtension);
}

std::array<std::byte, kHeaderSize> encode_header(const Header& header) {
  std::array<std::byte, kHeaderSize> out{};
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  encode_fixed32_be(out.data() + 8, header.version);
  encode_fixed32_be(out.data() + 12, header.flags);
  return out;
}

Result<Header> decode_header(ByteSpan data) {
  // The magic is checked on whatever prefix there is, so a short file of
  // another format is named as such rather than as a truncated bundle.
  size_t have = std::min(data.size(), kMagic.size());
  if (have > 0 && std::memcmp(data.data(), kMagic.data(), have) != 0) {
    std::string seen = "starts with " + to_hex(data.first(have)) +
                       ", expected 8943504b0d0a1a0a";
    if (magic_bytes_matching(data) >= kNearMagic) {
      size_t first = 0;
      while (data[first] == std::byte{kMagic[first]}) ++first;
      return data_loss(ErrorReason::kBadMagic, first,
                       "damaged bundle: its magic differs at byte " +
                           std::to_string(first) + " (" + seen + ")");
    }
    if (ends_with_footer(data)) {
      return data_loss(ErrorReason::kBadMagic, 0,
                       "damaged bundle: it ends with a valid bundle footer "
                       "but its magic is gone (" +
                           seen + ")");
    }
    return data_loss(ErrorReason::kBadMagic, 0,
                     "not a cachepack bundle (" + seen + ")");
  }
  if (data.size() < kHeaderSize) {
    return data_loss(ErrorReason::kTooShort, 0,
                     "file is " + std::to_string(data.size()) +
                         " bytes, too short for the 16-byte bundle header");
  }
  Header header;
  header.version = decode_fixed32_be(data.data() + 8);
  header.flags = decode_fixed32_be(data.data() + 12);
  if (header.version != kFormatVersion) {
    return make_error(
        ErrorCode::kUnimplemented, ErrorReason::kUnsupportedVersion,
        "bundle format version " + std::to_string(header.version) +
            " (this reader knows version 1)",
        ErrorLocation{.offset = 8});
  }
  if ((header.flags & ~kKnownFlags) != 0) {
    return make_error(
        ErrorCode::kUnimplemented, ErrorReason::kUnsupportedVersion,
        "bundle header has unknown feature flags " +
            std::to_string(header.flags) +
            " (a newer cachepack wrote it; this reader knows flag 1, solid "
            "blocks)",
        ErrorLocation{.offset = 12});
  }
  return header;
}

uint64_t footer_checksum(ByteSpan first56, ByteSpan signature_block,
                         uint64_t footer_offset) {
  XXH3_state_t state{};  // Zeroed: gcc cannot see that reset fills it.
  XXH3_64bits_reset_withSeed(&state, footer_offset);
  XXH3_64bits_update(&state, first56.data(), first56.size());
  XXH3_64bits_update(&state, signature_block.data(), signature_block.size());
  return XXH3_64bits_digest(&state);
}

std::array<std::byte, kFooterSize> encode_footer(const Footer& f) {
  namespace field = footer_field;
  std::array<std::byte, kFooterSize> out{};
  std::byte* p = out.data();
  encode_fixed64_be(p + field::kIndexOffset, f.index_offset);
  encode_fixed64_be(p + field::kIndexSize, f.index_size);
  std::memcpy(p + field::kIndexXxh3, f.index_xxh3.data(), f.index_xxh3.size());
  encode_fixed64_be(p + field::kSignaturesOffset, f.signatures_offset);
  encode_fixed64_be(p + field::kSignatureCount, f.signature_count);
  encode_fixed64_be(p + field::kPreviousFooterOffset, f.previous_footer_offset);
  encode_fixed64_be(p + field::kChecksum, f.checksum);
  std::memcpy(p + field::kMagic, kFooterMagic.data(), kFooterMagic.size());
  return out;
}

std::array<std::byte, kFooterSize> seal_footer(Footer& footer,
                                               ByteSpan signature_block,
                                               uint64_t footer_offset) {
  auto unsealed = encode_footer(footer);
  footer.checksum =
      footer_checksum(ByteSpan(unsealed).first(footer_field::kChecksum),
                      signature_block, footer_offset);
  return encode_footer(footer);
}

Result<Footer> decode_footer(ByteSpan file, uint64_t at) {
  namespace field = footer_field;
  if (at < kHeaderSize || at % 8 != 0 || at > file.size() ||
      file.size() - at < kFooterSize) {
    return bad_footer(at, "no room for a 72-byte footer at this offset");
  }
  const std::byte* p = file.data() + at;
  if (!has_magic(p + field::kMagic, kFooterMagic)) {
    return bad_footer(at + field::kMagic, "footer magic missing");
  }
  Footer f;
  f.index_offset = decode_fixed64_be(p + field::kIndexOffset);
  f.index_size = decode_fixed64_be(p + field::kIndexSize);
  std::memcpy(f.index_xxh3.data(), p + field::kIndexXxh3, f.index_xxh3.size());
  f.signatures_offset = decode_fixed64_be(p + field::kSignaturesOffset);
  f.signature_count = decode_fixed64_be(p + field::kSignatureCount);
  f.previous_footer_offset =
      decode_fixed64_be(p + field::kPreviousFooterOffset);
  f.checksum = decode_fixed64_be(p + field::kChecksum);
  // Ranges are checked before the checksum reads the signature block.
  if (f.index_offset < kHeaderSize || f.index_offset % 8 != 0 ||
      f.index_offset > at || f.index_size > at - f.index_offset ||
      f.index_size % 8 != 0 || f.index_size == 0) {
    return bad_footer(at, "index range [" + std::to_string(f.index_offset) +
                              ", +" + std::to_string(f.index_size) +
                              ") is not an aligned range before the footer");
  }
  ByteSpan signatures;
  if (f.signature_count > 0) {
    if (f.signature_count > (at - kHeaderSize) / kSignatureRecordSize ||
        f.signatures_offset < kHeaderSize || f.signatures_offset > at ||
        f.signature_count * kSignatureRecordSize > at - f.signatures_offset) {
      return bad_footer(at + field::kSignaturesOffset,
                        "signature block does not fit before footer");
    }
    signatures = file.subspan(f.signatures_offset,
                              f.signature_count * kSignatureRecordSize);
  } else if (f.signatures_offset != 0) {
    return bad_footer(at + field::kSignaturesOffset,
                      "signature offset set without signatures");
  }
  if (f.previous_footer_offset != 0 &&
      (f.previous_footer_offset < kHeaderSize ||
       f.previous_footer_offset > at - kFooterSize)) {
    return bad_footer(at + field::kPreviousFooterOffset,
                      "previous footer offset out of range");
  }
  uint64_t computed =
      footer_checksum(file.subspan(at, field::kChecksum), signatures, at);
  if (computed != f.checksum) {
    return data_loss(ErrorReason::kChecksumMismatch, at + field::kChecksum,
                     "footer checksum mismatch");
  }
  return f;
}

Xxh128 xxh3_128(ByteSpan data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return xxh128_from_words(h.high64, h.low64);
}

Xxh128 xxh128_from_words(uint64_t high, uint64_t low) {
  Xxh128 out;
  encode_fixed64_be(out.data(), high);
  encode_fixed64_be(out.data() + 8, low);
  return out;
}

uint64_t xxh128_high(const Xxh128& h) { return decode_fixed64_be(h.data()); }
uint64_t xxh128_low(const Xxh128& h) { return decode_fixed64_be(h.data() + 8); }

std::optional<std::string_view> group_partition_error(
    std::span<const uint64_t> counts, uint64_t entry_count,
    const std::function<bool(size_t group, uint64_t entry)>& same_type) {
  uint64_t pos = 0;
  for (size_t g = 0; g < counts.size(); ++g) {
    if (counts[g] > entry_count - pos) {
      return "groups cover more entries than exist";
    }
    for (uint64_t i = 0; i < counts[g]; ++i, ++pos) {
      if (!same_type(g, pos))
        return "group type differs from its entries' type";
    }
  }
  if (pos != entry_count) return "groups do not cover every entry";
  return std::nullopt;
}

std::array<std::byte, 80> signature_message(ByteSpan header, ByteSpan index) {
  std::array<std::byte, 80> out{};
  std::memcpy(out.data(), kSignatureContext.data(), 32);
  std::memcpy(out.data() + 32, header.data(),
              std::min<size_t>(16, header.size()));
  Sha256Digest digest = sha256(index);
  std::memcpy(out.data() + 48, digest.data(), 32);
  return out;
}

Xxh128Stream::Xxh128Stream() : state_(XXH3_createState()) { reset(); }
Xxh128Stream::~Xxh128Stream() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}
void Xxh128Stream::reset() {
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}
void Xxh128Stream::update(ByteSpan data) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data.data(),
                      data.size());
}
Xxh128 Xxh128Stream::digest() const {
  XXH128_hash_t h =
      XXH3_128bits_digest(static_cast<const XXH3_state_t*>(state_));
  return xxh128_from_words(h.high64, h.low64);
}

}  // namespace cachepack::bundle
