#include "cachepack/bundle_writer.h"

#include <capnp/common.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <map>
#include <utility>

#include "cachepack/bundle_reader.h"
#include "cachepack/hash.h"
#include "serializer/bundle_compression.h"
#include "serializer/bundle_file.h"
#include "serializer/bundle_index.h"
#include "util/file.h"
#include "util/file_lock.h"

namespace cachepack::bundle {
namespace {

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

// A chunk or solid block handed to compression, waiting to be written in
// order.
struct Pending {
  size_t entry;
  size_t chunk;
  std::future<Compressed> result;
  std::shared_ptr<Bytes> input;  // The pool's copy, recycled when retired;
                                 // null for borrowed content.
  uint64_t bytes = 0;            // Input bytes of the chunk.
  uint32_t block = 0;            // A solid block's number, else 0,
  std::vector<size_t> members;   // and its entries, in order.
};

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
  Header header;           // As written at offset 0.
  BufferedWriter out;
  uint64_t append_start = 0;  // Old bundle's end, when appending.
  uint64_t previous_footer = 0;
  bool finished = false;
  std::optional<Error> failure;

  IndexBuilder index;
  std::vector<CDictPtr> cdicts;  // By dictionary number - 1.

  // Solid blocks (options.solid_block_size): small entries are copied into
  // the open block, compressed together when it is full.
  bool solid = false;
  uint32_t open_block = 0;  // Its number, 0 when none is open.
  Bytes block_content;
  std::vector<size_t> block_members;

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

  // Checks the options, then makes ready to compress: the dictionaries
  // (the bundle's own, then the options' for other types), the contexts
  // and threads, and the metadata to record.
  Result<void> setup() {
    CP_TRY(check_options());
    CP_TRY(load_dictionaries());
    training = options.train_dictionaries_bytes > 0 && options.level > 0;
    solid = options.solid_block_size > 0 && options.level > 0;
    cctx.reset(ZSTD_createCCtx());
    if (options.threads > 1) {
      pool = std::make_unique<CompressionPool>(options.threads);
    }
    index.merge_metadata(options.user_metadata, options.creation_unix_seconds);
    return {};
  }

  Result<void> check_options() const {
    if (options.level < 0 || options.level > ZSTD_maxCLevel()) {
      return invalid("compression level " + std::to_string(options.level) +
                     " is outside 0.." + std::to_string(ZSTD_maxCLevel()));
    }
    if (options.threads < 1 || options.threads > kMaxWriterThreads) {
      return invalid("thread count must be 1.." +
                     std::to_string(kMaxWriterThreads));
    }
    if (options.chunk_size < kMinChunkSize ||
        options.chunk_size > kMaxChunkSize) {
      return invalid("chunk size must be " + size_text(kMinChunkSize) + ".." +
                     size_text(kMaxChunkSize));
    }
    if (options.solid_block_size != 0 &&
        (options.solid_block_size < kMinChunkSize ||
         options.solid_block_size > kMaxChunkSize)) {
      return invalid("solid block size must be 0 (off) or " +
                     size_text(kMinChunkSize) + ".." +
                     size_text(kMaxChunkSize));
    }
    return {};
  }

  Result<void> load_dictionaries() {
    for (auto& [type, dict] : options.dictionaries) {
      if (index.dictionary_of(type)) continue;  // The bundle's wins.
      index.add_dictionary(type, dict);
    }
    for (auto& [type, dict] : index.dictionaries()) {
      CDictPtr cd(ZSTD_createCDict(dict.data(), dict.size(),
                                   std::max(options.level, 1)));
      if (!cd) return invalid("dictionary for type " + type + " is unusable");
      cdicts.push_back(std::move(cd));
    }
    return {};
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

  // Writes a compressed chunk, which must be the next one in file order,
  // and records it in its entry.
  Result<void> retire(Pending& p) {
    Compressed c = p.result.get();
    if (p.input) buffers.put(std::move(*p.input));
    if (p.block != 0) return retire_block(p, c);
    EntryRecord& e = index.entry(p.entry);
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

  // Writes a compressed solid block and records it and its entries'
  // SHA-256.
  Result<void> retire_block(const Pending& p, Compressed& c) {
    BlockRecord& b = index.block(p.block);
    b.offset = out.pos();
    ByteSpan stored = c.stored();
    if (auto ok = out.write(stored); !ok) return fail(ok.error());
    b.stored_size = stored.size();
    b.original_size = c.original_size;
    b.codec = c.codec;
    b.xxh3 = c.xxh3;
    stats.stored_bytes += stored.size();
    for (size_t i = 0; i < p.members.size(); ++i) {
      index.entry(p.members[i]).sha256 = c.entry_sha256[i];
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
    CP_ASSIGN_OR_RETURN(size_t position,
                        index.add_entry(index.type_id(type), key, size));
    ++stats.added;
    stats.original_bytes += size;
    return position;
  }

  Result<void> add(std::string_view type, std::string_view key,
                   ByteSpan content, bool borrowed) {
    CP_ASSIGN_OR_RETURN(auto position, record(type, key, content.size()));
    if (training) {
      if (buffered_bytes + content.size() <= options.train_dictionaries_bytes) {
        buffered.emplace_back(position, Bytes(content.begin(), content.end()));
        buffered_bytes += content.size();
        return {};
      }
      CP_TRY(train_and_flush());
    }
    return submit(position, content, borrowed);
  }

  Result<void> add_stream(std::string_view type, std::string_view key,
                          ContentSource& source) {
    if ((training &&
         buffered_bytes + source.size() <= options.train_dictionaries_bytes) ||
        (solid && fits_block(type, source.size()))) {
      // Held back for dictionary training, or copied into a solid block
      // (at most a chunk), anyway: read it whole.
      auto content = read_all(source, std::string(type) + " artifact");
      if (!content) {
        return fail(std::move(content.error()).with_key(std::string(key)));
      }
      return add(type, key, *content, /*borrowed=*/false);
    }
    CP_ASSIGN_OR_RETURN(auto position, record(type, key, source.size()));
    if (training) {
      CP_TRY(train_and_flush());
    }
    return submit_stream(position, source);
  }

  // Trains dictionaries on the buffered entries (for types without one),
  // then compresses and writes them in order.
  Result<void> train_and_flush() {
    training = false;
    std::vector<std::pair<std::string_view, ByteSpan>> samples;
    for (const auto& [position, content] : buffered) {
      samples.emplace_back(index.type_name(index.entry(position).type_id),
                           content);
    }
    for (auto& [type, dict] :
         train_dictionaries(samples, 0, options.dictionary_kind)) {
      if (index.dictionary_of(type)) continue;
      CDictPtr cd(ZSTD_createCDict(dict.data(), dict.size(), options.level));
      if (!cd) continue;
      cdicts.push_back(std::move(cd));
      index.add_dictionary(type, std::move(dict));
    }
    for (const auto& [position, content] : buffered) {
      CP_TRY(submit(position, content, /*borrowed=*/false));
    }
    buffered.clear();
    buffered_bytes = 0;
    return {};
  }

  // The dictionary for entry `position`, recorded in it; null for none.
  const ZSTD_CDict* choose_dictionary(size_t position) {
    EntryRecord& e = index.entry(position);
    auto dict = index.dictionary_of(index.type_name(e.type_id));
    if (dict && options.level > 0) e.dictionary = *dict;
    return e.dictionary ? cdicts[e.dictionary - 1].get() : nullptr;
  }

  // Runs `task` on this thread, or queues it for the pool, and writes its
  // result in order. `owned` holds the input when the caller's may go away;
  // null when the input is borrowed.
  Result<void> enqueue_task(Pending p, std::shared_ptr<Bytes> owned,
                            std::function<Compressed(ZSTD_CCtx*)> task) {
    if (!pool) {
      std::promise<Compressed> done;
      done.set_value(task(cctx.get()));
      p.result = done.get_future();
      if (owned) buffers.put(std::move(*owned));
      return retire(p);
    }
    // In flight: at most 2 chunks' (or blocks') worth of bytes per thread
    // (memory stays bounded), but many small entries at once, so the
    // workers neither idle behind one large chunk nor wake per entry.
    const size_t threads = static_cast<size_t>(options.threads);
    const uint64_t budget =
        2 * threads * std::max(options.chunk_size, options.solid_block_size);
    CP_TRY(drain(64 * threads - 1,
                 budget > p.bytes ? budget - p.bytes : uint64_t{0}));
    inflight_bytes += p.bytes;
    p.input = std::move(owned);
    p.result = pool->submit(std::move(task));
    inflight.push_back(std::move(p));
    return {};
  }

  // Compresses chunk `chunk` of entry `position` on this thread, or queues
  // it for the pool. `owned` holds the bytes when the caller's may go away
  // (then `piece` points into it); null when `piece` is borrowed.
  Result<void> enqueue(size_t position, size_t chunk, ByteSpan piece,
                       std::shared_ptr<Bytes> owned, const ZSTD_CDict* cdict,
                       bool want_sha) {
    int level = options.level;
    BufferPool* recycled = &buffers;
    Pending p{position, chunk, {}, nullptr, piece.size()};
    return enqueue_task(
        std::move(p), owned,
        [piece, owned, level, cdict, want_sha, recycled](ZSTD_CCtx* cc) {
          return compress_chunk(cc, piece, level, cdict, want_sha,
                                recycled->get());
        });
  }

  // Whether an entry of `type` and `size` bytes goes into a solid block:
  // it is not empty, not chunked, fits a block, and its type has no
  // dictionary (a dictionary already gives a small entry what a block
  // would; FORMAT.md, "Solid blocks").
  bool fits_block(std::string_view type, uint64_t size) const {
    return size > 0 && size <= options.chunk_size &&
           size <= options.solid_block_size && !index.dictionary_of(type);
  }

  // Copies entry `position` into the open solid block (closing it first if
  // the entry would not fit, opening one if none is open).
  Result<void> add_to_block(size_t position, ByteSpan content) {
    if (open_block != 0 &&
        block_content.size() + content.size() > options.solid_block_size) {
      CP_TRY(close_block());
    }
    if (open_block == 0) open_block = index.add_block();
    EntryRecord& e = index.entry(position);
    e.block = open_block;
    e.offset = block_content.size();
    e.chunk_count = 1;
    block_content.insert(block_content.end(), content.begin(), content.end());
    block_members.push_back(position);
    return {};
  }

  // Queues the open solid block for compression. A block of one entry is
  // taken back: that entry is stored on its own, as without blocks.
  Result<void> close_block() {
    if (open_block == 0) return {};
    const uint32_t number = open_block;
    open_block = 0;
    std::vector<size_t> members = std::move(block_members);
    block_members.clear();
    auto content = std::make_shared<Bytes>(std::move(block_content));
    block_content = buffers.get();
    block_content.clear();
    if (members.size() == 1) {
      index.drop_last_block();
      EntryRecord& e = index.entry(members.front());
      e.block = 0;
      e.offset = kHeaderSize;
      CP_TRY(submit_alone(members.front(), *content, /*borrowed=*/false));
      buffers.put(std::move(*content));
      return {};
    }
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (size_t m : members) {
      ranges.emplace_back(index.entry(m).offset, index.entry(m).original_size);
    }
    const int level = options.level;
    BufferPool* recycled = &buffers;
    Pending p{members.front(), 0, {}, nullptr, content->size()};
    p.block = number;
    p.members = std::move(members);
    return enqueue_task(
        std::move(p), content,
        [content, ranges = std::move(ranges), level, recycled](ZSTD_CCtx* cc) {
          return compress_block(cc, *content, level, ranges, recycled->get());
        });
  }

  // Queues entry `position` (already recorded) for writing: into the open
  // solid block if it goes there, else on its own.
  Result<void> submit(size_t position, ByteSpan content, bool borrowed) {
    if (solid && fits_block(index.type_name(index.entry(position).type_id),
                            content.size())) {
      return add_to_block(position, content);
    }
    return submit_alone(position, content, borrowed);
  }

  // Hashes and compresses entry `position` (already recorded) and queues
  // its chunks for writing.
  // `borrowed`: the caller keeps `content` valid until finish(), so the
  // pool reads it in place instead of from a copy.
  Result<void> submit_alone(size_t position, ByteSpan content, bool borrowed) {
    const ZSTD_CDict* cdict = choose_dictionary(position);
    EntryRecord& e = index.entry(position);
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
      CP_TRY(enqueue(position, i, piece, owned, cdict, want_sha));
    }
    if (chunk_count > 1) {
      // SHA-256 cannot be split across chunks: hash on this thread once the
      // chunks are queued, while the workers compress them.
      index.entry(position).sha256 = sha256(content);
    }
    return {};
  }

  // As submit(), reading the content chunk by chunk from `source`: one
  // chunk per thread in flight, whatever the entry's size. A source that
  // fails, or yields more or fewer bytes than it declared, makes the
  // writer unusable (the entry is already in the index).
  Result<void> submit_stream(size_t position, ContentSource& source) {
    const ZSTD_CDict* cdict = choose_dictionary(position);
    const uint64_t size = index.entry(position).original_size;
    const uint64_t chunk = options.chunk_size;
    const size_t chunk_count = size == 0 ? 0 : (size + chunk - 1) / chunk;
    index.entry(position).chunk_count = chunk_count;
    const std::string& key = index.entry(position).key;
    auto broken = [&](std::string why) {
      return fail(
          Error(ErrorCode::kDataLoss, ErrorReason::kLengthOverrun,
                "content of " + std::to_string(size) + " declared bytes " + why,
                ErrorLocation{.key = key}));
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
          if (!piece) return fail(std::move(piece.error()).with_key(key));
          if (piece->empty()) return broken("ended early");
          pending = *piece;
        }
        size_t take = std::min(pending.size(), want - owned->size());
        owned->insert(owned->end(), pending.begin(), pending.begin() + take);
        pending = pending.subspan(take);
      }
      sha.update(*owned);
      CP_TRY(enqueue(position, i, *owned, owned, cdict, false));
    }
    if (!pending.empty()) return broken("went on past the declared size");
    auto end = source.next();  // A digest check may report here.
    if (!end) return fail(std::move(end.error()).with_key(key));
    if (!end->empty()) return broken("went on past the declared size");
    index.entry(position).sha256 = sha.finish();
    if (chunk_count == 0) index.entry(position).xxh3 = xxh3_128(ByteSpan());
    return {};
  }

  // Writes what is still held back or in flight, then the index, the
  // signatures and the footer, and puts the file in place.
  Result<WriteStats> finish() {
    CP_TRY(check());
    if (training) {
      CP_TRY(train_and_flush());
    }
    CP_TRY(close_block());
    CP_TRY(drain(0));
    pool.reset();
    CP_TRY(pad_to_word());
    CP_ASSIGN_OR_RETURN(
        auto words,
        index.encode(options.chunk_size, solid ? options.solid_block_size : 0));
    ByteSpan index_bytes = word_bytes(words);
    Footer footer;
    footer.index_offset = out.pos();
    footer.index_size = index_bytes.size();
    footer.index_xxh3 = xxh3_128(index_bytes);
    footer.previous_footer_offset = previous_footer;
    CP_TRY(out.write(index_bytes));
    Bytes signatures;
    if (!options.signing_keys.empty()) {
      CP_ASSIGN_OR_RETURN(signatures, sign_index(index_bytes));
      footer.signatures_offset = out.pos();
      footer.signature_count = options.signing_keys.size();
      CP_TRY(out.write(signatures));
    }
    CP_TRY(out.write(seal_footer(footer, signatures, out.pos())));
    CP_TRY(out.flush());
    stats.file_size = out.pos();
    CP_TRY(commit());
    finished = true;
    stats.entries = index.size();
    return stats;
  }

  // A new bundle's header: the solid-blocks flag when blocks may be
  // written, so that readers without them refuse the bundle.
  Result<void> write_header() {
    header = Header{};
    if (solid) header.flags |= kFlagSolidBlocks;
    return out.write(encode_header(header));
  }

  // The index starts on an 8-byte boundary (Cap'n Proto words).
  Result<void> pad_to_word() {
    static const std::byte zeros[8] = {};
    if (out.pos() % 8 == 0) return {};
    return out.write(ByteSpan(zeros, 8 - out.pos() % 8));
  }

  // The signature block: (public key, signature) per signing key.
  Result<Bytes> sign_index(ByteSpan index_bytes) const {
    auto message = signature_message(encode_header(header), index_bytes);
    Bytes signatures;
    for (const SigningKey* key : options.signing_keys) {
      CP_ASSIGN_OR_RETURN(auto sig, key->sign(message));
      PublicKey pub = key->public_key();
      append_bytes(signatures, pub);
      append_bytes(signatures, sig);
    }
    return signatures;
  }

  // A new bundle is renamed into place; an append is fsynced if asked and
  // closed; a stream is left to its owner.
  Result<void> commit() {
    if (replacement) return replacement->commit(options.fsync);
    if (options.fsync && !streaming && ::fsync(out.fd()) != 0) {
      return io_error("fsync", path, errno);
    }
    return out.close();
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
  CP_TRY(impl->setup());
  CP_ASSIGN_OR_RETURN(auto file, ReplacementFile::create(path));
  impl->out = BufferedWriter::borrowing(file.fd(), file.temp_path(), 0);
  impl->replacement.emplace(std::move(file));
  CP_TRY(impl->write_header());
  return BundleWriter(std::move(impl));
}

Result<BundleWriter> BundleWriter::to_stream(int fd, WriterOptions options,
                                             std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->path = std::move(name);
  impl->streaming = true;
  CP_TRY(impl->setup());
  impl->out = BufferedWriter::borrowing(fd, impl->path, 0);
  CP_TRY(impl->write_header());
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
    CP_ASSIGN_OR_RETURN(impl->index, IndexBuilder::of_bundle(reader));
    impl->header = reader.header();
    impl->previous_footer = reader.footer_offset();
    impl->append_start = reader.footer_offset() + kFooterSize;
  }
  CP_TRY(impl->setup());
  // The header is never rewritten: new entries go into solid blocks only
  // if the bundle already says it may hold them.
  impl->solid = impl->solid && (impl->header.flags & kFlagSolidBlocks) != 0;
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
  impl_->index.begin_group(impl_->index.type_id(type));
  return {};
}

Result<void> BundleWriter::add(std::string_view type, std::string_view key,
                               ByteSpan content) {
  CP_TRY(impl_->add(type, key, content, /*borrowed=*/false));
  report_progress();
  return {};
}

Result<void> BundleWriter::add_borrowed(std::string_view type,
                                        std::string_view key,
                                        ByteSpan content) {
  CP_TRY(impl_->add(type, key, content, /*borrowed=*/true));
  report_progress();
  return {};
}

Result<void> BundleWriter::add_stream(std::string_view type,
                                      std::string_view key,
                                      ContentSource& content) {
  CP_TRY(impl_->add_stream(type, key, content));
  report_progress();
  return {};
}

void BundleWriter::report_progress() {
  if (impl_->options.progress) impl_->options.progress(impl_->stats);
}

Result<void> BundleWriter::flush() {
  CP_TRY(impl_->check());
  return impl_->drain(0);
}

Result<WriteStats> BundleWriter::finish() { return impl_->finish(); }

}  // namespace cachepack::bundle
