#include "cachepack/bundle_reader.h"

#include <algorithm>
#include <cstring>

#include "serializer/bundle.capnp.h"
#include "serializer/bundle_decompress.h"
#include "serializer/bundle_reader_state.h"
#include "util/file.h"

namespace cachepack::bundle {
namespace {

namespace sc = ::cachepack::bundle::schema;

// The most entries() reserves before the entries decode.
constexpr size_t kMaxReservedEntries = size_t{1} << 16;

ByteSpan data_bytes(capnp::Data::Reader d) {
  return {reinterpret_cast<const std::byte*>(d.begin()), d.size()};
}

std::string text_string(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

}  // namespace

BundleReader::BundleReader(std::unique_ptr<State> state)
    : s_(std::move(state)) {}
BundleReader::BundleReader(BundleReader&&) noexcept = default;
BundleReader& BundleReader::operator=(BundleReader&&) noexcept = default;
BundleReader::~BundleReader() = default;

Result<BundleReader> BundleReader::open(const std::string& path,
                                        ReaderOptions options) {
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  state->data = file.bytes();
  state->file.emplace(std::move(file));
  state->path = path;
  return in_file(open_state(std::move(state)), path);
}

Result<BundleReader> BundleReader::from_bytes(ByteSpan data,
                                              ReaderOptions options) {
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  state->data = data;
  return open_state(std::move(state));
}

// Opening reads the header, then the newest footer (or, when asked, the
// newest intact earlier one), the index's summary and the signatures; a
// trusted signature and the structural checks are required when asked for.
Result<BundleReader> BundleReader::open_state(std::unique_ptr<State> s) {
  CP_ASSIGN_OR_RETURN(s->header, decode_header(s->data));
  CP_TRY(s->find_footer());
  s->map_index_words();
  CP_TRY(s->read_index_summary());
  CP_TRY(s->read_signatures());
  const State* state = s.get();
  s->decompressor.emplace(
      s->data,
      [state](uint32_t number) { return state->dictionary_bytes(number); },
      s->footer.index_offset);
  s->solid_blocks.emplace(s->data);
  BundleReader reader(std::move(s));
  ReaderOptions& options = reader.s_->options;
  if (!options.trusted_keys.empty()) {
    CP_TRY(reader.require_trusted(options.trusted_keys));
    options.verify_sha256_on_read = true;
  }
  if (options.verify_structure) {
    CP_TRY(reader.verify_structure());
  }
  return reader;
}

// The newest footer is the last kFooterSize bytes. If they are not a footer
// whose index checks out, an append or sign was interrupted (or the file was
// damaged or extended after it): the previous version's footer is the last
// valid one before them.
Result<void> BundleReader::State::find_footer() {
  if (data.size() < kHeaderSize + kFooterSize) {
    return data_loss(ErrorReason::kTooShort, data.size(),
                     "file is " + std::to_string(data.size()) +
                         " bytes, too short for a header and a footer");
  }
  uint64_t last = data.size() - kFooterSize;
  auto newest = newest_footer(last);
  if (newest) {
    footer = *newest;
    footer_offset = last;
  } else {
    CP_TRY(fall_back_to_older_footer(last, newest.error()));
  }
  ignored_tail = data.size() - footer_offset - kFooterSize;
  return {};
}

// The footer at `at`, if it decodes, its index is within the size limit and
// the index matches its XXH3-128.
Result<Footer> BundleReader::State::footer_at(uint64_t at) const {
  CP_ASSIGN_OR_RETURN(Footer f, decode_footer(data, at));
  const uint64_t max_index_size = options.limits.max_index_size;
  if (f.index_size > max_index_size) {
    return over_limit(at + footer_field::kIndexSize,
                      "index of " + std::to_string(f.index_size) +
                          " bytes exceeds the limit of " +
                          std::to_string(max_index_size));
  }
  if (xxh3_128(data.subspan(f.index_offset, f.index_size)) != f.index_xxh3) {
    return data_loss(ErrorReason::kChecksumMismatch, f.index_offset,
                     "index XXH3-128 does not match the footer");
  }
  return f;
}

// The footer at `last`, the end of the file; footers are kAlignment-aligned.
Result<Footer> BundleReader::State::newest_footer(uint64_t last) const {
  if (last % kAlignment != 0) {
    return data_loss(ErrorReason::kBadFooter, last,
                     "file size " + std::to_string(data.size()) +
                         " does not end with an aligned footer");
  }
  return footer_at(last);
}

// The newest intact footer before `last` and its offset. Only aligned
// offsets that end in the footer magic are tried.
std::optional<std::pair<uint64_t, Footer>> BundleReader::State::older_footer(
    uint64_t last) const {
  for (uint64_t at = last / kAlignment * kAlignment; at >= kHeaderSize;
       at -= kAlignment) {
    if (at == last) continue;
    if (std::memcmp(data.data() + at + footer_field::kMagic,
                    kFooterMagic.data(), kFooterMagic.size()) != 0) {
      continue;
    }
    if (auto f = footer_at(at)) return std::pair{at, *f};
  }
  return std::nullopt;
}

// The newest footer failed with `newest_error`. The newest intact earlier
// footer is opened only when asked for, else named in the error, so that a
// damaged newest version is never mistaken for a missing one, nor silently
// replaced by the version before it.
Result<void> BundleReader::State::fall_back_to_older_footer(
    uint64_t last, const Error& newest_error) {
  auto older = older_footer(last);
  if (!older) return tl::unexpected(newest_error);
  auto [at, f] = *older;
  if (!options.allow_older_version) {
    uint64_t tail = data.size() - at - kFooterSize;
    std::string message = "newest version: " + newest_error.message() +
                          "; the " + std::to_string(tail) +
                          " bytes after the intact footer at offset " +
                          std::to_string(at) +
                          " are not a valid newer version (refusing to "
                          "fall back to an older version; "
                          "--allow-older-version opens it)";
    return make_error(newest_error.code(), newest_error.reason(),
                      std::move(message), newest_error.where());
  }
  footer = f;
  footer_offset = at;
  return {};
}

// The index as Cap'n Proto words: in place when it is word-aligned in
// memory, else copied once (a from_bytes buffer need not be aligned).
void BundleReader::State::map_index_words() {
  ByteSpan index = index_bytes();
  if (reinterpret_cast<uintptr_t>(index.data()) % sizeof(capnp::word) == 0) {
    words = kj::ArrayPtr<const capnp::word>(
        reinterpret_cast<const capnp::word*>(index.data()),
        index.size() / sizeof(capnp::word));
  } else {
    aligned = kj::heapArray<capnp::word>(index.size() / sizeof(capnp::word));
    std::memcpy(aligned.begin(), index.data(), index.size());
    words = kj::ArrayPtr<const capnp::word>(aligned.begin(), aligned.size());
  }
}

// What the reader keeps from the index for its lifetime: type names, the
// entry and dictionary counts (checked against the limits and the lookup
// table), the chunk size and the metadata. Entries decode when used.
Result<void> BundleReader::State::read_index_summary() {
  return with_index([&](sc::BundleIndex::Reader root) -> Result<void> {
    CP_TRY(read_types(root.getTypes()));
    CP_TRY(read_counts(root));
    chunk_size = root.getChunkSize();
    read_metadata(root.getMetadata());
    return {};
  });
}

Result<void> BundleReader::State::read_types(
    capnp::List<capnp::Text>::Reader names) {
  for (auto t : names) {
    if (t.size() == 0) return bad_index("empty type name");
    types.push_back(text_string(t));
  }
  return {};
}

Result<void> BundleReader::State::read_counts(sc::BundleIndex::Reader root) {
  const ReaderLimits& lim = options.limits;
  const uint64_t at = footer.index_offset;
  auto entries = root.getEntries();
  if (entries.size() > lim.max_entries) {
    return over_limit(at, "bundle declares " + std::to_string(entries.size()) +
                              " entries, over the limit of " +
                              std::to_string(lim.max_entries));
  }
  entry_count = entries.size();
  if (root.getLookup().size() != entries.size()) {
    return bad_index(
        "lookup table has " + std::to_string(root.getLookup().size()) +
        " positions for " + std::to_string(entries.size()) + " entries");
  }
  block_count = root.getBlocks().size();
  if (block_count > lim.max_entries) {
    return over_limit(at, "bundle declares " + std::to_string(block_count) +
                              " solid blocks, over the limit of " +
                              std::to_string(lim.max_entries));
  }
  if (block_count > 0 && (header.flags & kFlagSolidBlocks) == 0) {
    return bad_index(
        "index lists solid blocks, but the header has no solid-blocks flag");
  }
  dictionary_count = root.getDictionaries().size();
  for (auto d : root.getDictionaries()) {
    if (d.getContent().size() > lim.max_dictionary_size) {
      return over_limit(at, "dictionary over the size limit");
    }
  }
  return {};
}

void BundleReader::State::read_metadata(sc::Metadata::Reader meta) {
  metadata.producer = text_string(meta.getProducer());
  metadata.producer_version = text_string(meta.getProducerVersion());
  if (meta.getHasCreationTime()) {
    metadata.creation_unix_seconds = meta.getCreationUnixSeconds();
  }
  for (auto kv : meta.getUser()) {
    metadata.user[text_string(kv.getKey())] = text_string(kv.getValue());
  }
}

// Each signature record, verified over the header and the index; whether
// its key is trusted is require_trusted's question.
Result<void> BundleReader::State::read_signatures() {
  const uint64_t count = footer.signature_count;
  if (count > options.limits.max_signatures) {
    return over_limit(footer_offset + footer_field::kSignatureCount,
                      "bundle carries " + std::to_string(count) +
                          " signatures, over the limit of " +
                          std::to_string(options.limits.max_signatures));
  }
  if (count == 0) return {};
  auto message = signature_message(data.first(kHeaderSize), index_bytes());
  for (uint64_t i = 0; i < count; ++i) {
    const std::byte* rec =
        data.data() + footer.signatures_offset + i * kSignatureRecordSize;
    SignatureInfo sig;
    std::memcpy(sig.public_key.data(), rec, kPublicKeySize);
    std::memcpy(sig.signature.data(), rec + kPublicKeySize, kSignatureSize);
    sig.valid = verify_signature(sig.public_key, message, sig.signature);
    signatures.push_back(sig);
  }
  return {};
}

const std::string& BundleReader::path() const { return s_->path; }
uint64_t BundleReader::file_size() const { return s_->data.size(); }
const Header& BundleReader::header() const { return s_->header; }
const Footer& BundleReader::footer() const { return s_->footer; }
uint64_t BundleReader::footer_offset() const { return s_->footer_offset; }
uint64_t BundleReader::ignored_tail() const { return s_->ignored_tail; }
uint64_t BundleReader::chunk_size() const { return s_->chunk_size; }
size_t BundleReader::size() const { return s_->entry_count; }
const std::vector<std::string>& BundleReader::types() const {
  return s_->types;
}
const Metadata& BundleReader::metadata() const { return s_->metadata; }
const std::vector<SignatureInfo>& BundleReader::signatures() const {
  return s_->signatures;
}

Result<std::vector<GroupInfo>> BundleReader::groups() const {
  return s_->named(s_->with_index(
      [&](sc::BundleIndex::Reader root) -> Result<std::vector<GroupInfo>> {
        std::vector<GroupInfo> out;
        for (auto g : root.getGroups()) {
          if (g.getTypeId() >= s_->types.size()) {
            return s_->bad_index("group names type " +
                                 std::to_string(g.getTypeId()) + " of " +
                                 std::to_string(s_->types.size()));
          }
          out.push_back({s_->types[g.getTypeId()], g.getCount()});
        }
        return out;
      }));
}

Result<std::vector<std::pair<std::string, Bytes>>> BundleReader::dictionaries()
    const {
  using Out = std::vector<std::pair<std::string, Bytes>>;
  return s_->named(
      s_->with_index([&](sc::BundleIndex::Reader root) -> Result<Out> {
        Out out;
        for (auto d : root.getDictionaries()) {
          ByteSpan content = data_bytes(d.getContent());
          out.emplace_back(text_string(d.getType()),
                           Bytes(content.begin(), content.end()));
        }
        return out;
      }));
}

Result<std::vector<ChunkInfo>> BundleReader::blocks() const {
  return s_->named(s_->with_index(
      [&](sc::BundleIndex::Reader root) -> Result<std::vector<ChunkInfo>> {
        std::vector<ChunkInfo> out;
        out.reserve(std::min<size_t>(s_->block_count, kMaxReservedEntries));
        auto list = root.getBlocks();
        for (size_t n = 1; n <= list.size(); ++n) {
          CP_ASSIGN_OR_RETURN(auto b,
                              s_->decode_block(list, static_cast<uint32_t>(n)));
          out.push_back(b);
        }
        return out;
      }));
}

Result<EntryInfo> BundleReader::entry(size_t position) const {
  return s_->named(s_->with_index([&](sc::BundleIndex::Reader root) {
    return s_->decode_entry(root.getEntries(), root.getBlocks(), position);
  }));
}

Result<std::vector<EntryInfo>> BundleReader::entries() const {
  return s_->named(s_->with_index(
      [&](sc::BundleIndex::Reader root) -> Result<std::vector<EntryInfo>> {
        auto list = root.getEntries();
        auto blocks = root.getBlocks();
        std::vector<EntryInfo> out;
        // The count is untrusted until the entries decode: no large
        // allocation on its word alone.
        out.reserve(std::min<size_t>(list.size(), kMaxReservedEntries));
        for (size_t i = 0; i < list.size(); ++i) {
          CP_ASSIGN_OR_RETURN(auto e, s_->decode_entry(list, blocks, i));
          out.push_back(std::move(e));
        }
        return out;
      }));
}

Result<std::optional<size_t>> BundleReader::State::find(
    sc::BundleIndex::Reader root, std::string_view type,
    std::string_view key) const {
  auto it = std::find(types.begin(), types.end(), type);
  if (it == types.end()) return std::optional<size_t>();
  uint32_t type_id = static_cast<uint32_t>(it - types.begin());
  auto entries = root.getEntries();
  auto lookup = root.getLookup();
  // Upper bound of (type_id, key): the last position with that pair sits
  // just before it. An unsorted (corrupt) table only makes lookups miss.
  size_t lo = 0, hi = lookup.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint32_t pos = lookup[mid];
    if (pos >= entries.size()) {
      return bad_index("lookup table names entry " + std::to_string(pos) +
                       " of " + std::to_string(entries.size()));
    }
    if (compare_to(entries[pos], type_id, key) <= 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return std::optional<size_t>();
  uint32_t pos = lookup[lo - 1];
  if (compare_to(entries[pos], type_id, key) != 0) {
    return std::optional<size_t>();
  }
  return std::optional<size_t>(pos);
}

Result<std::optional<size_t>> BundleReader::find(std::string_view type,
                                                 std::string_view key) const {
  return s_->named(s_->with_index(
      [&](sc::BundleIndex::Reader root) { return s_->find(root, type, key); }));
}

// The dictionary bytes stay valid after the message reader is gone: they
// lie in the index words, which the state owns or maps.
Result<ByteSpan> BundleReader::State::dictionary_bytes(uint32_t number) const {
  return with_index([&](sc::BundleIndex::Reader root) -> Result<ByteSpan> {
    auto dicts = root.getDictionaries();
    if (number == 0 || number > dicts.size()) {
      return bad_index("no dictionary " + std::to_string(number));
    }
    return data_bytes(dicts[number - 1].getContent());
  });
}

Result<Bytes> BundleReader::read(const EntryInfo& entry) const {
  if (entry.block != 0) return read_solid(entry);
  ByteSpan stored = s_->data.subspan(entry.offset, entry.stored_size);
  if (xxh3_128(stored) != entry.xxh3) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
        "stored bytes of entry " + std::to_string(entry.position) +
            " do not match their XXH3-128",
        ErrorLocation{
            .file = s_->path, .offset = entry.offset, .key = entry.key});
  }
  auto out = s_->decompressor->decompress_entry(entry, s_->options.threads);
  if (!out) {
    return tl::unexpected(
        std::move(out.error()).in_file(s_->path).with_key(entry.key));
  }
  return checked_content(entry, std::move(*out));
}

// An entry of a solid block: the block is checked and decompressed (once,
// then kept for a while) up to the entry's end.
Result<Bytes> BundleReader::read_solid(const EntryInfo& entry) const {
  auto out = s_->solid_blocks->read(entry.block, entry.block_data,
                                    entry.block_offset, entry.original_size);
  if (!out) {
    return tl::unexpected(
        std::move(out.error()).in_file(s_->path).with_key(entry.key));
  }
  return checked_content(entry, std::move(*out));
}

// `content`, read for `entry`, unless verify_sha256_on_read finds that it
// is not what was written.
Result<Bytes> BundleReader::checked_content(const EntryInfo& entry,
                                            Bytes content) const {
  if (!s_->options.verify_sha256_on_read || sha256(content) == entry.sha256) {
    return content;
  }
  std::string where = entry.block == 0 ? ""
                                       : " (in solid block " +
                                             std::to_string(entry.block) + ")";
  return make_error(
      ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
      "content of entry " + std::to_string(entry.position) + where +
          " does not match its SHA-256",
      ErrorLocation{
          .file = s_->path, .offset = entry.offset, .key = entry.key});
}

Result<Bytes> BundleReader::read(size_t position) const {
  CP_ASSIGN_OR_RETURN(auto e, entry(position));
  return read(e);
}

Result<std::optional<Bytes>> BundleReader::get(std::string_view type,
                                               std::string_view key) const {
  auto lookup =
      [&](sc::BundleIndex::Reader root) -> Result<std::optional<EntryInfo>> {
    CP_ASSIGN_OR_RETURN(auto pos, s_->find(root, type, key));
    if (!pos) return std::optional<EntryInfo>();
    CP_ASSIGN_OR_RETURN(
        auto info, s_->decode_entry(root.getEntries(), root.getBlocks(), *pos));
    return std::optional<EntryInfo>(std::move(info));
  };
  CP_ASSIGN_OR_RETURN(auto e, s_->named(s_->with_index(lookup)));
  if (!e) return std::optional<Bytes>();
  CP_ASSIGN_OR_RETURN(auto content, read(*e));
  return std::optional<Bytes>(std::move(content));
}

Result<Bytes> BundleReader::read_chunk(const EntryInfo& entry,
                                       size_t chunk) const {
  if (entry.block != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "entry " + std::to_string(entry.position) +
                          " is in solid block " + std::to_string(entry.block) +
                          " and has no chunks of its own",
                      ErrorLocation{.file = s_->path, .key = entry.key});
  }
  if (chunk >= entry.chunks.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "chunk " + std::to_string(chunk) + " of an entry with " +
                          std::to_string(entry.chunks.size()) + " chunks",
                      ErrorLocation{.file = s_->path, .key = entry.key});
  }
  const ChunkInfo& c = entry.chunks[chunk];
  if (xxh3_128(s_->data.subspan(c.offset, c.stored_size)) != c.xxh3) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
        "stored bytes of chunk " + std::to_string(chunk) +
            " do not match their XXH3-128",
        ErrorLocation{.file = s_->path, .offset = c.offset, .key = entry.key});
  }
  Bytes out(c.original_size);
  if (auto ok = s_->decompressor->decompress(c, entry.dictionary, out.data());
      !ok) {
    return tl::unexpected(
        std::move(ok.error()).in_file(s_->path).with_key(entry.key));
  }
  return out;
}

Result<Bytes> BundleReader::read_range(const EntryInfo& entry, uint64_t offset,
                                       uint64_t length) const {
  if (offset > entry.original_size || length > entry.original_size - offset) {
    return make_error(ErrorCode::kInvalidArgument,
                      "range [" + std::to_string(offset) + ", +" +
                          std::to_string(length) + ") is outside the " +
                          std::to_string(entry.original_size) + "-byte entry",
                      ErrorLocation{.file = s_->path, .key = entry.key});
  }
  if (entry.block != 0) {
    // Entries in blocks are at most a chunk: read whole, then cut.
    CP_ASSIGN_OR_RETURN(auto whole, read_solid(entry));
    return Bytes(whole.begin() + static_cast<ptrdiff_t>(offset),
                 whole.begin() + static_cast<ptrdiff_t>(offset + length));
  }
  Bytes out;
  out.reserve(length);
  uint64_t chunk_start = 0;
  for (size_t i = 0; i < entry.chunks.size() && out.size() < length; ++i) {
    uint64_t chunk_end = chunk_start + entry.chunks[i].original_size;
    if (chunk_end > offset) {
      CP_ASSIGN_OR_RETURN(auto part, read_chunk(entry, i));
      uint64_t from = offset + out.size() - chunk_start;
      uint64_t n = std::min<uint64_t>(part.size() - from, length - out.size());
      out.insert(out.end(), part.begin() + from, part.begin() + from + n);
    }
    chunk_start = chunk_end;
  }
  return out;
}

Result<void> BundleReader::require_trusted(
    std::span<const PublicKey> trusted) const {
  if (s_->signatures.empty()) {
    return make_error(ErrorCode::kPermissionDenied, ErrorReason::kSignature,
                      "bundle is not signed but a trusted signature is "
                      "required",
                      ErrorLocation{.file = s_->path});
  }
  for (const SignatureInfo& sig : s_->signatures) {
    if (!sig.valid) continue;
    for (const PublicKey& key : trusted) {
      if (key == sig.public_key) return {};
    }
  }
  bool any_valid = std::any_of(s_->signatures.begin(), s_->signatures.end(),
                               [](const SignatureInfo& s) { return s.valid; });
  return make_error(
      ErrorCode::kPermissionDenied, ErrorReason::kSignature,
      any_valid ? "no valid signature by a trusted key"
                : "signature does not verify",
      ErrorLocation{.file = s_->path, .offset = s_->footer.signatures_offset});
}

}  // namespace cachepack::bundle
