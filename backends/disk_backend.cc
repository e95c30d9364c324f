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
#include "util/file.h"
#include "util/hash.h"
#include "xxhash.h"

namespace cachepack {
namespace {

using local_fs::Fd;
using local_fs::FileLock;
using local_fs::TempFile;

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
Result<std::optional<Bytes>> read_prefix(const std::string& path,
                                         size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<Bytes>();
    return io_error("open", path, errno);
  }
  Bytes out(limit);
  auto done = pread_full(fd.get(), out, path);
  if (!done) return tl::unexpected(done.error());
  out.resize(*done);
  return std::optional<Bytes>(std::move(out));
}

// The (ns, key) stored in an entry file, or nullopt if missing, stale or
// corrupt (listing skips those; get reports corruption).
Result<std::optional<std::pair<std::string, std::string>>> read_names(
    const std::string& path) {
  using Names = std::optional<std::pair<std::string, std::string>>;
  auto head = read_prefix(path, kProbeSize);
  if (!head) return tl::unexpected(head.error());
  if (!*head) return Names();
  DecodedEntry e = decode(**head, /*partial=*/true);
  if (e.state != EntryState::kCurrent && (*head)->size() == kProbeSize) {
    auto whole = local_fs::read_whole(path);  // Names longer than the probe.
    if (!whole) return tl::unexpected(whole.error());
    if (!*whole) return Names();
    *head = std::move(*whole);
    e = decode(**head, /*partial=*/true);
  }
  if (e.state != EntryState::kCurrent) return Names();
  return Names(std::pair(std::string(e.ns), std::string(e.key)));
}

bool parse_bool(std::string_view v, bool& out) {
  if (v == "1" || v == "true" || v == "yes") {
    out = true;
    return true;
  }
  if (v == "0" || v == "false" || v == "no") {
    out = false;
    return true;
  }
  return false;
}

constexpr std::string_view kDiskForm =
    "file:///absolute/path[?fsync=1&lock_timeout_ms=N&temp_max_age_s=N]";

struct EntryFile {
  std::string path;
  uint64_t size = 0;
  struct timespec mtime {};
};

// Every entry file under objects/, with size and mtime.
std::vector<EntryFile> walk_entries(const std::string& objects) {
  std::vector<EntryFile> out;
  auto ns_dirs = local_fs::list_dir(objects);
  if (!ns_dirs) return out;
  for (const auto& n : *ns_dirs) {
    std::string nd = objects + "/" + n;
    auto shards = local_fs::list_dir(nd);
    if (!shards) continue;
    for (const auto& s : *shards) {
      std::string sd = nd + "/" + s;
      auto files = local_fs::list_dir(sd);
      if (!files) continue;
      for (const auto& f : *files) {
        if (local_fs::is_temp_name(f)) continue;
        EntryFile e{.path = sd + "/" + f};
        struct stat st {};
        if (::stat(e.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        e.size = static_cast<uint64_t>(st.st_size);
        e.mtime = st.st_mtim;
        out.push_back(std::move(e));
      }
    }
  }
  return out;
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
  if (options.root.empty() || options.root.front() != '/') {
    return make_error(ErrorCode::kInvalidArgument,
                      "disk backend root must be an absolute path",
                      ErrorLocation{.file = options.root});
  }
  while (options.root.size() > 1 && options.root.back() == '/') {
    options.root.pop_back();
  }
  for (const char* sub : {"/objects", "/locks", "/tmp"}) {
    if (auto r = local_fs::make_dirs(options.root + sub); !r) {
      return tl::unexpected(r.error());
    }
  }
  local_fs::remove_stale_temps(options.root + "/tmp", 0, options.temp_max_age);
  return std::make_unique<DiskBackend>(Tag{}, std::move(options));
}

Result<std::unique_ptr<Backend>> DiskBackend::open_url(const BackendUrl& url) {
  auto bad = [&](const std::string& why) {
    return bad_backend_url(url, why, kDiskForm);
  };
  if (!url.host.empty() && url.host != "localhost") {
    return bad("file:// names a local directory, not host '" + url.host + "'");
  }
  if (url.path.empty()) return bad("no directory path");
  DiskOptions options{.root = url.path};
  for (const auto& [name, value] : url.query) {
    if (name == "fsync") {
      if (!parse_bool(value, options.fsync)) return bad("fsync must be 0 or 1");
    } else if (name == "lock_timeout_ms") {
      auto n = parse_url_uint(url, name, value, kDiskForm);
      if (!n) return tl::unexpected(n.error());
      options.lock_timeout = std::chrono::milliseconds(*n);
    } else if (name == "temp_max_age_s") {
      auto n = parse_url_uint(url, name, value, kDiskForm);
      if (!n) return tl::unexpected(n.error());
      options.temp_max_age = std::chrono::seconds(*n);
    } else {
      return bad("unknown parameter '" + name + "'");
    }
  }
  auto backend = open(std::move(options));
  if (!backend) return tl::unexpected(backend.error());
  return std::unique_ptr<Backend>(std::move(*backend));
}

std::string DiskBackend::url() const {
  std::string u = "file://" + options_.root;
  if (options_.fsync) u += "?fsync=1";
  return u;
}

std::string DiskBackend::ns_dir(std::string_view ns) const {
  return options_.root + "/objects/" + sha256_hex(as_bytes(ns)).substr(0, 16);
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
  std::string shard = p.hash.substr(0, 2);
  p.dir = ns_dir(ns) + "/" + shard;
  p.file = p.dir + "/" + p.hash;
  p.lock = options_.root + "/locks/" + shard + ".lock";
  return p;
}

std::string DiskBackend::entry_path(std::string_view ns,
                                    std::string_view key) const {
  return paths(ns, key).file;
}

Result<std::optional<Bytes>> DiskBackend::do_get(std::string_view ns,
                                                 std::string_view key,
                                                 Deadline) {
  if (auto ok = check_ns_key(*this, "get", ns, key); !ok) {
    return tl::unexpected(ok.error());
  }
  Paths p = paths(ns, key);
  auto data = local_fs::read_whole(p.file);
  if (!data) return tl::unexpected(data.error());
  if (!*data) return std::optional<Bytes>();
  DecodedEntry e = decode(**data, /*partial=*/false);
  if (e.state == EntryState::kStale) return std::optional<Bytes>();
  if (e.state == EntryState::kCorrupt || e.ns != ns || e.key != key) {
    std::string why = e.state == EntryState::kCorrupt
                          ? e.why
                          : "entry holds a different (namespace, key)";
    return make_error(ErrorCode::kDataLoss, "get: " + why,
                      ErrorLocation{.file = p.file, .key = std::string(key)});
  }
  // Mark as recently used for gc; failure (read-only cache) is harmless.
  ::utimensat(AT_FDCWD, p.file.c_str(), nullptr, 0);
  // Drop the prefix in place rather than copying the value out.
  Bytes value = std::move(**data);
  value.erase(value.begin(), value.begin() + (e.value.data() - value.data()));
  return std::optional<Bytes>(std::move(value));
}

Result<bool> DiskBackend::do_contains(std::string_view ns, std::string_view key,
                                      Deadline) {
  if (auto ok = check_ns_key(*this, "contains", ns, key); !ok) {
    return tl::unexpected(ok.error());
  }
  auto head = read_prefix(paths(ns, key).file, 4);
  if (!head) return tl::unexpected(head.error());
  return *head && header_current(**head);
}

Result<bool> DiskBackend::do_put(std::string_view ns, std::string_view key,
                                 ByteSpan value, PutMode mode,
                                 Deadline deadline) {
  if (auto ok = check_ns_key(*this, "put", ns, key); !ok) {
    return tl::unexpected(ok.error());
  }
  Paths p = paths(ns, key);
  auto exists_current = [&]() -> Result<bool> {
    auto head = read_prefix(p.file, 4);
    if (!head) return tl::unexpected(head.error());
    return *head && header_current(**head);
  };
  if (mode == PutMode::kInsertIfAbsent) {  // Cheap early exit, no lock.
    auto exists = exists_current();
    if (!exists) return tl::unexpected(exists.error());
    if (*exists) return false;
  }
  // Build the entry: header, CRC, names, value.
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
  XXH3_64bits_update(xxh.get(), value.data(), value.size());
  Bytes prefix(header.begin(), header.end());
  prefix.resize(kPrefixSize);
  encode_fixed64_be(prefix.data() + 4, XXH3_64bits_digest(xxh.get()));
  std::array<ByteSpan, 3> parts{ByteSpan(prefix), ByteSpan(names), value};
  auto tmp =
      TempFile::write(options_.root + "/tmp", p.hash, parts, options_.fsync);
  if (!tmp) return tl::unexpected(tmp.error());

  if (auto made = local_fs::make_dirs(p.dir); !made) {
    return tl::unexpected(made.error());
  }
  auto lock = FileLock::acquire(p.lock, deadline, options_.lock_timeout);
  if (!lock) {
    Error e = lock.error();
    return make_error(e.code(),
                      "put: " + e.message() + " (lock " + e.where().file + ")",
                      ErrorLocation{.file = url(), .key = std::string(key)});
  }
  if (mode == PutMode::kInsertIfAbsent) {
    auto exists = exists_current();  // Decisive check, under the lock.
    if (!exists) return tl::unexpected(exists.error());
    if (*exists) return false;
  }
  if (auto r = tmp->commit_replace(p.file); !r) {
    return tl::unexpected(r.error());
  }
  if (options_.fsync) local_fs::fsync_dir(p.dir);
  return true;
}

Result<bool> DiskBackend::do_remove(std::string_view ns, std::string_view key,
                                    Deadline deadline) {
  if (auto ok = check_ns_key(*this, "remove", ns, key); !ok) {
    return tl::unexpected(ok.error());
  }
  Paths p = paths(ns, key);
  auto lock = FileLock::acquire(p.lock, deadline, options_.lock_timeout);
  if (!lock) return tl::unexpected(lock.error());
  if (::unlink(p.file.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return io_error("unlink", p.file, errno);
  }
  return true;
}

Result<std::vector<std::string>> DiskBackend::do_list(std::string_view ns,
                                                      Deadline deadline) {
  std::vector<std::string> keys;
  std::string nd = ns_dir(ns);
  auto shards = local_fs::list_dir(nd);
  if (!shards) return tl::unexpected(shards.error());
  for (const auto& s : *shards) {
    auto files = local_fs::list_dir(nd + "/" + s);
    if (!files) return tl::unexpected(files.error());
    for (const auto& f : *files) {
      if (local_fs::is_temp_name(f)) continue;
      if (deadline.expired()) {
        return backend_error(
            ErrorCode::kDeadlineExceeded, "list",
            "deadline expired after " + std::to_string(keys.size()) + " keys");
      }
      auto names = read_names(nd + "/" + s + "/" + f);
      if (!names) return tl::unexpected(names.error());
      if (*names && (*names)->first == ns) keys.push_back((*names)->second);
    }
  }
  return keys;
}

Result<std::vector<std::string>> DiskBackend::do_namespaces(Deadline) {
  std::vector<std::string> out;
  std::string objects = options_.root + "/objects";
  auto ns_dirs = local_fs::list_dir(objects);
  if (!ns_dirs) return tl::unexpected(ns_dirs.error());
  for (const auto& n : *ns_dirs) {
    // Any current entry names the namespace of the whole directory.
    bool found = false;
    auto shards = local_fs::list_dir(objects + "/" + n);
    if (!shards) continue;
    for (const auto& s : *shards) {
      auto files = local_fs::list_dir(objects + "/" + n + "/" + s);
      if (!files) continue;
      for (const auto& f : *files) {
        if (local_fs::is_temp_name(f)) continue;
        auto names = read_names(objects + "/" + n + "/" + s + "/" + f);
        if (names && *names) {
          out.push_back((*names)->first);
          found = true;
          break;
        }
      }
      if (found) break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<NamespaceUsage>> DiskBackend::usage() {
  std::map<std::string, NamespaceUsage> by_ns;
  for (const auto& f : walk_entries(options_.root + "/objects")) {
    auto names = read_names(f.path);
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
  report.temps_removed = local_fs::remove_stale_temps(options_.root + "/tmp", 0,
                                                      options_.temp_max_age);
  std::vector<EntryFile> live;
  for (auto& f : walk_entries(options_.root + "/objects")) {
    report.bytes_before += f.size;
    auto head = read_prefix(f.path, 4);
    if (head && *head && !header_current(**head)) {
      if (::unlink(f.path.c_str()) == 0) ++report.stale_removed;
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
    std::string name = f.path.substr(f.path.rfind('/') + 1);
    std::string lock_path =
        options_.root + "/locks/" + name.substr(0, 2) + ".lock";
    auto lock =
        FileLock::acquire(lock_path, Deadline::never(), options_.lock_timeout);
    if (!lock) return tl::unexpected(lock.error());
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0) {  // Removed meanwhile.
      total -= f.size;
      continue;
    }
    // Used or rewritten since the walk: no longer least recently used.
    if (st.st_mtim.tv_sec != f.mtime.tv_sec ||
        st.st_mtim.tv_nsec != f.mtime.tv_nsec) {
      continue;
    }
    if (::unlink(f.path.c_str()) == 0) {
      total -= f.size;
      ++report.entries_removed;
    }
  }
  report.bytes_after = total;
  return report;
}

}  // namespace cachepack
