// What a bundle's index will say, collected by the writer as entries are
// written (types, entries with their chunks and digests, Mega-Cache groups,
// metadata, dictionaries), and its encoding as the Cap'n Proto BundleIndex
// of bundle.capnp. Internal to serializer/.
#ifndef CACHEPACK_SERIALIZER_BUNDLE_INDEX_H_
#define CACHEPACK_SERIALIZER_BUNDLE_INDEX_H_

#include <capnp/common.h>
#include <kj/array.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"
#include "cachepack/hash.h"

namespace cachepack::bundle {

struct ChunkRecord {
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;
  Xxh128 xxh3{};
};

struct EntryRecord {
  uint32_t type_id = 0;
  std::string key;
  // A solid entry's (block != 0) offset is inside its block's decompressed
  // bytes; its stored size, codec, XXH3 and dictionary stay 0.
  uint64_t offset = kHeaderSize;
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;
  Xxh128 xxh3{};
  Sha256Digest sha256{};
  uint32_t dictionary = 0;
  std::vector<ChunkRecord> chunks;  // Kept only for multi-chunk entries.
  size_t chunk_count = 0;
  uint32_t block = 0;  // 0: stored on its own; n: in solid block n.
};

// A solid block: its stored bytes and the decompressed size of its entries.
struct BlockRecord {
  uint64_t offset = 0;
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;
  Xxh128 xxh3{};
};

struct GroupRecord {
  uint32_t type_id = 0;
  uint64_t count = 0;
};

class IndexBuilder {
 public:
  // An empty index whose metadata names this cachepack as the producer.
  IndexBuilder();
  // The index of an existing bundle's opened version, to append to.
  static Result<IndexBuilder> of_bundle(const BundleReader& reader);

  // The number of `type`, which joins the type table on first use.
  uint32_t type_id(std::string_view type);
  const std::string& type_name(uint32_t type_id) const {
    return types_[type_id];
  }

  // The entries recorded next form a group of `type_id` entries, unless an
  // entry recorded outside any group has already dropped the group table.
  void begin_group(uint32_t type_id);
  // Records a new entry, in the open group if there is one (else the group
  // table is dropped: the bundle has none), and returns its position.
  // kInvalidArgument if the open group is of another type.
  Result<size_t> add_entry(uint32_t type_id, std::string_view key,
                           uint64_t original_size);
  EntryRecord& entry(size_t position) { return entries_[position]; }
  size_t size() const { return entries_.size(); }

  // A new solid block, filled in when it is written; returns its number
  // (1-based). drop_last_block() takes back the newest, which no entry may
  // name any more.
  uint32_t add_block();
  BlockRecord& block(uint32_t number) { return blocks_[number - 1]; }
  void drop_last_block() { blocks_.pop_back(); }

  // The number (1-based) of the dictionary of `type`, if it has one.
  std::optional<uint32_t> dictionary_of(std::string_view type) const;
  // Adds a dictionary; `type`'s entries use it from now on.
  void add_dictionary(std::string type, Bytes content);
  const std::vector<std::pair<std::string, Bytes>>& dictionaries() const {
    return dictionaries_;
  }

  // Adds `user` (replacing values of the same keys) and records the
  // creation time unless one is recorded already.
  void merge_metadata(const std::map<std::string, std::string>& user,
                      std::optional<int64_t> creation_unix_seconds);

  // The BundleIndex message; kInternal if Cap'n Proto refuses to build it.
  Result<kj::Array<capnp::word>> encode(uint64_t chunk_size,
                                        uint64_t solid_block_size) const;

 private:
  std::vector<std::string> types_;
  std::map<std::string, uint32_t, std::less<>> type_ids_;
  std::vector<EntryRecord> entries_;
  std::vector<GroupRecord> groups_;
  std::vector<BlockRecord> blocks_;
  bool grouped_ = true;  // Every entry so far belongs to a group.
  bool in_group_ = false;
  Metadata metadata_;
  std::vector<std::pair<std::string, Bytes>> dictionaries_;
  std::map<std::string, uint32_t, std::less<>> dictionary_of_type_;
};

}  // namespace cachepack::bundle

#endif  // CACHEPACK_SERIALIZER_BUNDLE_INDEX_H_
