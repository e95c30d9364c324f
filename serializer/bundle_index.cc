#include "serializer/bundle_index.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>

#include "cachepack/bundle_writer.h"
#include "serializer/bundle.capnp.h"

namespace cachepack::bundle {
namespace {

namespace sc = ::cachepack::bundle::schema;

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

sc::Codec to_schema(Codec c) {
  return c == Codec::kZstd ? sc::Codec::ZSTD : sc::Codec::RAW;
}

capnp::Data::Reader data_of(const void* data, size_t size) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(data), size);
}

EntryRecord record_of(EntryInfo& e, uint32_t type_id) {
  EntryRecord r;
  r.type_id = type_id;
  r.key = std::move(e.key);
  r.offset = e.offset;
  r.stored_size = e.stored_size;
  r.original_size = e.original_size;
  r.codec = e.codec;
  r.xxh3 = e.xxh3;
  r.sha256 = e.sha256;
  r.dictionary = e.dictionary;
  r.chunk_count = std::max<size_t>(e.chunks.size(), 1);
  if (e.block != 0) {
    r.block = e.block;
    r.offset = e.block_offset;
    r.stored_size = 0;
    r.codec = Codec::kRaw;
    r.xxh3 = {};
  }
  if (e.chunks.size() > 1) {
    for (const ChunkInfo& c : e.chunks) {
      r.chunks.push_back({c.stored_size, c.original_size, c.codec, c.xxh3});
    }
  }
  return r;
}

// The steps of IndexBuilder::encode. Cap'n Proto lays objects out in the
// order they are built, so this order is part of the bytes a bundle has.

void encode_entry(const EntryRecord& r, sc::Entry::Builder e) {
  e.setTypeId(r.type_id);
  e.setKey(data_of(r.key.data(), r.key.size()));
  e.setOffset(r.offset);
  e.setStoredSize(r.stored_size);
  e.setOriginalSize(r.original_size);
  e.setCodec(to_schema(r.codec));
  e.setXxh3High(xxh128_high(r.xxh3));
  e.setXxh3Low(xxh128_low(r.xxh3));
  e.setSha256(data_of(r.sha256.data(), r.sha256.size()));
  e.setDictionary(r.dictionary);
  e.setBlock(r.block);
  if (r.chunks.size() > 1) {
    auto cs = e.initChunks(r.chunks.size());
    for (size_t j = 0; j < r.chunks.size(); ++j) {
      cs[j].setStoredSize(r.chunks[j].stored_size);
      cs[j].setOriginalSize(r.chunks[j].original_size);
      cs[j].setCodec(to_schema(r.chunks[j].codec));
      cs[j].setXxh3High(xxh128_high(r.chunks[j].xxh3));
      cs[j].setXxh3Low(xxh128_low(r.chunks[j].xxh3));
    }
  }
}

// Entry positions in lookup order (compare_lookup_order, then position).
std::vector<uint32_t> lookup_order(const std::vector<EntryRecord>& entries) {
  std::vector<uint32_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = static_cast<uint32_t>(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const EntryRecord& x = entries[a];
    const EntryRecord& y = entries[b];
    return compare_lookup_order(x.type_id, x.key, y.type_id, y.key) < 0;
  });
  return order;
}

void encode_metadata(const Metadata& m, sc::Metadata::Builder meta) {
  meta.setProducer(m.producer);
  meta.setProducerVersion(m.producer_version);
  meta.setHasCreationTime(m.creation_unix_seconds.has_value());
  meta.setCreationUnixSeconds(m.creation_unix_seconds.value_or(0));
  auto kvs = meta.initUser(m.user.size());
  size_t k = 0;
  for (auto& [key, value] : m.user) {
    kvs[k].setKey(key);
    kvs[k].setValue(value);
    ++k;
  }
}

}  // namespace

IndexBuilder::IndexBuilder() {
  metadata_.producer = std::string(kProducer);
  metadata_.producer_version = std::string(kProducerVersion);
}

Result<IndexBuilder> IndexBuilder::of_bundle(const BundleReader& reader) {
  CP_ASSIGN_OR_RETURN(auto old, reader.entries());
  CP_ASSIGN_OR_RETURN(auto groups, reader.groups());
  CP_ASSIGN_OR_RETURN(auto dicts, reader.dictionaries());
  CP_ASSIGN_OR_RETURN(auto blocks, reader.blocks());
  IndexBuilder index;
  for (const ChunkInfo& b : blocks) {
    index.blocks_.push_back(
        {b.offset, b.stored_size, b.original_size, b.codec, b.xxh3});
  }
  for (const std::string& t : reader.types()) index.type_id(t);
  for (EntryInfo& e : old) {
    index.entries_.push_back(record_of(e, index.type_ids_.at(e.type)));
  }
  index.grouped_ = !groups.empty() || old.empty();
  for (const GroupInfo& g : groups) {
    index.groups_.push_back({index.type_ids_.at(g.type), g.count});
  }
  for (auto& [type, dict] : dicts) {
    index.add_dictionary(type, std::move(dict));
  }
  index.metadata_ = reader.metadata();
  return index;
}

uint32_t IndexBuilder::type_id(std::string_view type) {
  auto it = type_ids_.find(type);
  if (it != type_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(types_.size());
  types_.emplace_back(type);
  type_ids_.emplace(std::string(type), id);
  return id;
}

void IndexBuilder::begin_group(uint32_t type_id) {
  if (grouped_) {
    groups_.push_back({type_id, 0});
    in_group_ = true;
  }
}

Result<size_t> IndexBuilder::add_entry(uint32_t type_id, std::string_view key,
                                       uint64_t original_size) {
  if (in_group_) {
    if (groups_.back().type_id != type_id) {
      return invalid("entry of type '" + types_[type_id] +
                     "' added to a group of type '" +
                     types_[groups_.back().type_id] + "'");
    }
    ++groups_.back().count;
  } else {
    grouped_ = false;
    groups_.clear();
  }
  EntryRecord e;
  e.type_id = type_id;
  e.key = std::string(key);
  e.original_size = original_size;
  entries_.push_back(std::move(e));
  return entries_.size() - 1;
}

uint32_t IndexBuilder::add_block() {
  blocks_.emplace_back();
  return static_cast<uint32_t>(blocks_.size());
}

std::optional<uint32_t> IndexBuilder::dictionary_of(
    std::string_view type) const {
  auto it = dictionary_of_type_.find(type);
  if (it == dictionary_of_type_.end()) return std::nullopt;
  return it->second;
}

void IndexBuilder::add_dictionary(std::string type, Bytes content) {
  dictionaries_.emplace_back(type, std::move(content));
  dictionary_of_type_[std::move(type)] =
      static_cast<uint32_t>(dictionaries_.size());
}

void IndexBuilder::merge_metadata(
    const std::map<std::string, std::string>& user,
    std::optional<int64_t> creation_unix_seconds) {
  for (auto& [k, v] : user) metadata_.user[k] = v;
  if (creation_unix_seconds && !metadata_.creation_unix_seconds) {
    metadata_.creation_unix_seconds = creation_unix_seconds;
  }
}

Result<kj::Array<capnp::word>> IndexBuilder::encode(
    uint64_t chunk_size, uint64_t solid_block_size) const {
  try {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<sc::BundleIndex>();
    auto t = root.initTypes(types_.size());
    for (size_t i = 0; i < types_.size(); ++i) t.set(i, types_[i]);
    auto es = root.initEntries(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
      encode_entry(entries_[i], es[i]);
    }
    std::vector<uint32_t> order = lookup_order(entries_);
    auto lookup = root.initLookup(order.size());
    for (size_t i = 0; i < order.size(); ++i) lookup.set(i, order[i]);
    encode_metadata(metadata_, root.initMetadata());
    auto ds = root.initDictionaries(dictionaries_.size());
    for (size_t i = 0; i < dictionaries_.size(); ++i) {
      const auto& [type, content] = dictionaries_[i];
      ds[i].setType(type);
      ds[i].setContent(data_of(content.data(), content.size()));
    }
    if (grouped_) {
      auto gs = root.initGroups(groups_.size());
      for (size_t i = 0; i < groups_.size(); ++i) {
        gs[i].setTypeId(groups_[i].type_id);
        gs[i].setCount(groups_[i].count);
      }
    }
    root.setChunkSize(chunk_size);
    if (!blocks_.empty()) {
      auto bs = root.initBlocks(blocks_.size());
      for (size_t i = 0; i < blocks_.size(); ++i) {
        const BlockRecord& b = blocks_[i];
        bs[i].setOffset(b.offset);
        bs[i].setStoredSize(b.stored_size);
        bs[i].setOriginalSize(b.original_size);
        bs[i].setCodec(to_schema(b.codec));
        bs[i].setXxh3High(xxh128_high(b.xxh3));
        bs[i].setXxh3Low(xxh128_low(b.xxh3));
      }
    }
    root.setSolidBlockSize(solid_block_size);
    return capnp::messageToFlatArray(message);
  } catch (const kj::Exception& e) {
    return make_error(
        ErrorCode::kInternal,
        std::string("building the index: ") + e.getDescription().cStr());
  }
}

}  // namespace cachepack::bundle
