// push_bundle / pull_bundle (cachepack/ship.h): a bundle split into its
// entries' stored bytes (content-addressed blobs) and the rest of its bytes
// (the manifest), and put back together byte for byte.
#include "cachepack/ship.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/hash.h"
#include "serializer/bundle_compression.h"
#include "util/file.h"
#include "util/file_lock.h"
#include "util/text.h"

namespace cachepack {
namespace {

constexpr std::string_view kManifestFormat = "cachepack-ship/1";
constexpr size_t kMaxNameSize = 1024;
// The level cachepack's writer uses by default (WriterOptions::level):
// the one --have can compress again to the same bytes.
constexpr int kDefaultLevel = 3;

std::string hex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    out.push_back(kDigits[static_cast<uint8_t>(b) >> 4]);
    out.push_back(kDigits[static_cast<uint8_t>(b) & 15]);
  }
  return out;
}

// The blob name of an entry: both digests the index records for it. An
// entry in a solid block names the block's blob instead: its stored
// XXH3-128 and decompressed size (the block's entries' SHA-256 are checked
// when the rebuilt bundle is).
std::string blob_key(const bundle::EntryInfo& e) {
  if (e.block != 0) {
    return "block-" + hex(e.block_data.xxh3) + "-" +
           std::to_string(e.block_data.original_size);
  }
  return hex(e.sha256) + hex(e.xxh3);
}

// The stored range an entry's blob fills: its own, or its solid block's.
std::pair<uint64_t, uint64_t> stored_range(const bundle::EntryInfo& e) {
  if (e.block != 0) return {e.block_data.offset, e.block_data.stored_size};
  return {e.offset, e.stored_size};
}

Result<void> check_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameSize ||
      name.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                      "a shipped bundle's name is 1 to 1024 bytes without NUL");
  }
  return {};
}

// A range of the bundle file that an entry's stored bytes fill.
struct BlobRange {
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string key;
  const bundle::EntryInfo* entry = nullptr;  // The first entry stored there.
};

// The entries' distinct non-empty ranges in file order. Entries sharing a
// range share it whole; ranges that overlap otherwise are damage.
Result<std::vector<BlobRange>> blob_ranges(
    const std::vector<bundle::EntryInfo>& entries, uint64_t file_size,
    const std::string& where) {
  std::vector<BlobRange> ranges;
  for (const auto& e : entries) {
    auto [offset, size] = stored_range(e);
    if (size == 0) continue;
    ranges.push_back({offset, size, blob_key(e), &e});
  }
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const BlobRange& a, const BlobRange& b) {
                     return a.offset < b.offset;
                   });
  std::vector<BlobRange> distinct;
  for (auto& r : ranges) {
    if (!distinct.empty()) {
      const BlobRange& last = distinct.back();
      if (r.offset == last.offset && r.size == last.size && r.key == last.key) {
        continue;
      }
      if (r.offset < last.offset + last.size) {
        return make_error(ErrorCode::kDataLoss, ErrorReason::kBadIndex,
                          "entries' stored bytes overlap",
                          ErrorLocation{.file = where, .offset = r.offset});
      }
    }
    if (r.offset + r.size > file_size || r.offset + r.size < r.offset) {
      return make_error(ErrorCode::kDataLoss, ErrorReason::kBadIndex,
                        "an entry's stored bytes end past the file",
                        ErrorLocation{.file = where, .offset = r.offset});
    }
    distinct.push_back(std::move(r));
  }
  return distinct;
}

struct Literal {
  uint64_t offset = 0;
  Bytes data;
};

struct Manifest {
  uint64_t bundle_size = 0;
  std::string bundle_sha256;
  uint64_t entries = 0;
  std::vector<Literal> literals;
};

std::string encode_manifest(const Manifest& m) {
  nlohmann::json literals = nlohmann::json::array();
  for (const auto& l : m.literals) {
    literals.push_back({{"offset", l.offset}, {"data", base64_encode(l.data)}});
  }
  nlohmann::json doc = {{"format", kManifestFormat},
                        {"bundle_size", m.bundle_size},
                        {"bundle_sha256", m.bundle_sha256},
                        {"entries", m.entries},
                        {"literals", std::move(literals)}};
  return doc.dump();
}

Result<Manifest> decode_manifest(ByteSpan bytes, const ErrorLocation& where) {
  auto bad = [&](std::string what) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "shipped bundle manifest: " + what, where);
  };
  nlohmann::json doc = nlohmann::json::parse(as_chars(bytes), nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  auto format = doc.find("format");
  if (format == doc.end() || !format->is_string()) return bad("no format");
  if (format->get<std::string>() != kManifestFormat) {
    return make_error(
        ErrorCode::kUnimplemented, ErrorReason::kUnsupportedVersion,
        "shipped bundle manifest of format " + format->dump() +
            "; this cachepack reads " + std::string(kManifestFormat),
        where);
  }
  auto size = doc.find("bundle_size");
  auto sha = doc.find("bundle_sha256");
  auto entries = doc.find("entries");
  auto literals = doc.find("literals");
  if (size == doc.end() || !size->is_number_unsigned() || sha == doc.end() ||
      !sha->is_string() || sha->get<std::string>().size() != 64 ||
      entries == doc.end() || !entries->is_number_unsigned() ||
      literals == doc.end() || !literals->is_array()) {
    return bad("bundle_size, bundle_sha256, entries or literals missing");
  }
  Manifest m;
  m.bundle_size = size->get<uint64_t>();
  m.bundle_sha256 = sha->get<std::string>();
  m.entries = entries->get<uint64_t>();
  uint64_t end = 0;
  for (const auto& l : *literals) {
    if (!l.is_object() || !l.contains("offset") || !l.contains("data") ||
        !l["offset"].is_number_unsigned() || !l["data"].is_string()) {
      return bad("a literal is not {offset, data}");
    }
    auto data = base64_decode_strict(l["data"].get<std::string>());
    if (!data) return bad("a literal's data is not base64");
    uint64_t offset = l["offset"].get<uint64_t>();
    if (offset < end || data->size() > m.bundle_size ||
        offset > m.bundle_size - data->size()) {
      return bad("literals overlap or lie outside the bundle");
    }
    end = offset + data->size();
    m.literals.push_back({offset, to_bytes(*data)});
  }
  // A bundle starts with its header and ends with its footer, never with
  // entry data: so a size that no literal reaches is a lie.
  if (m.literals.empty() || m.literals.front().offset != 0 ||
      end != m.bundle_size) {
    return bad("literals do not start at 0 and end at bundle_size");
  }
  return m;
}

// Every byte of [0, size) is in exactly one literal or blob range.
Result<void> check_tiling(const Manifest& m,
                          const std::vector<BlobRange>& blobs,
                          const ErrorLocation& where) {
  std::vector<std::pair<uint64_t, uint64_t>> parts;
  for (const auto& l : m.literals) parts.push_back({l.offset, l.data.size()});
  for (const auto& b : blobs) parts.push_back({b.offset, b.size});
  std::sort(parts.begin(), parts.end());
  uint64_t at = 0;
  for (const auto& [offset, n] : parts) {
    if (n == 0) continue;
    if (offset != at) {
      ErrorLocation loc = where;
      loc.offset = std::min(offset, at);
      return make_error(ErrorCode::kDataLoss, ErrorReason::kBadIndex,
                        "the manifest's bytes and the index's entries do not "
                        "tile the bundle",
                        loc);
    }
    at += n;
  }
  if (at != m.bundle_size) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kBadIndex,
                      "the manifest's bytes and the index's entries do not "
                      "cover the bundle",
                      where);
  }
  return {};
}

void report_progress(const std::function<void(const ShipProgress&)>& progress,
                     const ShipProgress& p) {
  if (progress) progress(p);
}

}  // namespace

namespace {

// Every byte of the bundle that is not entry data, in file order.
Manifest make_manifest(ByteSpan bytes, const std::vector<BlobRange>& ranges,
                       uint64_t entries) {
  Manifest manifest{.bundle_size = bytes.size(),
                    .bundle_sha256 = sha256_hex(bytes),
                    .entries = entries};
  auto literal = [&](uint64_t from, uint64_t to) {
    auto part = bytes.subspan(from, to - from);
    manifest.literals.push_back({from, Bytes(part.begin(), part.end())});
  };
  uint64_t at = 0;
  for (const auto& r : ranges) {
    if (r.offset > at) literal(at, r.offset);
    at = r.offset + r.size;
  }
  if (at < bytes.size()) literal(at, bytes.size());
  return manifest;
}

// Uploads `missing` in rounds of at most 64 blobs or 64 MiB, values
// borrowed from the bundle's mapping.
Result<void> upload_blobs(Backend& backend, ByteSpan bytes,
                          std::span<const BlobRange* const> missing,
                          const PushOptions& options, PushReport& report,
                          ShipProgress& progress) {
  for (size_t i = 0; i < missing.size();) {
    std::vector<PutRequest> batch;
    uint64_t batch_bytes = 0;
    while (i < missing.size() &&
           (batch.empty() ||
            (batch.size() < 64 &&
             batch_bytes + missing[i]->size <= (uint64_t{64} << 20)))) {
      const BlobRange* b = missing[i++];
      batch.push_back(
          {kShipBlobNamespace, b->key, bytes.subspan(b->offset, b->size)});
      batch_bytes += b->size;
    }
    auto results =
        backend.put_many(batch, PutMode::kInsertIfAbsent, options.deadline);
    for (auto& r : results) CP_TRY(std::move(r));
    report.blobs_uploaded += batch.size();
    report.bytes_uploaded += batch_bytes;
    progress.blobs_done += batch.size();
    progress.bytes_done += batch_bytes;
    report_progress(options.progress, progress);
  }
  return {};
}

}  // namespace

Result<PushReport> push_bundle(const std::string& bundle_path, Backend& backend,
                               std::string_view name,
                               const PushOptions& options) {
  CP_TRY(check_name(name));
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(bundle_path));
  bundle::ReaderOptions read;
  read.verify_structure = true;
  CP_ASSIGN_OR_RETURN(
      auto reader, in_file(bundle::BundleReader::from_bytes(file.bytes(), read),
                           bundle_path));
  CP_ASSIGN_OR_RETURN(auto entries, in_file(reader.entries(), bundle_path));
  ByteSpan bytes = file.bytes();
  CP_ASSIGN_OR_RETURN(auto ranges,
                      blob_ranges(entries, bytes.size(), bundle_path));

  PushReport report;
  report.bundle_bytes = bytes.size();
  report.entries = entries.size();
  for (const auto& s : reader.signatures()) report.signatures += s.valid;

  // Distinct blobs; those the backend lacks are checked, then uploaded.
  std::vector<const BlobRange*> blobs;
  std::set<std::string_view> seen;
  for (const auto& r : ranges) {
    if (seen.insert(r.key).second) blobs.push_back(&r);
  }
  report.blobs = blobs.size();
  ShipProgress progress{.blobs_total = blobs.size()};
  for (const BlobRange* b : blobs) progress.bytes_total += b->size;
  std::vector<const BlobRange*> missing;
  for (const BlobRange* b : blobs) {
    CP_ASSIGN_OR_RETURN(
        bool present,
        backend.contains(kShipBlobNamespace, b->key, options.deadline));
    if (present) {
      ++report.blobs_present;
      ++progress.blobs_done;
      progress.bytes_done += b->size;
      continue;
    }
    // Checked before it is published under its name. (A blob already
    // there was checked by the push that stored it, and pull checks
    // every blob again.)
    if (bundle::xxh3_128(bytes.subspan(b->offset, b->size)) != b->entry->xxh3) {
      return make_error(
          ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
          "entry's stored bytes do not match the XXH3-128 in the index",
          ErrorLocation{
              .file = bundle_path, .offset = b->offset, .key = b->entry->key});
    }
    missing.push_back(b);
  }
  report_progress(options.progress, progress);
  CP_TRY(upload_blobs(backend, bytes, missing, options, report, progress));

  // The manifest last: a pull never finds one whose blobs are not stored.
  std::string encoded =
      encode_manifest(make_manifest(bytes, ranges, entries.size()));
  report.manifest_bytes = encoded.size();
  CP_TRY(backend.put(kShipManifestNamespace, name, as_bytes(encoded),
                     PutMode::kOverwrite, options.deadline));
  return report;
}

namespace {

// The stored bytes the writer made for `target` (a chunk or a solid block),
// made again by `compress` (the writer's own function, at the default level,
// or level 0 for a raw target); nothing unless they are exactly those bytes.
std::optional<Bytes> remade(
    ZSTD_CCtx* cctx, const bundle::ChunkInfo& target,
    const std::function<bundle::Compressed(ZSTD_CCtx*, int)>& compress) {
  const int level = target.codec == bundle::Codec::kRaw ? 0 : kDefaultLevel;
  bundle::Compressed made = compress(cctx, level);
  if (made.codec != target.codec || made.size != target.stored_size ||
      made.xxh3 != target.xxh3) {
    return std::nullopt;
  }
  made.buffer.resize(made.size);
  return std::move(made.buffer);
}

// Makes an entry's stored bytes again from its content held by a local
// cache, when that gives exactly the bytes the index names.
std::optional<Bytes> stored_from_have(Backend& have, const bundle::EntryInfo& e,
                                      Deadline deadline) {
  if (e.dictionary != 0 || e.block != 0) return std::nullopt;
  auto got = have.get(e.type, e.key, deadline);
  if (!got || !*got) return std::nullopt;
  const Bytes& content = **got;
  if (content.size() != e.original_size || sha256(content) != e.sha256) {
    return std::nullopt;
  }
  std::vector<bundle::ChunkInfo> chunks = e.chunks;
  if (chunks.empty()) {
    chunks.push_back({.stored_size = e.stored_size,
                      .original_size = e.original_size,
                      .codec = e.codec,
                      .xxh3 = e.xxh3});
  }
  Bytes stored;
  stored.reserve(e.stored_size);
  bundle::CCtxPtr cctx(ZSTD_createCCtx());
  uint64_t at = 0;
  for (const auto& c : chunks) {
    if (c.original_size > content.size() - at) return std::nullopt;
    ByteSpan piece = ByteSpan(content).subspan(at, c.original_size);
    at += c.original_size;
    if (c.codec != bundle::Codec::kRaw && cctx == nullptr) return std::nullopt;
    auto made = remade(cctx.get(), c, [&](ZSTD_CCtx* cc, int level) {
      return bundle::compress_chunk(cc, piece, level, nullptr,
                                    /*want_sha=*/false, {});
    });
    if (!made) return std::nullopt;
    stored.insert(stored.end(), made->begin(), made->end());
  }
  if (stored.size() != e.stored_size || bundle::xxh3_128(stored) != e.xxh3) {
    return std::nullopt;
  }
  return stored;
}

// Makes a solid block's stored bytes again from its entries' contents held
// by a local cache, compressed as the writer does at the default level,
// when that gives exactly the bytes the index names.
std::optional<Bytes> block_from_have(
    Backend& have, const bundle::EntryInfo& first,
    const std::vector<bundle::EntryInfo>& entries, Deadline deadline) {
  const bundle::ChunkInfo& b = first.block_data;
  Bytes content;
  content.reserve(b.original_size);
  for (const auto& e : entries) {
    if (e.block != first.block) continue;
    if (e.block_offset != content.size()) return std::nullopt;
    auto got = have.get(e.type, e.key, deadline);
    if (!got || !*got) return std::nullopt;
    const Bytes& part = **got;
    if (part.size() != e.original_size || sha256(part) != e.sha256) {
      return std::nullopt;
    }
    content.insert(content.end(), part.begin(), part.end());
  }
  if (content.size() != b.original_size) return std::nullopt;
  bundle::CCtxPtr cctx(ZSTD_createCCtx());
  if (b.codec != bundle::Codec::kRaw && cctx == nullptr) return std::nullopt;
  return remade(cctx.get(), b, [&](ZSTD_CCtx* cc, int level) {
    return bundle::compress_block(cc, content, level, {}, {});
  });
}

// The previous output's blobs: name -> its bytes in the old file.
struct PreviousOutput {
  std::optional<MappedFile> file;
  std::map<std::string, std::pair<uint64_t, uint64_t>, std::less<>> blobs;
};

PreviousOutput open_previous(const std::string& out_path, std::string* note) {
  PreviousOutput prev;
  struct stat st;
  if (::stat(out_path.c_str(), &st) != 0) return prev;
  auto file = MappedFile::open(out_path);
  if (!file) {
    *note = file.error().to_string();
    return prev;
  }
  auto reader = bundle::BundleReader::from_bytes(file->bytes());
  if (!reader) {
    *note = Error(reader.error()).in_file(out_path).to_string();
    return prev;
  }
  auto entries = reader->entries();
  if (!entries) {
    *note = Error(entries.error()).in_file(out_path).to_string();
    return prev;
  }
  for (const auto& e : *entries) {
    auto [offset, size] = stored_range(e);
    if (size == 0 || offset + size > file->bytes().size()) continue;
    prev.blobs.emplace(blob_key(e), std::make_pair(offset, size));
  }
  prev.file = std::move(*file);
  return prev;
}

}  // namespace

namespace {

Result<Manifest> fetch_manifest(Backend& backend, std::string_view name,
                                Deadline deadline, const ErrorLocation& where,
                                uint64_t* size) {
  CP_ASSIGN_OR_RETURN(auto got,
                      backend.get(kShipManifestNamespace, name, deadline));
  if (!got) {
    return make_error(ErrorCode::kNotFound,
                      "no bundle was pushed under this name", where);
  }
  if (got->size() > kMaxShipManifestSize) {
    return make_error(ErrorCode::kResourceExhausted,
                      ErrorReason::kLimitExceeded,
                      "shipped bundle manifest larger than 256 MiB", where);
  }
  *size = got->size();
  return decode_manifest(*got, where);
}

// Writes the manifest's bytes into the new file, entries' ranges left as
// holes, and opens that as a bundle: header, footer, index and, with
// trusted keys, the signatures, before anything is fetched. Returns the
// (signed) index's entries.
Result<std::vector<bundle::EntryInfo>> write_skeleton(
    const ReplacementFile& out, const Manifest& manifest,
    const std::vector<bundle::PublicKey>& trusted, const ErrorLocation& where) {
  const std::string& temp = out.temp_path();
  if (::ftruncate(out.fd(), static_cast<off_t>(manifest.bundle_size)) != 0) {
    return io_error("ftruncate", temp, errno);
  }
  for (const auto& l : manifest.literals) {
    CP_TRY(pwrite_all(out.fd(), l.data, l.offset, temp));
  }
  bundle::ReaderOptions read;
  read.trusted_keys = trusted;
  auto skeleton = bundle::BundleReader::open(temp, read);
  if (!skeleton) {
    const Error& e = skeleton.error();
    ErrorLocation loc = where;
    loc.offset = e.where().offset;
    return tl::unexpected(
        Error(e.code(), e.reason(), "shipped bundle: " + e.message(), loc));
  }
  return skeleton->entries();
}

// The new file's entry ranges, by blob: each blob is written to every
// range that holds it.
class Placement {
 public:
  Placement(const ReplacementFile& out, const std::vector<BlobRange>& ranges)
      : out_(out) {
    for (const auto& r : ranges) {
      auto& at = by_key_[r.key];
      if (at.empty()) blobs_.push_back(&r);
      at.push_back(&r);
    }
  }
  // One per blob, in file order.
  const std::vector<const BlobRange*>& blobs() const { return blobs_; }

  Result<void> write(const BlobRange& blob, ByteSpan data) const {
    for (const BlobRange* r : by_key_.at(blob.key)) {
      CP_TRY(pwrite_all(out_.fd(), data, r->offset, out_.temp_path()));
    }
    return {};
  }

 private:
  const ReplacementFile& out_;
  std::map<std::string_view, std::vector<const BlobRange*>> by_key_;
  std::vector<const BlobRange*> blobs_;
};

// Places every blob the previous output or the local cache holds; returns
// the others.
Result<std::vector<const BlobRange*>> place_local_blobs(
    const Placement& placement, const std::vector<bundle::EntryInfo>& entries,
    const std::string& out_path, const PullOptions& options, PullReport& report,
    ShipProgress& progress) {
  PreviousOutput previous =
      open_previous(out_path, &report.previous_output_note);
  std::vector<const BlobRange*> fetch;
  for (const BlobRange* b : placement.blobs()) {
    if (auto it = previous.blobs.find(b->key); it != previous.blobs.end()) {
      ByteSpan old =
          previous.file->bytes().subspan(it->second.first, it->second.second);
      if (old.size() == b->size && bundle::xxh3_128(old) == b->entry->xxh3) {
        CP_TRY(placement.write(*b, old));
        ++report.blobs_from_out;
        report.bytes_from_out += b->size;
        ++progress.blobs_done;
        progress.bytes_done += b->size;
        continue;
      }
    }
    if (options.have != nullptr) {
      auto stored =
          b->entry->block != 0
              ? block_from_have(*options.have, *b->entry, entries,
                                options.deadline)
              : stored_from_have(*options.have, *b->entry, options.deadline);
      if (stored) {
        CP_TRY(placement.write(*b, *stored));
        ++report.blobs_from_have;
        report.bytes_from_have += b->size;
        ++progress.blobs_done;
        progress.bytes_done += b->size;
        continue;
      }
    }
    fetch.push_back(b);
  }
  return fetch;
}

// Fetches `fetch` in rounds of options.batch_entries / batch_bytes, each
// blob checked against the index before it is placed.
Result<void> fetch_blobs(Backend& backend, std::string_view name,
                         std::span<const BlobRange* const> fetch,
                         const Placement& placement, const PullOptions& options,
                         PullReport& report, ShipProgress& progress) {
  for (size_t i = 0; i < fetch.size();) {
    std::vector<KeyRef> keys;
    std::vector<const BlobRange*> batch;
    uint64_t batch_bytes = 0;
    while (i < fetch.size() &&
           (batch.empty() ||
            (batch.size() < std::max<size_t>(1, options.batch_entries) &&
             batch_bytes + fetch[i]->size <= options.batch_bytes))) {
      batch.push_back(fetch[i]);
      keys.push_back({kShipBlobNamespace, fetch[i]->key});
      batch_bytes += fetch[i]->size;
      ++i;
    }
    auto values = backend.get_many(keys, options.deadline);
    for (size_t k = 0; k < batch.size(); ++k) {
      const BlobRange& b = *batch[k];
      CP_TRY(values[k]);
      const auto& value = *values[k];
      ErrorLocation loc{.url = backend.url(), .key = b.key};
      if (!value) {
        return make_error(ErrorCode::kNotFound,
                          "blob of shipped bundle '" + std::string(name) +
                              "' is missing on the backend (evicted?); push "
                              "the bundle again",
                          loc);
      }
      if (value->size() != b.size ||
          bundle::xxh3_128(*value) != b.entry->xxh3) {
        return make_error(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
                          "fetched blob does not match the XXH3-128 and size "
                          "the bundle's index records",
                          loc);
      }
      CP_TRY(placement.write(b, *value));
      ++report.blobs_fetched;
      report.bytes_fetched += b.size;
    }
    progress.blobs_done += batch.size();
    progress.bytes_done += batch_bytes;
    report_progress(options.progress, progress);
  }
  return {};
}

// The whole new file checked as `verify` checks it, and against the
// SHA-256 of the bundle that was pushed.
Result<void> verify_rebuilt(const std::string& temp,
                            const std::vector<bundle::PublicKey>& trusted,
                            const std::string& pushed_sha256,
                            const ErrorLocation& where, PullReport& report) {
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(temp));
  bundle::ReaderOptions read;
  read.trusted_keys = trusted;
  read.verify_structure = true;
  CP_ASSIGN_OR_RETURN(
      auto reader,
      in_file(bundle::BundleReader::from_bytes(file.bytes(), read), temp));
  CP_ASSIGN_OR_RETURN(auto verified, in_file(reader.verify_all(), temp));
  report.trusted_signatures = verified.trusted_signatures;
  report.bundle_sha256 = sha256_hex(file.bytes());
  if (report.bundle_sha256 != pushed_sha256) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
                      "rebuilt bundle's SHA-256 " + report.bundle_sha256 +
                          " differs from the pushed " + pushed_sha256,
                      where);
  }
  return {};
}

}  // namespace

Result<PullReport> pull_bundle(Backend& backend, std::string_view name,
                               const std::string& out_path,
                               const PullOptions& options) {
  CP_TRY(check_name(name));
  const ErrorLocation where{.url = backend.url(), .key = std::string(name)};
  PullReport report;
  CP_ASSIGN_OR_RETURN(auto manifest,
                      fetch_manifest(backend, name, options.deadline, where,
                                     &report.manifest_bytes));
  report.bundle_bytes = manifest.bundle_size;

  CP_ASSIGN_OR_RETURN(auto out, ReplacementFile::create(out_path));
  CP_ASSIGN_OR_RETURN(
      auto entries, write_skeleton(out, manifest, options.trusted_keys, where));
  report.entries = entries.size();
  CP_ASSIGN_OR_RETURN(auto ranges,
                      blob_ranges(entries, manifest.bundle_size, out_path));
  CP_TRY(check_tiling(manifest, ranges, where));
  manifest.literals.clear();

  // Each distinct blob: from the old output, the local cache, or fetched.
  Placement placement(out, ranges);
  report.blobs = placement.blobs().size();
  ShipProgress progress{.blobs_total = report.blobs};
  for (const BlobRange* b : placement.blobs()) progress.bytes_total += b->size;
  CP_ASSIGN_OR_RETURN(auto fetch,
                      place_local_blobs(placement, entries, out_path, options,
                                        report, progress));
  report_progress(options.progress, progress);
  CP_TRY(
      fetch_blobs(backend, name, fetch, placement, options, report, progress));

  CP_TRY(verify_rebuilt(out.temp_path(), options.trusted_keys,
                        manifest.bundle_sha256, where, report));
  CP_TRY(out.commit(options.fsync));
  return report;
}

}  // namespace cachepack
