// libFuzzer target for the bundle reader: whatever the bytes, opening,
// listing, reading, partial reads and full verification return values or
// typed errors, never crash, hang or read out of bounds (ASan/UBSan).
//
// The first input byte picks what the rest is:
//   0: a whole file, as found on disk (mostly exercises header and footer,
//      since random changes break the checksums);
//   1: u16be data length, that much entry data, then index bytes: the
//      harness adds a header and a footer with correct checksums, so the
//      fuzzer reaches the Cap'n Proto index and every per-entry check.
//      Bit 2 of the first byte sets the header's solid-blocks flag, so
//      crafted solid blocks reach the block checks.
#include <cstddef>
#include <cstdint>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"

namespace {

using namespace cachepack;
using namespace cachepack::bundle;

Bytes wrap(ByteSpan in, uint32_t flags) {
  Bytes out;
  if (in.size() < 2) return out;
  size_t data_size = std::min<size_t>(
      (static_cast<size_t>(in[0]) << 8) | static_cast<size_t>(in[1]),
      in.size() - 2);
  ByteSpan data = in.subspan(2, data_size);
  ByteSpan index = in.subspan(2 + data_size);
  append_bytes(out, encode_header(Header{.flags = flags}));
  append_bytes(out, data);
  while (out.size() % 8) out.push_back(std::byte{0});
  Footer footer;
  footer.index_offset = out.size();
  append_bytes(out, index);
  while (out.size() % 8 || out.size() == footer.index_offset) {
    out.push_back(std::byte{0});
  }
  footer.index_size = out.size() - footer.index_offset;
  footer.index_xxh3 =
      xxh3_128(ByteSpan(out).subspan(footer.index_offset, footer.index_size));
  uint64_t at = out.size();
  append_bytes(out, seal_footer(footer, {}, at));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size == 0) return 0;
  ByteSpan input(reinterpret_cast<const std::byte*>(raw) + 1, size - 1);
  Bytes wrapped;
  if (raw[0] % 2 == 1) {
    wrapped = wrap(input, (raw[0] & 4) != 0 ? kFlagSolidBlocks : 0u);
    input = wrapped;
  }
  ReaderOptions options;
  // Small limits keep each input cheap; the checks are the same.
  options.limits.max_entry_size = 1 << 20;
  options.limits.max_chunk_size = 1 << 20;
  options.allow_older_version = (raw[0] & 2) != 0;
  auto reader = BundleReader::from_bytes(input, options);
  if (!reader) return 0;
  (void)reader->groups();
  (void)reader->dictionaries();
  (void)reader->blocks();
  if (auto entries = reader->entries()) {
    for (const EntryInfo& e : *entries) {
      (void)reader->read(e);
      (void)reader->read_range(e, e.original_size / 2, e.original_size / 4);
      (void)reader->get(e.type, e.key);
    }
  }
  (void)reader->find("inductor", "k");
  (void)reader->verify_all();
  return 0;
}
