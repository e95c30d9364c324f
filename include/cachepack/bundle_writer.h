// Writes cachepack bundles (docs/FORMAT.md) as entries arrive: each entry's
// chunks are compressed on a pool of threads and written to the file in
// order, so memory stays bounded by the threads' in-flight chunks and the
// index, never the bundle. The same entries and options give the same bytes.
#ifndef CACHEPACK_BUNDLE_WRITER_H_
#define CACHEPACK_BUNDLE_WRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/bundle_dictionary.h"
#include "cachepack/bundle_format.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bytes.h"
#include "cachepack/content_source.h"
#include "cachepack/error.h"

namespace cachepack::bundle {

inline constexpr std::string_view kProducer = "cachepack";
inline constexpr std::string_view kProducerVersion = "0.1.0";
// WriterOptions::threads is 1..kMaxWriterThreads.
inline constexpr int kMaxWriterThreads = 256;

struct WriteStats {
  size_t entries = 0;  // In the whole bundle (after an append: old + new).
  size_t added = 0;    // By this writer.
  uint64_t original_bytes = 0;  // Added by this writer.
  uint64_t stored_bytes = 0;
  uint64_t file_size = 0;
};

struct WriterOptions {
  int level = 3;    // zstd level 1..22; 0 stores every entry raw.
  int threads = 1;  // Compression threads; 1 compresses on the caller.
  uint64_t chunk_size = kDefaultChunkSize;
  // Solid blocks (docs/FORMAT.md, "Solid blocks"): consecutive entries of at
  // most chunk_size bytes, of types without a dictionary, are compressed
  // together in blocks of up to this many bytes, so matches across entries
  // count; a read decompresses the entry's block up to the entry. 0 (or
  // level 0) stores every entry on its own. A bundle written with blocks
  // sets a header flag that readers before blocks refuse; append() adds
  // blocks only to a bundle that has it.
  uint64_t solid_block_size = kDefaultSolidBlockSize;
  // Recorded only when set: bundles are deterministic by default.
  std::optional<int64_t> creation_unix_seconds;
  std::map<std::string, std::string> user_metadata;
  // zstd dictionaries by type (serializer/bundle_dictionary.h); entries of
  // these types are compressed with them and the dictionaries stored in the
  // index.
  std::map<std::string, Bytes> dictionaries;
  // When > 0, train dictionaries from the bundle's own entries: the first
  // entries, up to this many bytes, are held back (memory stays bounded by
  // it), one dictionary is trained per type that has enough of them and
  // none yet, then everything is compressed. 16 MiB is a good value.
  uint64_t train_dictionaries_bytes = 0;
  DictionaryKind dictionary_kind = DictionaryKind::kRawContent;
  // Keys that sign the index when the bundle is finished. Not owned.
  std::vector<const SigningKey*> signing_keys;
  bool fsync = false;  // fsync the file (and directory) before finishing.
  // append(): bytes after the last valid footer left by an interrupted
  // append are always dropped. If instead the file ends in a complete but
  // damaged footer, append refuses (kBadFooter) unless this is set.
  bool discard_damaged_tail = false;
  // Called on the adding thread after each entry is added, with this
  // writer's counts so far (added, original_bytes): a progress display.
  std::function<void(const WriteStats&)> progress;
};

class BundleWriter {
 public:
  // Starts a new bundle at `path`, written through a temporary file in the
  // same directory and renamed into place by finish(): an existing file at
  // `path` is replaced only by a complete bundle. The writer holds the
  // writers' lock on `path` from here to finish() (util/file_lock.h): an
  // append, sign or other create of the same path meanwhile fails with
  // kUnavailable, and so does this one if another is at work. Temporary
  // files of earlier writers of `path` that were killed are removed.
  static Result<BundleWriter> create(const std::string& path,
                                     WriterOptions options = {});
  // Writes a new bundle to `fd` (a pipe, a socket, stdout): the format never
  // seeks back, so bytes go out as entries arrive. The descriptor is not
  // closed; an unfinished bundle is simply incomplete. `name` is used in
  // errors.
  static Result<BundleWriter> to_stream(int fd, WriterOptions options = {},
                                        std::string name = "<stream>");
  // Adds entries to an existing bundle. The new data, then the new index and
  // footer, are written after the old footer, which is never modified: a
  // crash at any point leaves the previous bundle readable (readers find the
  // last valid footer). Existing signatures are dropped, since they cover
  // the old index; pass signing_keys to sign the new one. Old dictionaries,
  // metadata and Mega-Cache groups are kept; user_metadata is merged in.
  static Result<BundleWriter> append(const std::string& path,
                                     WriterOptions options = {});

  BundleWriter(BundleWriter&&) noexcept;
  BundleWriter& operator=(BundleWriter&&) noexcept;
  // Without finish(): a new bundle's temporary file is removed; an append's
  // partial data is truncated away.
  ~BundleWriter();

  // Starts a Mega-Cache group: the entries added next (all of `type`) form
  // one group of the blob that bundle_to_megacache() rebuilds. Entries added
  // without a group make the bundle's group table empty (a blob is then
  // rebuilt grouped by type).
  Result<void> begin_group(std::string_view type);

  // Adds one entry. `content` is copied or compressed before this returns.
  // kInvalidArgument for an empty type or an over-long key; I/O errors make
  // the writer unusable.
  Result<void> add(std::string_view type, std::string_view key,
                   ByteSpan content);

  // As add(), without copying: `content` must stay valid and unchanged
  // until finish() returns or the writer is destroyed (a memory-mapped
  // input, a buffer the caller owns for the whole write). Compression
  // threads read it in place.
  Result<void> add_borrowed(std::string_view type, std::string_view key,
                            ByteSpan content);

  // As add(), reading the content from `content` one chunk at a time:
  // memory stays bounded by the chunks in flight whatever the entry's size.
  // A source that fails or yields other than its declared size makes the
  // writer unusable.
  Result<void> add_stream(std::string_view type, std::string_view key,
                          ContentSource& content);

  // Compresses and writes every entry added so far (except those held back
  // to make dictionaries, and those in the open solid block, which are
  // copies). After it returns, no borrowed
  // content is read any more, so its owner may release it.
  Result<void> flush();

  // Writes the index, signatures and footer, and (for a new bundle) renames
  // the file into place.
  Result<WriteStats> finish();

 private:
  struct Impl;
  explicit BundleWriter(std::unique_ptr<Impl> impl);
  void report_progress();
  std::unique_ptr<Impl> impl_;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_WRITER_H_
