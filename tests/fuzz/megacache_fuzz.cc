// libFuzzer target for the Mega-Cache reader. The fuzzer's input is a blob
// body; the CRC is recomputed so the bounds checks (not the checksum) are
// what gets exercised. Run with tools/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "cachepack/hash.h"
#include "cachepack/megacache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cachepack;
  Bytes blob(4 + size);
  for (size_t i = 0; i < size; ++i) blob[4 + i] = std::byte(data[i]);
  encode_fixed32_be(blob.data(), crc32(ByteSpan(blob).subspan(4)));
  for (auto mode :
       {megacache::Base64Mode::kStrict, megacache::Base64Mode::kLenient}) {
    megacache::ReadOptions options;
    options.base64 = mode;
    options.types = nullptr;
    auto parsed = megacache::parse(blob, options);
    if (parsed) {
      for (const auto& a : parsed->artifacts()) {
        // Touch every byte: ASan flags any view outside the blob.
        volatile uint8_t sink = 0;
        for (std::byte b : a.content) sink ^= static_cast<uint8_t>(b);
        (void)sink;
      }
    }
    (void)megacache::parse(blob);  // With the global registry's rules.
  }
  return 0;
}
