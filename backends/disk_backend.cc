#include "backends/disk_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "backends/key_rules.h"
#include "backends/local_fs.h"
#include "cachepack/hash.h"
#include "util/file.h"
#include "xxhash.h"

namespace cachepack {
namespace {

using local_fs::Dir;
using local_fs::EntryKind;
using local_fs::FileLock;

constexpr size_t kPrefixSize = 12;  // Header + XXH3-64.
constexpr size_t kProbeSize = 64 * 1024;

enum class EntryState { kCurrent, kStale, kCorrupt };

struct DecodedEntry {
  EntryState state = EntryState::kCorrupt;
  std::string_view ns;
  std::string_view key;
  ByteSpan value;
  std::string why;  // For kCorrupt.
};

bool header_current(ByteSpan data) {
  auto header = disk_entry_header();
  return data.size() >= header.size() &&
         std::equal(header.begin(), header.end(), data.begin());
}

// Decodes an entry file, or its first bytes when `partial` (then the value
// and CRC are not checked and only ns and key are returned).
DecodedEntry decode(ByteSpan data, bool partial) {
  DecodedEntry e;
  if (!header_current(data)) {
    e.state = EntryState::kStale;
    return e;
  }
  if (data.size() < kPrefixSize + 8) {
    e.why = "entry of " + std::to_string(data.size()) + " bytes is truncated";
    return e;
  }
  if (!partial) {
    uint64_t stored = decode_fixed64_be(data.data() + 4);
    ByteSpan rest = data.subspan(kPrefixSize);
    uint64_t actual = XXH3_64bits(rest.data(), rest.size());
    if (stored != actual) {
      e.why = "entry checksum mismatch";
      return e;
    }
  }
  size_t at = kPrefixSize;
  auto take = [&](std::string_view& out) {
    if (data.size() - at < 8) return false;
    uint64_t n = decode_fixed64_be(data.data() + at);
    at += 8;
    if (n > data.size() - at) return false;
    out = as_chars(data.subspan(at, static_cast<size_t>(n)));
    at += static_cast<size_t>(n);
    return true;
  };
  if (!take(e.ns) || !take(e.key)) {
    e.why = "entry name fields overrun the file";
    return e;
  }
  e.value = data.subspan(at);
  e.state = EntryState::kCurrent;
  return e;
}

// Reads up to `limit` bytes from the start of a file; nullopt if missing.
Result<std::optional<Bytes>> read_prefix(const Dir& dir, std::string_view name,
                                         size_t limit) {
  CP_ASSIGN_OR_RETURN(auto fd, dir.open_file(name));
  if (!fd) return std::optional<Bytes>();
  Bytes out(limit);
  CP_ASSIGN_OR_RETURN(auto done, pread_full(fd->get(), out, dir.child(name)));
  out.resize(done);
  return std::optional<Bytes>(std::move(out));
}

// The (ns, key) stored in an entry file, or nullopt if missing, stale or
// corrupt (listing skips those; get reports corruption).
Result<std::optional<std::pair<std::string, std::string>>> read_names(
    const Dir& dir, std::string_view name) {
  using Names = std::optional<std::pair<std::string, std::string>>;
  CP_ASSIGN_OR_RETURN(auto head, read_prefix(dir, name, kProbeSize));
  if (!head) return Names();
  DecodedEntry e = decode(*head, /*partial=*/true);
  if (e.state != EntryState::kCurrent && head->size() == kProbeSize) {
    CP_ASSIGN_OR_RETURN(auto whole, dir.read_file(name));
    if (!whole) return Names();
    head = std::move(whole);
    e = decode(*head, /*partial=*/true);
  }
  if (e.state != EntryState::kCurrent) return Names();
  return Names(std::pair(std::string(e.ns), std::string(e.key)));
}

bool older(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec;
}

}  // namespace

std::array<std::byte, 4> disk_entry_header() {
  static const std::array<std::byte, 4> header = [] {
    Sha256Digest d = sha256(as_bytes("cachepack-disk-entry-v1"));
    return std::array<std::byte, 4>{d[0], d[1], d[2], d[3]};
  }();
  return header;
}

Result<std::unique_ptr<DiskBackend>> DiskBackend::open(DiskOptions options) {
  CP_ASSIGN_OR_RETURN(
      auto root, local_fs::open_cache_root(options.root, "disk backend root"));
  options.root = root.path();
  // Opened once: a link swapped in later is never seen.
  CP_ASSIGN_OR_RETURN(auto objects, root.make_dir("objects"));
  CP_ASSIGN_OR_RETURN(auto locks, root.make_dir("locks"));
  CP_ASSIGN_OR_RETURN(auto tmp, root.make_dir("tmp"));
  return std::make_unique<DiskBackend>(Tag{}, std::move(options),
                                       std::move(objects), std::move(locks),
                                       std::move(tmp));
}

Result<std::unique_ptr<Backend>> DiskBackend::open_url(const BackendUrl& url) {
  auto bad = [&](const std::string& why) {
    return bad_backend_url(url, why, kUrlForm);
  };
  if (!url.host.empty() && url.host != "localhost") {
    return bad("file:// names a local directory, not host '" + url.host + "'");
  }
  if (url.path.empty()) return bad("no directory path");
  DiskOptions options{.root = url.path};
  for (const auto& [name, value] : url.query) {
    if (name == "fsync") {
      CP_ASSIGN_OR_RETURN(options.fsync,
                          parse_url_bool(url, name, value, kUrlForm));
    } else if (name == "lock_timeout_ms") {
      CP_ASSIGN_OR_RETURN(auto n, parse_url_uint(url, name, value, kUrlForm));
      options.lock_timeout = std::chrono::milliseconds(n);
    } else if (name == "temp_max_age_s") {
      CP_ASSIGN_OR_RETURN(auto n, parse_url_uint(url, name, value, kUrlForm));
      options.temp_max_age = std::chrono::seconds(n);
    } else {
      return bad("unknown parameter '" + name + "'");
    }
  }
  CP_ASSIGN_OR_RETURN(auto backend, open(std::move(options)));
  return std::unique_ptr<Backend>(std::move(backend));
}

std::string DiskBackend::url() const {
  std::string u = "file://" + options_.root;
  if (options_.fsync) u += "?fsync=1";
  return u;
}

struct DiskBackend::EntryFile {
  std::string shard;  // Relative to objects/.
  std::string name;
  uint64_t size = 0;
  struct timespec mtime {};
};

std::string DiskBackend::ns_dir(std::string_view ns) const {
  return sha256_hex(as_bytes(ns)).substr(0, 16);
}

DiskBackend::Paths DiskBackend::paths(std::string_view ns,
                                      std::string_view key) const {
  // Length-prefixing the namespace keeps ("ab","c") and ("a","bc") apart.
  Sha256 h;
  Bytes len(8);
  encode_fixed64_be(len.data(), ns.size());
  h.update(len);
  h.update(as_bytes(ns));
  h.update(as_bytes(key));
  Sha256Digest d = h.finish();
  Paths p;
  p.hash = to_hex(d);
  p.shard = ns_dir(ns) + "/" + p.hash.substr(0, 2);
  p.lock = p.hash.substr(0, 2) + ".lock";
  return p;
}

std::string DiskBackend::entry_path(std::string_view ns,
                                    std::string_view key) const {
  Paths p = paths(ns, key);
  return objects_.child(p.shard) + "/" + p.hash;
}

Result<std::optional<Dir>> DiskBackend::find_dir(const std::string& rel) const {
  auto dir = objects_.find_dir(rel);
  if (!dir && dir.error().reason() == ErrorReason::kUnsafePath) {
    notice("skipped " + dir.error().where().file + ": " +
           dir.error().message());
    return std::optional<Dir>();
  }
  return dir;
}

Result<std::optional<Bytes>> DiskBackend::do_get(std::string_view ns,
                                                 std::string_view key,
                                                 Deadline) {
  CP_TRY(check_ns_key(*this, "get", ns, key));
  Paths p = paths(ns, key);
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(p.shard));
  if (!dir) return std::optional<Bytes>();
  auto data = dir->read_file(p.hash);
  if (!data && data.error().reason() == ErrorReason::kUnsafePath) {
    notice("skipped " + data.error().where().file + ": " +
           data.error().message());
    return std::optional<Bytes>();
  }
  CP_TRY(data);
  if (!*data) return std::optional<Bytes>();
  DecodedEntry e = decode(**data, /*partial=*/false);
  if (e.state == EntryState::kStale) return std::optional<Bytes>();
  if (e.state == EntryState::kCorrupt || e.ns != ns || e.key != key) {
    std::string why = e.state == EntryState::kCorrupt
                          ? e.why
                          : "entry holds a different (namespace, key)";
    return make_error(
        ErrorCode::kDataLoss, "get: " + why,
        ErrorLocation{.file = dir->child(p.hash), .key = std::string(key)});
  }
  // Mark as recently used for gc; failure (read-only cache) is harmless.
  ::utimensat(dir->fd(), p.hash.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
  // Drop the prefix in place rather than copying the value out.
  Bytes value = std::move(**data);
  value.erase(value.begin(), value.begin() + (e.value.data() - value.data()));
  return std::optional<Bytes>(std::move(value));
}

Result<bool> DiskBackend::do_contains(std::string_view ns, std::string_view key,
                                      Deadline) {
  CP_TRY(check_ns_key(*this, "contains", ns, key));
  Paths p = paths(ns, key);
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(p.shard));
  if (!dir) return false;
  CP_ASSIGN_OR_RETURN(auto head, read_prefix(*dir, p.hash, 4));
  return head && header_current(*head);
}

Result<bool> DiskBackend::do_put(std::string_view ns, std::string_view key,
                                 ByteSpan value, PutMode mode,
                                 Deadline deadline) {
  SpanSource source(value);
  return do_put_stream(ns, key, source, mode, deadline);
}

Result<bool> DiskBackend::do_put_stream(std::string_view ns,
                                        std::string_view key,
                                        ContentSource& source, PutMode mode,
                                        Deadline deadline) {
  CP_TRY(check_ns_key(*this, "put", ns, key));
  auto with_key = [&](Error e) {
    return tl::unexpected(std::move(e).with_key(std::string(key)));
  };
  // The first writer of a process clears what crashed writers left.
  std::call_once(temps_cleaned_, [this] {
    local_fs::remove_dead_temps(tmp_, options_.temp_max_age);
  });
  Paths p = paths(ns, key);
  auto dir = objects_.make_dir(p.shard);
  if (!dir) return with_key(dir.error());
  auto exists_current = [&]() -> Result<bool> {
    CP_ASSIGN_OR_RETURN(auto head, read_prefix(*dir, p.hash, 4));
    return head && header_current(*head);
  };
  if (mode == PutMode::kInsertIfAbsent) {  // Cheap early exit, no lock.
    auto exists = exists_current();
    if (!exists) return with_key(exists.error());
    if (*exists) return false;
  }
  // The entry: header, XXH3 (written last, once known), names, value.
  auto header = disk_entry_header();
  Bytes names;
  append_fixed64_be(names, ns.size());
  append_bytes(names, as_bytes(ns));
  append_fixed64_be(names, key.size());
  append_bytes(names, as_bytes(key));
  // XXH3 rather than CRC-32: it runs at memory speed, so large entries
  // cost no more to check than to copy.
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> xxh(
      XXH3_createState(), &XXH3_freeState);
  if (!xxh) {
    return backend_error(ErrorCode::kResourceExhausted, "put", "out of memory",
                         key);
  }
  XXH3_64bits_reset(xxh.get());
  XXH3_64bits_update(xxh.get(), names.data(), names.size());
  Bytes prefix(header.begin(), header.end());
  prefix.resize(kPrefixSize);
  auto tmp = tmp_.create_temp(p.hash);
  if (!tmp) return with_key(tmp.error());
  if (auto w = tmp->write(prefix); !w) return with_key(w.error());
  if (auto w = tmp->write(names); !w) return with_key(w.error());
  while (true) {
    auto piece = source.next();
    if (!piece) return with_key(piece.error());
    if (piece->empty()) break;
    XXH3_64bits_update(xxh.get(), piece->data(), piece->size());
    if (auto w = tmp->write(*piece); !w) return with_key(w.error());
  }
  Bytes digest(8);
  encode_fixed64_be(digest.data(), XXH3_64bits_digest(xxh.get()));
  if (auto w = tmp->write_at(4, digest); !w) return with_key(w.error());
  if (auto c = tmp->close(options_.fsync); !c) return with_key(c.error());

  auto lock =
      FileLock::acquire(locks_, p.lock, deadline, options_.lock_timeout);
  if (!lock) return local_fs::lock_error(*this, "put", key, lock.error());
  if (mode == PutMode::kInsertIfAbsent) {
    auto exists = exists_current();  // Decisive check, under the lock.
    if (!exists) return with_key(exists.error());
    if (*exists) return false;
  }
  if (auto r = tmp->commit_replace(*dir, p.hash); !r) {
    return with_key(r.error());
  }
  if (options_.fsync) dir->fsync();
  return true;
}

Result<bool> DiskBackend::do_remove(std::string_view ns, std::string_view key,
                                    Deadline deadline) {
  CP_TRY(check_ns_key(*this, "remove", ns, key));
  Paths p = paths(ns, key);
  CP_ASSIGN_OR_RETURN(auto dir,
                      with_key(objects_.find_dir(p.shard), std::string(key)));
  if (!dir) return false;
  CP_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(locks_, p.lock, deadline,
                                                   options_.lock_timeout));
  return dir->unlink(p.hash);
}

Result<std::vector<std::string>> DiskBackend::do_list(std::string_view ns,
                                                      Deadline deadline) {
  std::vector<std::string> keys;
  std::string nd = ns_dir(ns);
  CP_ASSIGN_OR_RETURN(auto ns_dir, find_dir(nd));
  if (!ns_dir) return keys;
  CP_ASSIGN_OR_RETURN(auto shards, ns_dir->list());
  for (const auto& s : shards) {
    if (s.kind != EntryKind::kDirectory) {
      if (s.kind != EntryKind::kFile) {
        notice("skipped " + ns_dir->child(s.name) + ": " +
               std::string(local_fs::describe(s.kind)));
      }
      continue;
    }
    CP_ASSIGN_OR_RETURN(auto dir, find_dir(nd + "/" + s.name));
    if (!dir) continue;
    CP_ASSIGN_OR_RETURN(auto files, dir->list());
    for (const auto& f : files) {
      if (local_fs::is_temp_name(f.name)) continue;
      if (f.kind != EntryKind::kFile) {
        notice("skipped " + dir->child(f.name) + ": " +
               std::string(local_fs::describe(f.kind)));
        continue;
      }
      if (deadline.expired()) {
        return backend_error(
            ErrorCode::kDeadlineExceeded, "list",
            "deadline expired after " + std::to_string(keys.size()) + " keys");
      }
      auto names = read_names(*dir, f.name);
      if (!names && names.error().reason() == ErrorReason::kUnsafePath) {
        continue;  // Replaced by a link since listed.
      }
      CP_TRY(names);
      if (*names && (*names)->first == ns) keys.push_back((*names)->second);
    }
  }
  return keys;
}

std::vector<DiskBackend::EntryFile> DiskBackend::walk_entries() const {
  std::vector<EntryFile> out;
  auto ns_dirs = objects_.list();
  if (!ns_dirs) return out;
  for (const auto& n : *ns_dirs) {
    if (n.kind != EntryKind::kDirectory) {
      if (n.kind != EntryKind::kFile) {
        notice("skipped " + objects_.child(n.name) + ": " +
               std::string(local_fs::describe(n.kind)));
      }
      continue;
    }
    auto nd = find_dir(n.name);
    if (!nd || !*nd) continue;
    auto shards = (*nd)->list();
    if (!shards) continue;
    for (const auto& s : *shards) {
      if (s.kind != EntryKind::kDirectory) {
        if (s.kind != EntryKind::kFile) {
          notice("skipped " + (*nd)->child(s.name) + ": " +
                 std::string(local_fs::describe(s.kind)));
        }
        continue;
      }
      std::string shard = n.name + "/" + s.name;
      auto sd = find_dir(shard);
      if (!sd || !*sd) continue;
      auto files = (*sd)->list();
      if (!files) continue;
      for (const auto& f : *files) {
        if (local_fs::is_temp_name(f.name)) continue;
        if (f.kind != EntryKind::kFile) {
          notice("skipped " + (*sd)->child(f.name) + ": " +
                 std::string(local_fs::describe(f.kind)));
          continue;
        }
        auto info = (*sd)->stat(f.name);
        if (!info || !*info || (*info)->kind != EntryKind::kFile) continue;
        out.push_back(EntryFile{.shard = shard,
                                .name = f.name,
                                .size = (*info)->size,
                                .mtime = (*info)->mtime});
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> DiskBackend::do_namespaces(Deadline) {
  std::vector<std::string> out;
  std::string current_ns;
  for (const auto& f : walk_entries()) {
    if (f.shard.substr(0, 16) == current_ns) continue;  // Already named.
    auto dir = find_dir(f.shard);
    if (!dir || !*dir) continue;
    auto names = read_names(**dir, f.name);
    if (names && *names) {
      // Any current entry names the namespace of the whole directory.
      out.push_back((*names)->first);
      current_ns = f.shard.substr(0, 16);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<NamespaceUsage>> DiskBackend::usage() {
  std::map<std::string, NamespaceUsage> by_ns;
  for (const auto& f : walk_entries()) {
    auto dir = find_dir(f.shard);
    if (!dir || !*dir) continue;
    auto names = read_names(**dir, f.name);
    if (!names || !*names) continue;
    auto& u = by_ns[(*names)->first];
    u.ns = (*names)->first;
    ++u.entries;
    u.bytes += f.size;
  }
  std::vector<NamespaceUsage> out;
  for (auto& [_, u] : by_ns) out.push_back(std::move(u));
  return out;
}

Result<GcReport> DiskBackend::gc(uint64_t max_bytes) {
  GcReport report;
  report.temps_removed =
      local_fs::remove_dead_temps(tmp_, options_.temp_max_age);
  std::vector<EntryFile> live;
  for (auto& f : walk_entries()) {
    report.bytes_before += f.size;
    auto dir = find_dir(f.shard);
    if (!dir || !*dir) continue;
    auto head = read_prefix(**dir, f.name, 4);
    if (head && *head && !header_current(**head)) {
      if ((*dir)->unlink(f.name).value_or(false)) ++report.stale_removed;
      continue;
    }
    live.push_back(std::move(f));
  }
  std::sort(live.begin(), live.end(),
            [](const EntryFile& a, const EntryFile& b) {
              return older(a.mtime, b.mtime);
            });
  uint64_t total = 0;
  for (const auto& f : live) total += f.size;
  for (const auto& f : live) {
    if (total <= max_bytes) break;
    CP_ASSIGN_OR_RETURN(
        auto lock, FileLock::acquire(locks_, f.name.substr(0, 2) + ".lock",
                                     Deadline::never(), options_.lock_timeout));
    CP_ASSIGN_OR_RETURN(auto dir, find_dir(f.shard));
    auto info =
        dir ? dir->stat(f.name) : Result<std::optional<local_fs::FileInfo>>();
    if (!dir || !info || !*info) {  // Removed meanwhile.
      total -= f.size;
      continue;
    }
    // Used or rewritten since the walk: no longer least recently used.
    if ((*info)->kind != EntryKind::kFile ||
        (*info)->mtime.tv_sec != f.mtime.tv_sec ||
        (*info)->mtime.tv_nsec != f.mtime.tv_nsec) {
      continue;
    }
    if (dir->unlink(f.name).value_or(false)) {
      total -= f.size;
      ++report.entries_removed;
    }
  }
  report.bytes_after = total;
  return report;
}

}  // namespace cachepack
