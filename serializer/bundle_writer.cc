#include "serializer/bundle_writer.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <utility>

#include "serializer/bundle.capnp.h"
#include "serializer/bundle_compression.h"
#include "serializer/bundle_file.h"
#include "serializer/bundle_reader.h"
#include "util/file.h"
#include "util/file_lock.h"
#include "util/hash.h"

namespace cachepack::bundle {
namespace {

namespace sc = ::cachepack::bundle::schema;

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// "4 KiB", "256 MiB": a limit as the writer's messages spell it.
std::string size_text(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  return std::to_string(bytes >> 10) + " KiB";
}

struct ChunkRecord {
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;
  Xxh128 xxh3{};
};

struct EntryRecord {
  uint32_t type_id = 0;
  std::string key;
  uint64_t offset = kHeaderSize;
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  Codec codec = Codec::kRaw;
  Xxh128 xxh3{};
  Sha256Digest sha256{};
  uint32_t dictionary = 0;
  std::vector<ChunkRecord> chunks;  // Kept only for multi-chunk entries.
  size_t chunk_count = 0;
};

struct Pending {
  size_t entry;
  size_t chunk;
  std::future<Compressed> result;
  std::shared_ptr<Bytes> input;  // The pool's copy, recycled when retired;
                                 // null for borrowed content.
  uint64_t bytes = 0;            // Input bytes of the chunk.
};

sc::Codec to_schema(Codec c) {
  return c == Codec::kZstd ? sc::Codec::ZSTD : sc::Codec::RAW;
}

ByteSpan word_bytes(kj::ArrayPtr<const capnp::word> words) {
  return {reinterpret_cast<const std::byte*>(words.begin()),
          words.size() * sizeof(capnp::word)};
}

}  // namespace

struct BundleWriter::Impl {
  WriterOptions options;
  std::string path;
  // A new bundle's file until finish() renames it into place; empty when
  // appending or streaming.
  std::optional<ReplacementFile> replacement;
  bool streaming = false;  // Writing to a caller's descriptor.
  BufferedWriter out;
  uint64_t append_start = 0;  // Old bundle's end, when appending.
  uint64_t previous_footer = 0;
  bool finished = false;
  std::optional<Error> failure;

  std::vector<std::string> types;
  std::map<std::string, uint32_t, std::less<>> type_ids;
  std::vector<EntryRecord> entries;
  struct GroupRecord {
    uint32_t type_id;
    uint64_t count;
  };
  std::vector<GroupRecord> groups;
  bool grouped = true;  // Every entry so far belongs to a group.
  bool in_group = false;
  int64_t creation_time = 0;
  bool has_creation_time = false;
  std::string producer{kProducer};
  std::string producer_version{kProducerVersion};
  std::map<std::string, std::string> user;
  std::vector<std::pair<std::string, Bytes>> dictionaries;
  std::map<std::string, uint32_t, std::less<>> dictionary_of_type;
  std::vector<CDictPtr> cdicts;  // By dictionary number - 1.

  // Dictionary training (options.train_dictionaries_bytes): the first
  // entries wait here, as (entry index, content), until there is enough to
  // train on.
  bool training = false;
  std::vector<std::pair<size_t, Bytes>> buffered;
  uint64_t buffered_bytes = 0;

  BufferPool buffers;  // Declared before `pool`: outlives its threads.
  CCtxPtr cctx;
  std::unique_ptr<CompressionPool> pool;
  std::deque<Pending> inflight;
  uint64_t inflight_bytes = 0;  // Input bytes of the chunks in flight.
  Xxh128Stream entry_stream;
  WriteStats stats;

  ~Impl() {
    pool.reset();  // Joins the threads before the data they use goes away.
    // A new bundle's temporary file goes with `replacement`.
    if (finished || streaming || replacement) return;
    if (out.fd() >= 0) {
      // Best effort: readers ignore these bytes anyway.
      if (::ftruncate(out.fd(), static_cast<off_t>(append_start)) != 0) {
        return;
      }
    }
  }

  Result<void> setup_compression() {
    if (options.level < 0 || options.level > ZSTD_maxCLevel()) {
      return invalid("compression level " + std::to_string(options.level) +
                     " is outside 0.." + std::to_string(ZSTD_maxCLevel()));
    }
    if (options.threads < 1 || options.threads > 256) {
      return invalid("thread count must be 1..256");
    }
    if (options.chunk_size < kMinChunkSize ||
        options.chunk_size > kMaxChunkSize) {
      return invalid("chunk size must be " + size_text(kMinChunkSize) + ".." +
                     size_text(kMaxChunkSize));
    }
    for (auto& [type, dict] : options.dictionaries) {
      if (dictionary_of_type.count(type)) continue;  // The bundle's wins.
      dictionaries.emplace_back(type, dict);
      dictionary_of_type[type] = static_cast<uint32_t>(dictionaries.size());
    }
    for (auto& [type, dict] : dictionaries) {
      CDictPtr cd(ZSTD_createCDict(dict.data(), dict.size(),
                                   std::max(options.level, 1)));
      if (!cd) return invalid("dictionary for type " + type + " is unusable");
      cdicts.push_back(std::move(cd));
    }
    training = options.train_dictionaries_bytes > 0 && options.level > 0;
    cctx.reset(ZSTD_createCCtx());
    if (options.threads > 1) {
      pool = std::make_unique<CompressionPool>(options.threads);
    }
    for (auto& [k, v] : options.user_metadata) user[k] = v;
    if (options.creation_unix_seconds && !has_creation_time) {
      has_creation_time = true;
      creation_time = *options.creation_unix_seconds;
    }
    return {};
  }

  uint32_t type_id(std::string_view type) {
    auto it = type_ids.find(type);
    if (it != type_ids.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(types.size());
    types.emplace_back(type);
    type_ids.emplace(std::string(type), id);
    return id;
  }

  Result<void> check() const {
    if (finished) return invalid("bundle writer already finished");
    if (failure) return tl::unexpected(*failure);
    return {};
  }

  Result<void> fail(Error error) {
    failure = error;
    return tl::unexpected(std::move(error));
  }

  Result<void> retire(Pending& p) {
    Compressed c = p.result.get();
    if (p.input) buffers.put(std::move(*p.input));
    EntryRecord& e = entries[p.entry];
    if (p.chunk == 0) {
      e.offset = out.pos();
      if (e.chunk_count > 1) entry_stream.reset();
    }
    ByteSpan stored = c.stored();
    if (auto ok = out.write(stored); !ok) return fail(ok.error());
    e.stored_size += stored.size();
    stats.stored_bytes += stored.size();
    if (c.sha256) e.sha256 = *c.sha256;
    if (e.chunk_count == 1) {
      e.codec = c.codec;
      e.xxh3 = c.xxh3;
    } else {
      entry_stream.update(stored);
      e.chunks.push_back({stored.size(), c.original_size, c.codec, c.xxh3});
      if (p.chunk + 1 == e.chunk_count) {
        e.codec = e.chunks.front().codec;
        e.xxh3 = entry_stream.digest();
      }
    }
    buffers.put(std::move(c.buffer));
    return {};
  }

  // Retires the oldest chunks until at most `keep` chunks and `keep_bytes`
  // input bytes are in flight.
  Result<void> drain(size_t keep, uint64_t keep_bytes = UINT64_MAX) {
    while (inflight.size() > keep ||
           (!inflight.empty() && inflight_bytes > keep_bytes)) {
      Pending p = std::move(inflight.front());
      inflight.pop_front();
      inflight_bytes -= p.bytes;
      CP_TRY(retire(p));
    }
    return {};
  }

  // Records an entry of `size` bytes in the index and its group; returns
  // its index.
  Result<size_t> record(std::string_view type, std::string_view key,
                        uint64_t size) {
    CP_TRY(check());
    if (type.empty()) return invalid("artifact type is empty");
    if (key.size() > kMaxKeySize) {
      return invalid("key of " + std::to_string(key.size()) +
                     " bytes is over the " + size_text(kMaxKeySize) + " limit");
    }
    uint32_t tid = type_id(type);
    if (in_group) {
      if (groups.back().type_id != tid) {
        return invalid("entry of type '" + std::string(type) +
                       "' added to a group of type '" +
                       types[groups.back().type_id] + "'");
      }
      ++groups.back().count;
    } else {
      grouped = false;
      groups.clear();
    }
    EntryRecord e;
    e.type_id = tid;
    e.key = std::string(key);
    e.original_size = size;
    entries.push_back(std::move(e));
    ++stats.added;
    stats.original_bytes += size;
    return entries.size() - 1;
  }

  Result<void> add(std::string_view type, std::string_view key,
                   ByteSpan content, bool borrowed) {
    CP_ASSIGN_OR_RETURN(auto index, record(type, key, content.size()));
    if (training) {
      if (buffered_bytes + content.size() <= options.train_dictionaries_bytes) {
        buffered.emplace_back(index, Bytes(content.begin(), content.end()));
        buffered_bytes += content.size();
        return {};
      }
      CP_TRY(train_and_flush());
    }
    return submit(index, content, borrowed);
  }

  Result<void> add_stream(std::string_view type, std::string_view key,
                          ContentSource& source) {
    if (training &&
        buffered_bytes + source.size() <= options.train_dictionaries_bytes) {
      // Held back for dictionary training anyway: read it whole.
      auto content = read_all(source, std::string(type) + " artifact");
      if (!content) {
        return fail(std::move(content.error()).with_key(std::string(key)));
      }
      return add(type, key, *content, /*borrowed=*/false);
    }
    CP_ASSIGN_OR_RETURN(auto index, record(type, key, source.size()));
    if (training) {
      CP_TRY(train_and_flush());
    }
    return submit_stream(index, source);
  }

  // Trains dictionaries on the buffered entries (for types without one),
  // then compresses and writes them in order.
  Result<void> train_and_flush() {
    training = false;
    std::vector<std::pair<std::string_view, ByteSpan>> samples;
    for (const auto& [index, content] : buffered) {
      samples.emplace_back(types[entries[index].type_id], content);
    }
    for (auto& [type, dict] :
         train_dictionaries(samples, 0, options.dictionary_kind)) {
      if (dictionary_of_type.count(type)) continue;
      CDictPtr cd(ZSTD_createCDict(dict.data(), dict.size(), options.level));
      if (!cd) continue;
      cdicts.push_back(std::move(cd));
      dictionaries.emplace_back(type, std::move(dict));
      dictionary_of_type[type] = static_cast<uint32_t>(dictionaries.size());
    }
    for (const auto& [index, content] : buffered) {
      CP_TRY(submit(index, content, /*borrowed=*/false));
    }
    buffered.clear();
    buffered_bytes = 0;
    return {};
  }

  // The dictionary for entry `index`, recorded in it; null for none.
  const ZSTD_CDict* choose_dictionary(size_t index) {
    EntryRecord& e = entries[index];
    auto dict = dictionary_of_type.find(types[e.type_id]);
    if (dict != dictionary_of_type.end() && options.level > 0) {
      e.dictionary = dict->second;
    }
    return e.dictionary ? cdicts[e.dictionary - 1].get() : nullptr;
  }

  // Compresses chunk `chunk` of entry `index` on this thread, or queues it
  // for the pool. `owned` holds the bytes when the caller's may go away
  // (then `piece` points into it); null when `piece` is borrowed.
  Result<void> enqueue(size_t index, size_t chunk, ByteSpan piece,
                       std::shared_ptr<Bytes> owned, const ZSTD_CDict* cdict,
                       bool want_sha) {
    int level = options.level;
    Pending p{index, chunk, {}, nullptr, piece.size()};
    if (!pool) {
      std::promise<Compressed> done;
      done.set_value(compress_chunk(cctx.get(), piece, level, cdict, want_sha,
                                    buffers.get()));
      p.result = done.get_future();
      if (owned) buffers.put(std::move(*owned));
      return retire(p);
    }
    // In flight: at most 4 chunks' worth of bytes per thread (memory stays
    // bounded), but many small entries at once, so the workers neither
    // idle behind one large chunk nor wake per entry.
    const size_t threads = static_cast<size_t>(options.threads);
    CP_TRY(drain(64 * threads - 1,
                 4 * threads * options.chunk_size - piece.size()));
    inflight_bytes += p.bytes;
    BufferPool* recycled = &buffers;
    p.input = owned;
    p.result = pool->submit([piece, owned, level, cdict, want_sha,
                             recycled](ZSTD_CCtx* cc) {
      return compress_chunk(cc, piece, level, cdict, want_sha, recycled->get());
    });
    inflight.push_back(std::move(p));
    return {};
  }

  // Hashes and compresses entry `index` (already recorded) and queues its
  // chunks for writing.
  // `borrowed`: the caller keeps `content` valid until finish(), so the
  // pool reads it in place instead of from a copy.
  Result<void> submit(size_t index, ByteSpan content, bool borrowed) {
    const ZSTD_CDict* cdict = choose_dictionary(index);
    EntryRecord& e = entries[index];
    uint64_t chunk = options.chunk_size;
    e.chunk_count = content.empty() ? 0 : (content.size() + chunk - 1) / chunk;
    if (e.chunk_count == 0) {
      e.sha256 = sha256(content);
      e.xxh3 = xxh3_128(content);
    }
    size_t chunk_count = e.chunk_count;
    bool want_sha = chunk_count == 1;
    for (size_t i = 0; i < chunk_count; ++i) {
      ByteSpan piece = content.subspan(
          i * chunk, std::min<uint64_t>(chunk, content.size() - i * chunk));
      std::shared_ptr<Bytes> owned;
      // Unless borrowed, the caller's bytes may go away after add()
      // returns: the pool works on a copy.
      if (pool && !borrowed) {
        owned = std::make_shared<Bytes>(buffers.get());
        owned->assign(piece.begin(), piece.end());
        piece = *owned;
      }
      CP_TRY(enqueue(index, i, piece, owned, cdict, want_sha));
    }
    if (chunk_count > 1) {
      // SHA-256 cannot be split across chunks: hash on this thread once the
      // chunks are queued, while the workers compress them.
      entries[index].sha256 = sha256(content);
    }
    return {};
  }

  // As submit(), reading the content chunk by chunk from `source`: one
  // chunk per thread in flight, whatever the entry's size. A source that
  // fails, or yields more or fewer bytes than it declared, makes the
  // writer unusable (the entry is already in the index).
  Result<void> submit_stream(size_t index, ContentSource& source) {
    const ZSTD_CDict* cdict = choose_dictionary(index);
    const uint64_t size = entries[index].original_size;
    const uint64_t chunk = options.chunk_size;
    const size_t chunk_count = size == 0 ? 0 : (size + chunk - 1) / chunk;
    entries[index].chunk_count = chunk_count;
    auto broken = [&](std::string why) {
      return fail(
          Error(ErrorCode::kDataLoss, ErrorReason::kLengthOverrun,
                "content of " + std::to_string(size) + " declared bytes " + why,
                ErrorLocation{.key = entries[index].key}));
    };
    Sha256 sha;
    ByteSpan pending;
    for (size_t i = 0; i < chunk_count; ++i) {
      const size_t want = std::min<uint64_t>(chunk, size - i * chunk);
      auto owned = std::make_shared<Bytes>(buffers.get());
      owned->clear();
      owned->reserve(want);
      while (owned->size() < want) {
        if (pending.empty()) {
          auto piece = source.next();
          if (!piece) {
            return fail(std::move(piece.error()).with_key(entries[index].key));
          }
          if (piece->empty()) return broken("ended early");
          pending = *piece;
        }
        size_t take = std::min(pending.size(), want - owned->size());
        owned->insert(owned->end(), pending.begin(), pending.begin() + take);
        pending = pending.subspan(take);
      }
      sha.update(*owned);
      CP_TRY(enqueue(index, i, *owned, owned, cdict, false));
    }
    if (!pending.empty()) return broken("went on past the declared size");
    auto end = source.next();  // A digest check may report here.
    if (!end) return fail(std::move(end.error()).with_key(entries[index].key));
    if (!end->empty()) return broken("went on past the declared size");
    entries[index].sha256 = sha.finish();
    if (chunk_count == 0) entries[index].xxh3 = xxh3_128(ByteSpan());
    return {};
  }

  kj::Array<capnp::word> build_index() {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<sc::BundleIndex>();
    auto t = root.initTypes(types.size());
    for (size_t i = 0; i < types.size(); ++i) t.set(i, types[i]);
    auto es = root.initEntries(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const EntryRecord& r = entries[i];
      auto e = es[i];
      e.setTypeId(r.type_id);
      e.setKey(capnp::Data::Reader(
          reinterpret_cast<const kj::byte*>(r.key.data()), r.key.size()));
      e.setOffset(r.offset);
      e.setStoredSize(r.stored_size);
      e.setOriginalSize(r.original_size);
      e.setCodec(to_schema(r.codec));
      e.setXxh3High(xxh128_high(r.xxh3));
      e.setXxh3Low(xxh128_low(r.xxh3));
      e.setSha256(capnp::Data::Reader(
          reinterpret_cast<const kj::byte*>(r.sha256.data()), 32));
      e.setDictionary(r.dictionary);
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
    std::vector<uint32_t> order(entries.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = static_cast<uint32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      const EntryRecord& x = entries[a];
      const EntryRecord& y = entries[b];
      return compare_lookup_order(x.type_id, x.key, y.type_id, y.key) < 0;
    });
    auto lookup = root.initLookup(order.size());
    for (size_t i = 0; i < order.size(); ++i) lookup.set(i, order[i]);
    auto meta = root.initMetadata();
    meta.setProducer(producer);
    meta.setProducerVersion(producer_version);
    meta.setHasCreationTime(has_creation_time);
    meta.setCreationUnixSeconds(has_creation_time ? creation_time : 0);
    auto kvs = meta.initUser(user.size());
    size_t k = 0;
    for (auto& [key, value] : user) {
      kvs[k].setKey(key);
      kvs[k].setValue(value);
      ++k;
    }
    auto ds = root.initDictionaries(dictionaries.size());
    for (size_t i = 0; i < dictionaries.size(); ++i) {
      ds[i].setType(dictionaries[i].first);
      ds[i].setContent(capnp::Data::Reader(
          reinterpret_cast<const kj::byte*>(dictionaries[i].second.data()),
          dictionaries[i].second.size()));
    }
    if (grouped) {
      auto gs = root.initGroups(groups.size());
      for (size_t i = 0; i < groups.size(); ++i) {
        gs[i].setTypeId(groups[i].type_id);
        gs[i].setCount(groups[i].count);
      }
    }
    root.setChunkSize(options.chunk_size);
    return capnp::messageToFlatArray(message);
  }

  Result<WriteStats> finish() {
    CP_TRY(check());
    if (training) {
      CP_TRY(train_and_flush());
    }
    CP_TRY(drain(0));
    pool.reset();
    static const std::byte zeros[8] = {};
    if (out.pos() % 8 != 0) {
      CP_TRY(out.write(ByteSpan(zeros, 8 - out.pos() % 8)));
    }
    kj::Array<capnp::word> index;
    try {
      index = build_index();
    } catch (const kj::Exception& e) {
      return make_error(
          ErrorCode::kInternal,
          std::string("building the index: ") + e.getDescription().cStr());
    }
    ByteSpan index_bytes = word_bytes(index);
    Footer footer;
    footer.index_offset = out.pos();
    footer.index_size = index_bytes.size();
    footer.index_xxh3 = xxh3_128(index_bytes);
    footer.previous_footer_offset = previous_footer;
    CP_TRY(out.write(index_bytes));
    Bytes signatures;
    if (!options.signing_keys.empty()) {
      auto header = encode_header(Header{});
      auto message = signature_message(header, index_bytes);
      for (const SigningKey* key : options.signing_keys) {
        CP_ASSIGN_OR_RETURN(auto sig, key->sign(message));
        PublicKey pub = key->public_key();
        append_bytes(signatures, pub);
        append_bytes(signatures, sig);
      }
      footer.signatures_offset = out.pos();
      footer.signature_count = options.signing_keys.size();
      CP_TRY(out.write(signatures));
    }
    CP_TRY(out.write(seal_footer(footer, signatures, out.pos())));
    CP_TRY(out.flush());
    stats.file_size = out.pos();
    if (replacement) {
      CP_TRY(replacement->commit(options.fsync));
    } else {
      if (options.fsync && !streaming && ::fsync(out.fd()) != 0) {
        return io_error("fsync", path, errno);
      }
      CP_TRY(out.close());
    }
    finished = true;
    stats.entries = entries.size();
    return stats;
  }
};

BundleWriter::BundleWriter(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
BundleWriter::BundleWriter(BundleWriter&&) noexcept = default;
BundleWriter& BundleWriter::operator=(BundleWriter&&) noexcept = default;
BundleWriter::~BundleWriter() = default;

Result<BundleWriter> BundleWriter::create(const std::string& path,
                                          WriterOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->path = path;
  CP_TRY(impl->setup_compression());
  CP_ASSIGN_OR_RETURN(auto file, ReplacementFile::create(path));
  impl->out = BufferedWriter::borrowing(file.fd(), file.temp_path(), 0);
  impl->replacement.emplace(std::move(file));
  auto header = encode_header(Header{});
  CP_TRY(impl->out.write(header));
  return BundleWriter(std::move(impl));
}

Result<BundleWriter> BundleWriter::to_stream(int fd, WriterOptions options,
                                             std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->path = std::move(name);
  impl->streaming = true;
  CP_TRY(impl->setup_compression());
  impl->out = BufferedWriter::borrowing(fd, impl->path, 0);
  auto header = encode_header(Header{});
  CP_TRY(impl->out.write(header));
  return BundleWriter(std::move(impl));
}

Result<BundleWriter> BundleWriter::append(const std::string& path,
                                          WriterOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->path = path;
  CP_ASSIGN_OR_RETURN(Fd fd, open_locked(path));
  {
    // Everything needed from the old index is copied out before the file
    // is truncated (the mapping must not outlive that).
    CP_ASSIGN_OR_RETURN(auto reader,
                        BundleReader::open(path, repairing_reader_options()));
    CP_TRY(check_tail(reader, path, impl->options.discard_damaged_tail));
    CP_ASSIGN_OR_RETURN(auto old, reader.entries());
    CP_ASSIGN_OR_RETURN(auto groups, reader.groups());
    CP_ASSIGN_OR_RETURN(auto dicts, reader.dictionaries());
    for (const std::string& t : reader.types()) impl->type_id(t);
    for (EntryInfo& e : old) {
      EntryRecord r;
      r.type_id = impl->type_ids.at(e.type);
      r.key = std::move(e.key);
      r.offset = e.offset;
      r.stored_size = e.stored_size;
      r.original_size = e.original_size;
      r.codec = e.codec;
      r.xxh3 = e.xxh3;
      r.sha256 = e.sha256;
      r.dictionary = e.dictionary;
      r.chunk_count = std::max<size_t>(e.chunks.size(), 1);
      if (e.chunks.size() > 1) {
        for (const ChunkInfo& c : e.chunks) {
          r.chunks.push_back({c.stored_size, c.original_size, c.codec, c.xxh3});
        }
      }
      impl->entries.push_back(std::move(r));
    }
    impl->grouped = !groups.empty() || old.empty();
    for (const GroupInfo& g : groups) {
      impl->groups.push_back({impl->type_ids.at(g.type), g.count});
    }
    for (auto& [type, dict] : dicts) {
      impl->dictionaries.emplace_back(type, std::move(dict));
      impl->dictionary_of_type[type] =
          static_cast<uint32_t>(impl->dictionaries.size());
    }
    const Metadata& m = reader.metadata();
    impl->producer = m.producer;
    impl->producer_version = m.producer_version;
    impl->user = m.user;
    if (m.creation_unix_seconds) {
      impl->has_creation_time = true;
      impl->creation_time = *m.creation_unix_seconds;
    }
    impl->previous_footer = reader.footer_offset();
    impl->append_start = reader.footer_offset() + kFooterSize;
  }
  CP_TRY(impl->setup_compression());
  // Drops what an interrupted append left after the last valid footer.
  if (::ftruncate(fd.get(), static_cast<off_t>(impl->append_start)) != 0 ||
      ::lseek(fd.get(), static_cast<off_t>(impl->append_start), SEEK_SET) < 0) {
    return io_error("truncate", path, errno);
  }
  // Only now may the writer's clean-up truncate the file back.
  impl->out = BufferedWriter(std::move(fd), path, impl->append_start);
  return BundleWriter(std::move(impl));
}

Result<void> BundleWriter::begin_group(std::string_view type) {
  CP_TRY(impl_->check());
  if (type.empty()) return invalid("artifact type is empty");
  uint32_t tid = impl_->type_id(type);
  if (impl_->grouped) {
    impl_->groups.push_back({tid, 0});
    impl_->in_group = true;
  }
  return {};
}

Result<void> BundleWriter::add(std::string_view type, std::string_view key,
                               ByteSpan content) {
  return impl_->add(type, key, content, /*borrowed=*/false);
}

Result<void> BundleWriter::add_borrowed(std::string_view type,
                                        std::string_view key,
                                        ByteSpan content) {
  return impl_->add(type, key, content, /*borrowed=*/true);
}

Result<void> BundleWriter::add_stream(std::string_view type,
                                      std::string_view key,
                                      ContentSource& content) {
  return impl_->add_stream(type, key, content);
}

Result<void> BundleWriter::flush() {
  CP_TRY(impl_->check());
  return impl_->drain(0);
}

Result<WriteStats> BundleWriter::finish() { return impl_->finish(); }

}  // namespace cachepack::bundle
