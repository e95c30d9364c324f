// PyTorch's Mega-Cache blob (torch.compiler.save_cache_artifacts), read and
// written byte for byte. Layout (spec section 1):
//   u32be crc32(bytes[4:]) | u64be version=1 |
//   group* := str type, u64be count, count x (str key, bytes content)
//   str := u64be length + base64(utf8)      bytes := u64be length + raw
// The reader checks every length against what is left (PyTorch's loops
// forever on an overrun) and returns views into the input, copying nothing
// but the small decoded strings.
#ifndef CACHEPACK_MEGACACHE_H_
#define CACHEPACK_MEGACACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/artifact.h"
#include "cachepack/artifact_types.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack {
class AppendBuffer;
}  // namespace cachepack

namespace cachepack::megacache {

inline constexpr uint64_t kEncodingVersion = 1;
inline constexpr size_t kHeaderSize = 12;  // CRC + version.

enum class Base64Mode {
  kStrict,   // Only canonical base64, as every writer produces.
  kLenient,  // Whatever PyTorch's reader accepts (b64decode, validate=False).
};

struct ReadOptions {
  Base64Mode base64 = Base64Mode::kStrict;
  // Artifacts of types registered here must pass their type's required
  // rules. Types not registered are carried unchanged (PyTorch adds types
  // in any release), unless `strict_types`: then they are kUnknownType.
  // nullptr checks nothing.
  const ArtifactTypes* types = &ArtifactTypes::global();
  bool strict_types = false;
  // When set, parse() calls it with the ranges of the input it has
  // finished reading, front to back every few MiB (once for the checksum,
  // once for the structure):
  // a caller that mapped a large file releases them (MappedFile::release),
  // so residency stays bounded. The views parse() returns still point into
  // the input.
  std::function<void(ByteSpan)> done_reading;
};

struct Group {
  std::string type;
  uint64_t offset = 0;  // Offset of the group's type field.
  std::vector<ArtifactView> artifacts;
};

struct Blob {
  uint32_t crc = 0;
  uint64_t size = 0;
  std::vector<Group> groups;  // In stored order; a type may repeat.

  size_t artifact_count() const;
  // All artifacts in stored order.
  std::vector<ArtifactView> artifacts() const;
};

// Parses a whole blob. Views in the result point into `data`, which must
// outlive them. Errors carry the offset of the offending field:
//   kTooShort, kChecksumMismatch, kUnsupportedVersion, kUnknownType,
//   kInvalidUtf8, kInvalidBase64, kLengthOverrun, kTrailingBytes, and the
//   type rules' kInvalidKey / kInvalidContent.
Result<Blob> parse(ByteSpan data, const ReadOptions& options = {});

// A borrowed (key, content) pair to write.
struct KeyedContent {
  std::string_view key;
  ByteSpan content;
};

// PyTorch's AppendingByteSerializer specialised to the Mega-Cache grammar:
// groups are appended, and bytes() may be called any number of times; each
// call yields a complete blob with the checksum of everything so far.
class Writer {
 public:
  Writer();
  ~Writer();
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;

  // Appends one group. kInvalidArgument if the type or a key is not UTF-8
  // (Python strings always are), kResourceExhausted without memory for it;
  // nothing is appended then.
  Result<void> append_group(std::string_view type,
                            std::span<const KeyedContent> entries);

  // The blob so far, checksum filled in. Valid until the next append.
  ByteSpan bytes();
  size_t size() const;

  // Back to an empty blob (12 bytes).
  void clear();

 private:
  // Grows without copying what is written (util/append_buffer.h).
  std::unique_ptr<AppendBuffer> buffer_;
  uint32_t crc_ = 0;  // Running CRC of buffer_[4:crc_end_).
  size_t crc_end_ = 4;
};

// Exact size of the group that append_group would write.
uint64_t group_size(std::string_view type,
                    std::span<const KeyedContent> entries);

}  // namespace cachepack::megacache

#endif  // CACHEPACK_MEGACACHE_H_
