// What a BundleReader holds: the bytes, the opened version's footer, what
// open() read from the index, and the index itself as Cap'n Proto words,
// with the steps that fill and read them. Opening and reading are in
// bundle_reader.cc, decoding an entry in bundle_entry_decode.cc, the verify
// pass in bundle_verify.cc. Internal to serializer/.
#ifndef CACHEPACK_SERIALIZER_BUNDLE_READER_STATE_H_
#define CACHEPACK_SERIALIZER_BUNDLE_READER_STATE_H_

#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"
#include "serializer/bundle.capnp.h"
#include "serializer/bundle_decompress.h"
#include "util/file.h"

namespace cachepack::bundle {

struct BundleReader::State {
  ReaderOptions options;
  std::optional<MappedFile> file;
  std::string path;
  ByteSpan data;
  Header header;
  Footer footer;
  uint64_t footer_offset = 0;
  uint64_t ignored_tail = 0;
  kj::Array<capnp::word> aligned;  // Only when the index is misaligned.
  kj::ArrayPtr<const capnp::word> words;
  uint64_t chunk_size = 0;
  size_t entry_count = 0;
  size_t dictionary_count = 0;
  size_t block_count = 0;
  std::vector<std::string> types;
  Metadata metadata;
  std::vector<SignatureInfo> signatures;
  std::optional<ChunkDecompressor> decompressor;  // Made by open_state.
  std::optional<SolidBlocks> solid_blocks;        // Made by open_state.

  ByteSpan index_bytes() const {
    return data.subspan(footer.index_offset, footer.index_size);
  }

  // Runs `fn(root)` over a fresh message reader whose traversal budget is
  // derived from the index size: each public operation walks the index at
  // most a small constant number of times. Cap'n Proto throws on malformed
  // messages; that becomes a typed error naming the index offset.
  template <typename Fn>
  auto with_index(Fn&& fn) const
      -> decltype(fn(schema::BundleIndex::Reader())) {
    capnp::ReaderOptions ro;
    ro.traversalLimitInWords =
        words.size() * kIndexTraversalFactor + kIndexTraversalSlack;
    ro.nestingLimit = kIndexNestingLimit;
    try {
      capnp::FlatArrayMessageReader message(words, ro);
      return fn(message.getRoot<schema::BundleIndex>());
    } catch (const kj::Exception& e) {
      return bad_index("index is not a valid Cap'n Proto message: " +
                       std::string(e.getDescription().cStr()));
    }
  }

  // kBadIndex at the index's offset: the index contradicts itself or the
  // file.
  tl::unexpected<Error> bad_index(std::string what) const {
    return data_loss(ErrorReason::kBadIndex, footer.index_offset,
                     std::move(what));
  }
  // A declared size or count over a ReaderLimits value, at the offset of
  // the field (or index) that declares it.
  static tl::unexpected<Error> over_limit(uint64_t at, std::string what) {
    return make_error(ErrorCode::kResourceExhausted,
                      ErrorReason::kLimitExceeded, std::move(what),
                      ErrorLocation{.offset = at});
  }

  // Every error a reader returns names its file (none for from_bytes).
  Error named(Error e) const {
    if (e.where().file.empty()) e.in_file(path);
    return e;
  }
  template <typename T>
  Result<T> named(Result<T> r) const {
    if (!r) return tl::unexpected(named(std::move(r.error())));
    return r;
  }
  tl::unexpected<Error> located(ErrorReason reason, uint64_t at,
                                std::string what) const {
    return tl::unexpected<Error>(
        Error(ErrorCode::kDataLoss, reason, std::move(what),
              ErrorLocation{.file = path, .offset = at}));
  }

  static std::string_view key_view(schema::Entry::Reader e) {
    auto k = e.getKey();
    return {reinterpret_cast<const char*>(k.begin()), k.size()};
  }
  // Where entry `e` sorts against (type_id, key) in the lookup table.
  static int compare_to(schema::Entry::Reader e, uint32_t type_id,
                        std::string_view key) {
    return compare_lookup_order(e.getTypeId(), key_view(e), type_id, key);
  }

  // Opening, in order (bundle_reader.cc, open_state).
  Result<void> find_footer();
  void map_index_words();
  Result<void> read_index_summary();
  Result<void> read_signatures();
  // Steps of find_footer.
  Result<Footer> footer_at(uint64_t at) const;
  Result<Footer> newest_footer(uint64_t last) const;
  std::optional<std::pair<uint64_t, Footer>> older_footer(uint64_t last) const;
  Result<void> fall_back_to_older_footer(uint64_t last,
                                         const Error& newest_error);
  // Steps of read_index_summary.
  Result<void> read_types(capnp::List<capnp::Text>::Reader names);
  Result<void> read_counts(schema::BundleIndex::Reader root);
  void read_metadata(schema::Metadata::Reader meta);

  // Entries (bundle_entry_decode.cc).
  // `list` and `blocks` are the index's entries and blocks, fetched once
  // per walk: each fetch counts against the traversal budget.
  Result<EntryInfo> decode_entry(capnp::List<schema::Entry>::Reader list,
                                 capnp::List<schema::Block>::Reader blocks,
                                 size_t position) const;
  // Steps of decode_entry, in order.
  Result<void> decode_type_and_key(schema::Entry::Reader e,
                                   EntryInfo& info) const;
  Result<void> decode_sizes(schema::Entry::Reader e, EntryInfo& info) const;
  Result<void> decode_codec_and_digests(schema::Entry::Reader e,
                                        EntryInfo& info) const;
  Result<void> decode_chunks(schema::Entry::Reader e, EntryInfo& info) const;
  Result<void> check_chunk(const EntryInfo& info, const ChunkInfo& c) const;
  Result<void> decode_solid(capnp::List<schema::Block>::Reader blocks,
                            schema::Entry::Reader e, EntryInfo& info) const;
  // Solid block `number` (1-based) of `blocks`, checked as a chunk is:
  // inside the data region, within max_chunk_size, sizes its codec allows.
  Result<ChunkInfo> decode_block(capnp::List<schema::Block>::Reader blocks,
                                 uint32_t number) const;

  // Lookups (bundle_reader.cc).
  Result<std::optional<size_t>> find(schema::BundleIndex::Reader root,
                                     std::string_view type,
                                     std::string_view key) const;
  Result<ByteSpan> dictionary_bytes(uint32_t number) const;

  // The verify pass (bundle_verify.cc).
  struct Span {
    uint64_t begin, end;
    const char* what;
  };
  Result<std::vector<Span>> version_spans() const;
  Result<void> check_tiling(std::vector<Span> spans, uint64_t end) const;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_SERIALIZER_BUNDLE_READER_STATE_H_
