// Reads a cachepack bundle (docs/FORMAT.md) from a memory-mapped file.
// Opening reads the header, the footer and the index only; get() reads and
// decompresses one entry. Every offset, size and count read from the file is
// checked against the file and the configured limits before it is used.
#ifndef CACHEPACK_BUNDLE_READER_H_
#define CACHEPACK_BUNDLE_READER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"
#include "cachepack/hash.h"

namespace cachepack::bundle {

// Hard limits on what a bundle may declare. Exceeding one is kLimitExceeded
// (kResourceExhausted), never an allocation attempt.
struct ReaderLimits {
  uint64_t max_index_size = uint64_t{1} << 30;
  uint64_t max_entries = uint64_t{1} << 26;
  uint64_t max_entry_size = uint64_t{4} << 30;  // Declared original size.
  uint64_t max_chunk_size = kMaxChunkSize;
  uint64_t max_key_size = kMaxKeySize;
  uint64_t max_signatures = 64;
  uint64_t max_dictionary_size = uint64_t{16} << 20;
};

struct ReaderOptions {
  ReaderLimits limits;
  // When non-empty, open() fails with kPermissionDenied / kSignature unless
  // the bundle carries a valid signature by one of these keys, and every
  // read also checks the content's SHA-256 (XXH3 is not collision-resistant
  // against an attacker; SHA-256 is what the signature vouches for).
  std::vector<PublicKey> trusted_keys;
  bool verify_sha256_on_read = false;
  // The bundle's newest version is the one whose footer ends the file. When
  // the last bytes are not such a footer (a damaged newest footer, bytes
  // added after it, an interrupted append or sign), open() fails with the
  // footer's error, naming the newest intact earlier footer if there is
  // one. Only with this set does it open that earlier version instead;
  // ignored_tail() then says how many bytes were skipped. Append and sign
  // set it (they repair such a tail); readers set it only when a user asked
  // for an older version explicitly.
  bool allow_older_version = false;
  // open() also runs verify_structure() and fails if it does: every check
  // of verify_all() except decompressing entries, so a caller that is about
  // to read everything (populate, convert) refuses a bundle that verify
  // would refuse before it writes anything. Entries' digests are still
  // checked as they are read.
  bool verify_structure = false;
  // Threads that decompress the chunks of one multi-chunk entry in read();
  // 1 decompresses on the caller's thread.
  int threads = 1;
};

struct ChunkInfo {
  uint64_t offset = 0;
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;
  Xxh128 xxh3{};
};

struct EntryInfo {
  size_t position = 0;  // In stored order.
  std::string type;
  std::string key;
  uint64_t offset = 0;
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;  // Of the single chunk, or of the first.
  Xxh128 xxh3{};
  Sha256Digest sha256{};
  uint32_t dictionary = 0;  // 0 none, else 1-based dictionary number.
  // Always at least one unless empty or in a solid block.
  std::vector<ChunkInfo> chunks;
  // 0: stored on its own, as above. n: in solid block n (docs/FORMAT.md,
  // "Solid blocks"): the content is original_size bytes from block_offset of
  // the block's decompressed bytes, and block_data is the block's stored
  // range; offset, codec and xxh3 are then the block's and stored_size is
  // 0 (the block's bytes are shared with its other entries).
  uint32_t block = 0;
  uint64_t block_offset = 0;
  ChunkInfo block_data;
};

struct Metadata {
  std::string producer;
  std::string producer_version;
  std::optional<int64_t> creation_unix_seconds;
  std::map<std::string, std::string> user;
};

struct SignatureInfo {
  PublicKey public_key{};
  Signature signature{};
  bool valid = false;  // Verifies over this bundle's header and index.
};

struct GroupInfo {
  std::string type;
  uint64_t count = 0;
};

struct VerifyReport {
  size_t entries = 0;
  uint64_t original_bytes = 0;
  uint64_t stored_bytes = 0;
  size_t valid_signatures = 0;
  size_t trusted_signatures = 0;  // Valid ones by ReaderOptions::trusted_keys.
};

// Const member functions are safe to call from several threads at once.
class BundleReader {
 public:
  // Maps `path` and reads header, footer and index.
  static Result<BundleReader> open(const std::string& path,
                                   ReaderOptions options = {});
  // Reads a bundle held in memory; `data` must outlive the reader.
  static Result<BundleReader> from_bytes(ByteSpan data,
                                         ReaderOptions options = {});

  BundleReader(BundleReader&&) noexcept;
  BundleReader& operator=(BundleReader&&) noexcept;
  ~BundleReader();

  const std::string& path() const;
  uint64_t file_size() const;
  const Header& header() const;
  const Footer& footer() const;
  uint64_t footer_offset() const;
  // Bytes after the footer that was opened (an interrupted append), 0 for a
  // clean bundle.
  uint64_t ignored_tail() const;
  uint64_t chunk_size() const;

  size_t size() const;  // Entries.
  const std::vector<std::string>& types() const;
  const Metadata& metadata() const;
  const std::vector<SignatureInfo>& signatures() const;
  // Mega-Cache group structure, empty if the bundle has none.
  Result<std::vector<GroupInfo>> groups() const;
  // The solid blocks' stored ranges, in block-number order (block n is
  // element n-1), each checked against the file and limits as a chunk is.
  Result<std::vector<ChunkInfo>> blocks() const;
  // (type, dictionary bytes) in dictionary-number order.
  Result<std::vector<std::pair<std::string, Bytes>>> dictionaries() const;

  // Entry at `position` in stored order, its ranges checked against the file.
  Result<EntryInfo> entry(size_t position) const;
  // All entries in stored order.
  Result<std::vector<EntryInfo>> entries() const;
  // Position of (type, key); the last one stored if the pair repeats.
  Result<std::optional<size_t>> find(std::string_view type,
                                     std::string_view key) const;

  // Content of one entry: XXH3 checked before decompressing, original size
  // enforced as an upper bound while decompressing. An entry in a solid
  // block decompresses the block only up to the entry's end; the reader
  // keeps the last few blocks' decompressed prefixes (and where it stopped)
  // so reading a block's entries in order decompresses it once.
  Result<Bytes> read(size_t position) const;
  Result<Bytes> read(const EntryInfo& entry) const;
  // Empty optional when (type, key) is not in the bundle.
  Result<std::optional<Bytes>> get(std::string_view type,
                                   std::string_view key) const;
  // One chunk of an entry, for partial or parallel reads.
  Result<Bytes> read_chunk(const EntryInfo& entry, size_t chunk) const;
  // Content bytes [offset, offset + length) of an entry, decompressing only
  // the chunks that hold them. kInvalidArgument if the range is outside.
  Result<Bytes> read_range(const EntryInfo& entry, uint64_t offset,
                           uint64_t length) const;

  // The structural checks of verify_all(), none of which decompresses an
  // entry. Each fails with kDataLoss naming the file and offset.
  //
  // Every earlier version's footer, followed through previous_footer_offset,
  // is intact, lies before the footer naming it, and matches its index.
  Result<void> check_footer_chain() const;
  // Every byte of the file belongs to the header, an entry, an index,
  // signature block or footer of some version, or is one of fewer than 8
  // zero padding bytes; nothing follows the opened footer unless the reader
  // was opened with allow_older_version (kTrailingBytes).
  Result<void> check_byte_coverage() const;
  // Type names are distinct and the lookup table is the permutation of the
  // entries sorted by (type, key, position) that find() relies on.
  Result<void> check_lookup_order() const;
  // The Mega-Cache group table, if any, partitions the entries in order.
  Result<void> check_groups() const;
  // Each solid block's entries, in stored order, lie back to back and fill
  // its decompressed bytes exactly: none overlaps another or leaves a gap.
  Result<void> check_blocks() const;
  // Every signature verifies (open() already required a trusted one when
  // ReaderOptions::trusted_keys is set).
  Result<void> check_signatures() const;
  // All six checks above, in that order; the report's sizes come from the
  // index. Cheap next to verify_all(): reads the index, footers and padding.
  Result<VerifyReport> verify_structure() const;

  // Decompresses one entry and checks both digests.
  Result<void> verify_entry(size_t position) const;
  // verify_structure(), then every entry decompressed and both its digests
  // checked, and every solid block decompressed to its end, which must be
  // its declared size. So any single changed byte of a bundle fails.
  Result<VerifyReport> verify_all() const;

  // kPermissionDenied / kSignature unless some signature is valid and made
  // by one of `trusted`.
  Result<void> require_trusted(std::span<const PublicKey> trusted) const;

 private:
  struct State;
  explicit BundleReader(std::unique_ptr<State> state);
  static Result<BundleReader> open_state(std::unique_ptr<State> state);
  Result<Bytes> read_solid(const EntryInfo& entry) const;
  Result<Bytes> checked_content(const EntryInfo& entry, Bytes content) const;
  std::unique_ptr<State> s_;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_READER_H_
