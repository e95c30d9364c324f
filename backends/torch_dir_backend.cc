#include "backends/torch_dir_backend.h"

#include <algorithm>
#include <cerrno>

#include "artifacts/pytorch_hash.h"
#include "backends/key_rules.h"
#include "backends/local_fs.h"
#include "cachepack/artifact_types.h"
#include "cachepack/hash.h"
#include "util/file.h"
#include "util/text.h"

namespace cachepack {
namespace {

using local_fs::Dir;
using local_fs::DirEntry;
using local_fs::EntryKind;
using local_fs::FileLock;

constexpr std::string_view kBestConfig = ".best_config";
constexpr std::string_view kPgoPrefix = "code_state_";
constexpr std::string_view kPgoSuffix = ".pkl";
constexpr size_t kMaxName = 255;  // NAME_MAX on Linux file systems.
// A directory at the root kept for cachepack's own files.
constexpr std::string_view kOwnTopDir = "cachepack";

// Why `name` cannot be the name of one entry directory or file, or empty
// if it can: one path component that no walk mistakes for a temp file.
std::string component_problem(std::string_view name) {
  if (auto why = local_fs::component_problem(name); !why.empty()) return why;
  if (local_fs::is_temp_name(name)) return "ends with the temp suffix .tmp";
  return {};
}

// What a layout's locate returns for a key that cannot be a path there.
tl::unexpected<std::string> not_a_path(std::string why) {
  return tl::unexpected(std::move(why));
}

std::string parent_of(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

std::string leaf_of(const std::string& rel) {
  return rel.substr(rel.rfind('/') + 1);
}

// Types that newer PyTorch releases load into the process itself, through
// load_cache_artifacts(), never from its cache directory.
bool in_process_type(std::string_view ns) {
  return ns == kInductorTriton || ns == kTritonRuntime || ns == kInductorCpp;
}

}  // namespace

std::string sanitize_pgo_key(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (std::string_view("<>:\"/\\|?*").find(c) != std::string_view::npos) {
      c = '_';
    }
  }
  return out;
}

// How PyTorch lays out one artifact type in its cache directory. Every
// per-type decision of this backend reads it: where a key's files go, how
// writers lock them, whether a key holds several values, and how the keys
// are found again. Adding a type is adding an entry to layouts().
struct TorchDirBackend::TypeLayout {
  using Place = tl::expected<Location, std::string>;

  std::string_view type;
  // The directory at the root that holds this type's entries; empty for
  // autotune, whose keys name directories at the root themselves (and may
  // not name one of these).
  std::string_view top_dir;
  // Several content-named files per key (PyTorch's FX-graph and AOTAutograd
  // caches); MultiValued::add puts each next to the others.
  bool multi_valued = false;
  // Each key has a directory of its own below top_dir, removed with its
  // last entry, as are the directories between it and top_dir that this
  // leaves empty (FX graph's shards).
  bool dir_per_key = false;
  // Empty: writers flock the entry's directory. Otherwise they lock the
  // file "<entry file><suffix>" beside the entry, as PyTorch does for PGO.
  std::string_view lock_file_suffix;
  // The key's directory and fixed file name (empty: files named by content
  // hash), or why the key cannot be a path there.
  Place (*locate)(std::string_view key);
  // The keys of this type found under the root.
  Result<std::vector<std::string>> (*list)(const TorchDirBackend& dir);
};

std::span<const TorchDirBackend::TypeLayout> TorchDirBackend::layouts() {
  using Place = TypeLayout::Place;
  using Keys = Result<std::vector<std::string>>;
  static const TypeLayout kLayouts[] = {
      // fxgraph/<key[1:3]>/<key>/<sha256_hash(content)>
      {.type = kInductor,
       .top_dir = "fxgraph",
       .multi_valued = true,
       .dir_per_key = true,
       .locate = [](std::string_view key) -> Place {
         if (auto why = component_problem(key); !why.empty()) {
           return not_a_path(why);
         }
         if (key.size() < 3) return not_a_path("is shorter than 3 characters");
         // PyTorch shards by key[1:3]; ".." there would leave fxgraph/.
         std::string shard(key.substr(1, 2));
         if (auto why = component_problem(shard); !why.empty()) {
           return not_a_path("has characters 2-3 '" + printable(shard) +
                             "', which " + why);
         }
         return Location{.dir = "fxgraph/" + shard + "/" + std::string(key)};
       },
       .list = [](const TorchDirBackend& dir) -> Keys {
         std::vector<std::string> keys;
         CP_ASSIGN_OR_RETURN(auto shards,
                             dir.child_names("fxgraph", EntryKind::kDirectory));
         for (const auto& s : shards) {
           CP_ASSIGN_OR_RETURN(
               auto names,
               dir.child_names("fxgraph/" + s, EntryKind::kDirectory));
           for (const auto& k : names) {
             if (k.size() < 3 || k.substr(1, 2) != s) continue;  // Not ours.
             CP_ASSIGN_OR_RETURN(auto has,
                                 dir.has_entries("fxgraph/" + s + "/" + k));
             if (has) keys.push_back(k);
           }
         }
         return keys;
       }},
      // aotautograd/<key>/<sha256_hash(content)>
      {.type = kAotAutograd,
       .top_dir = "aotautograd",
       .multi_valued = true,
       .dir_per_key = true,
       .locate = [](std::string_view key) -> Place {
         if (auto why = component_problem(key); !why.empty()) {
           return not_a_path(why);
         }
         return Location{.dir = "aotautograd/" + std::string(key)};
       },
       .list = [](const TorchDirBackend& dir) -> Keys {
         std::vector<std::string> keys;
         CP_ASSIGN_OR_RETURN(
             auto names, dir.child_names("aotautograd", EntryKind::kDirectory));
         for (const auto& k : names) {
           CP_ASSIGN_OR_RETURN(auto has, dir.has_entries("aotautograd/" + k));
           if (has) keys.push_back(k);
         }
         return keys;
       }},
      // <key>, which is "<dir>/<name>.best_config"
      {.type = kAutotune,
       .top_dir = "",
       .locate = [](std::string_view key) -> Place {
         size_t slash = key.find('/');
         if (slash == std::string_view::npos) {
           return not_a_path("is not of the form <dir>/<name>.best_config");
         }
         std::string_view dir = key.substr(0, slash);
         std::string_view name = key.substr(slash + 1);
         if (auto why = component_problem(dir); !why.empty()) {
           return not_a_path("directory part " + why);
         }
         if (auto why = component_problem(name); !why.empty()) {
           return not_a_path("file part " + why);
         }
         if (!name.ends_with(kBestConfig) ||
             name.size() == kBestConfig.size()) {
           return not_a_path("does not name a <name>.best_config file");
         }
         if (reserved_top_dir(dir)) {
           return not_a_path(
               "directory part is one of PyTorch's cache directories");
         }
         return Location{.dir = std::string(dir), .file = std::string(name)};
       },
       .list = [](const TorchDirBackend& dir) -> Keys {
         std::vector<std::string> keys;
         CP_ASSIGN_OR_RETURN(auto dirs,
                             dir.child_names("", EntryKind::kDirectory));
         for (const auto& d : dirs) {
           if (reserved_top_dir(d)) continue;
           CP_ASSIGN_OR_RETURN(auto files,
                               dir.child_names(d, EntryKind::kFile));
           for (const auto& f : files) {
             if (f.size() > kBestConfig.size() && f.ends_with(kBestConfig)) {
               keys.push_back(d + "/" + f);
             }
           }
         }
         return keys;
       }},
      // dynamo/code_state_<key, <>:"/\|?* as _>.pkl, locked as PyTorch's
      // pgo.py locks it: FileLock("<path>.lock").
      {.type = kPgo,
       .top_dir = "dynamo",
       .lock_file_suffix = ".lock",
       .locate = [](std::string_view key) -> Place {
         if (key.find('\0') != std::string_view::npos) {
           return not_a_path("contains a NUL byte");
         }
         return Location{.dir = "dynamo",
                         .file = std::string(kPgoPrefix) +
                                 sanitize_pgo_key(key) +
                                 std::string(kPgoSuffix)};
       },
       .list = [](const TorchDirBackend& dir) -> Keys {
         std::vector<std::string> keys;
         CP_ASSIGN_OR_RETURN(auto files,
                             dir.child_names("dynamo", EntryKind::kFile));
         for (const auto& n : files) {
           if (n.size() > kPgoPrefix.size() + kPgoSuffix.size() &&
               n.starts_with(kPgoPrefix) && n.ends_with(kPgoSuffix)) {
             keys.push_back(
                 n.substr(kPgoPrefix.size(),
                          n.size() - kPgoPrefix.size() - kPgoSuffix.size()));
           }
         }
         return keys;
       }},
      // dynamo/<key>/entry
      {.type = kPrecompile,
       .top_dir = "dynamo",
       .dir_per_key = true,
       .locate = [](std::string_view key) -> Place {
         if (auto why = component_problem(key); !why.empty()) {
           return not_a_path(why);
         }
         return Location{.dir = "dynamo/" + std::string(key), .file = "entry"};
       },
       .list = [](const TorchDirBackend& dir) -> Keys {
         std::vector<std::string> keys;
         CP_ASSIGN_OR_RETURN(auto names,
                             dir.child_names("dynamo", EntryKind::kDirectory));
         for (const auto& n : names) {
           CP_ASSIGN_OR_RETURN(auto is_file,
                               dir.is_entry_file("dynamo/" + n, "entry"));
           if (is_file) keys.push_back(n);
         }
         return keys;
       }},
  };
  return kLayouts;
}

const TorchDirBackend::TypeLayout* TorchDirBackend::find_layout(
    std::string_view ns) {
  for (const auto& layout : layouts()) {
    if (layout.type == ns) return &layout;
  }
  return nullptr;
}

bool TorchDirBackend::reserved_top_dir(std::string_view name) {
  if (name == kOwnTopDir) return true;
  for (const auto& layout : layouts()) {
    if (!layout.top_dir.empty() && layout.top_dir == name) return true;
  }
  return false;
}

Result<std::unique_ptr<TorchDirBackend>> TorchDirBackend::open(
    TorchDirOptions options) {
  CP_ASSIGN_OR_RETURN(auto root, local_fs::open_cache_root(
                                     options.root, "PyTorch cache directory"));
  options.root = root.path();
  return std::make_unique<TorchDirBackend>(Tag{}, std::move(options),
                                           std::move(root));
}

Result<std::unique_ptr<Backend>> TorchDirBackend::open_url(
    const BackendUrl& url) {
  auto bad = [&](const std::string& why) {
    return bad_backend_url(url, why, kUrlForm);
  };
  if (!url.host.empty() && url.host != "localhost") {
    return bad("torch:// names a local directory, not host '" + url.host + "'");
  }
  if (url.path.empty()) return bad("no directory path");
  TorchDirOptions options{.root = url.path};
  for (const auto& [name, value] : url.query) {
    if (name == "fsync") {
      CP_ASSIGN_OR_RETURN(options.fsync,
                          parse_url_bool(url, name, value, kUrlForm));
    } else if (name == "lock_timeout_ms") {
      CP_ASSIGN_OR_RETURN(auto n, parse_url_uint(url, name, value, kUrlForm));
      options.lock_timeout = std::chrono::milliseconds(n);
    } else {
      return bad("bad parameter '" + name + "'");
    }
  }
  CP_ASSIGN_OR_RETURN(auto backend, open(std::move(options)));
  return std::unique_ptr<Backend>(std::move(backend));
}

std::string TorchDirBackend::url() const {
  return "torch://" + options_.root + (options_.fsync ? "?fsync=1" : "");
}

Result<const TorchDirBackend::TypeLayout*> TorchDirBackend::layout_of(
    std::string_view ns, std::optional<std::string_view> key) const {
  if (const TypeLayout* layout = find_layout(ns)) return layout;
  ErrorLocation where{.url = url()};
  if (key) where.key = std::string(*key);
  if (in_process_type(ns)) {
    return make_error(
        ErrorCode::kUnimplemented, ErrorReason::kUnknownType,
        "PyTorch keeps " + std::string(ns) +
            " artifacts in memory, not in its cache directory: load the "
            "bundle with torch.compiler.load_cache_artifacts() (cachepack "
            "convert --to pytorch) to use them",
        std::move(where));
  }
  return make_error(ErrorCode::kUnimplemented, ErrorReason::kUnknownType,
                    "no PyTorch layout known for type " + printable(ns),
                    std::move(where));
}

Result<TorchDirBackend::Location> TorchDirBackend::locate(
    std::string_view op, std::string_view ns, std::string_view key) const {
  CP_TRY(check_ns_key(*this, op, ns, key));
  CP_ASSIGN_OR_RETURN(const TypeLayout* layout, layout_of(ns, key));
  auto bad_key = [&](const std::string& why) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
        std::string(op) + ": " + std::string(ns) + " key " + why +
            ", so it cannot be a file name inside the PyTorch cache directory",
        ErrorLocation{.url = url(), .key = std::string(key)});
  };
  auto place = layout->locate(key);
  if (!place) return bad_key(place.error());
  Location loc = std::move(*place);
  loc.layout = layout;
  if (!layout->lock_file_suffix.empty()) {
    loc.lock = loc.file + std::string(layout->lock_file_suffix);
    // The lock file must be a valid name too.
    if (loc.lock.size() > kMaxName) return bad_key("is too long");
  }
  return loc;
}

Result<std::string> TorchDirBackend::artifact_path(std::string_view ns,
                                                   std::string_view key,
                                                   ByteSpan content) const {
  CP_ASSIGN_OR_RETURN(auto loc, locate("path", ns, key));
  return root_.child(loc.dir) + "/" +
         (loc.file.empty() ? pytorch_sha256_hash(content) : loc.file);
}

void TorchDirBackend::skipped(const std::string& path,
                              std::string_view why) const {
  notice("skipped " + path + ": " + std::string(why));
}

Result<std::optional<Dir>> TorchDirBackend::find_dir(
    const std::string& rel) const {
  auto dir = root_.find_dir(rel);
  if (!dir && dir.error().reason() == ErrorReason::kUnsafePath) {
    skipped(dir.error().where().file, dir.error().message());
    return std::optional<Dir>();
  }
  return dir;
}

Result<std::vector<DirEntry>> TorchDirBackend::list_entries(
    const Dir& dir) const {
  CP_ASSIGN_OR_RETURN(auto entries, dir.list());
  std::vector<DirEntry> out;
  for (auto& e : entries) {
    if (e.kind == EntryKind::kSymlink || e.kind == EntryKind::kOther) {
      skipped(dir.child(e.name), local_fs::describe(e.kind));
    } else {
      out.push_back(std::move(e));
    }
  }
  return out;
}

Result<std::optional<Bytes>> TorchDirBackend::read_entry(
    const Dir& dir, std::string_view name) const {
  auto data = dir.read_file(name);
  if (!data && data.error().reason() == ErrorReason::kUnsafePath) {
    skipped(data.error().where().file, data.error().message());
    return std::optional<Bytes>();
  }
  return data;
}

Result<std::vector<std::string>> TorchDirBackend::entry_files(
    const Dir& dir) const {
  CP_ASSIGN_OR_RETURN(auto entries, list_entries(dir));
  std::vector<std::pair<timespec, std::string>> files;
  for (const auto& e : entries) {
    if (local_fs::is_temp_name(e.name)) continue;
    if (e.kind != EntryKind::kFile) {
      skipped(dir.child(e.name), "is a directory where an entry file belongs");
      continue;
    }
    CP_ASSIGN_OR_RETURN(auto info, dir.stat(e.name));
    if (!info || info->kind != EntryKind::kFile) continue;  // Gone.
    files.emplace_back(info->mtime, e.name);
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    if (a.first.tv_sec != b.first.tv_sec)
      return a.first.tv_sec > b.first.tv_sec;
    if (a.first.tv_nsec != b.first.tv_nsec) {
      return a.first.tv_nsec > b.first.tv_nsec;
    }
    return a.second > b.second;
  });
  std::vector<std::string> out;
  for (auto& [_, name] : files) out.push_back(std::move(name));
  return out;
}

void TorchDirBackend::clean_once(const Dir& dir) {
  {
    std::lock_guard lock(cleaned_mutex_);
    if (!cleaned_.insert(dir.path()).second) return;
  }
  // Only temp files whose writer provably exited: PyTorch and other
  // cachepack processes may be writing here right now.
  local_fs::remove_dead_temps(dir, std::nullopt);
}

Result<std::optional<Bytes>> TorchDirBackend::do_get(std::string_view ns,
                                                     std::string_view key,
                                                     Deadline) {
  CP_ASSIGN_OR_RETURN(auto loc, locate("get", ns, key));
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(loc.dir));
  if (!dir) return std::optional<Bytes>();
  if (!loc.file.empty()) return read_entry(*dir, loc.file);
  CP_ASSIGN_OR_RETURN(auto files, entry_files(*dir));
  for (const auto& f : files) {
    CP_ASSIGN_OR_RETURN(auto data, read_entry(*dir, f));
    if (data) return data;  // Else removed meanwhile: try the next one.
  }
  return std::optional<Bytes>();
}

Result<bool> TorchDirBackend::do_contains(std::string_view ns,
                                          std::string_view key, Deadline) {
  CP_ASSIGN_OR_RETURN(auto loc, locate("contains", ns, key));
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(loc.dir));
  if (!dir) return false;
  if (!loc.file.empty()) {
    CP_ASSIGN_OR_RETURN(auto info, dir->stat(loc.file));
    return info && info->kind == EntryKind::kFile;
  }
  CP_ASSIGN_OR_RETURN(auto files, entry_files(*dir));
  return !files.empty();
}

Result<bool> TorchDirBackend::do_put(std::string_view ns, std::string_view key,
                                     ByteSpan value, PutMode mode,
                                     Deadline deadline) {
  SpanSource source(value);
  return do_put_stream(ns, key, source, mode, deadline);
}

Result<bool> TorchDirBackend::do_put_stream(std::string_view ns,
                                            std::string_view key,
                                            ContentSource& source, PutMode mode,
                                            Deadline deadline) {
  return write(ns, key, source,
               mode == PutMode::kOverwrite ? WriteMode::kReplaceAll
                                           : WriteMode::kIfKeyAbsent,
               deadline);
}

Result<bool> TorchDirBackend::add_stream(std::string_view ns,
                                         std::string_view key,
                                         ContentSource& value, PutMode mode,
                                         Deadline deadline) {
  return write(
      ns, key, value,
      mode == PutMode::kOverwrite ? WriteMode::kAddReplace : WriteMode::kAdd,
      deadline);
}

Result<bool> TorchDirBackend::write(std::string_view ns, std::string_view key,
                                    ContentSource& value, WriteMode mode,
                                    Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto loc, locate("put", ns, key));
  auto with_key = [&](Error e) {
    return tl::unexpected(std::move(e).with_key(std::string(key)));
  };
  auto dir = root_.make_dir(loc.dir);
  if (!dir) return with_key(dir.error());
  clean_once(*dir);
  const bool by_content = loc.file.empty();
  // Files under the key: the fixed one, or every content-named one.
  auto existing = [&]() -> Result<std::vector<std::string>> {
    if (by_content) return entry_files(*dir);
    CP_ASSIGN_OR_RETURN(auto info, dir->stat(loc.file));
    if (!info) return std::vector<std::string>();
    if (info->kind != EntryKind::kFile) {
      return local_fs::unsafe_path(dir->child(loc.file),
                                   "is not a regular file");
    }
    return std::vector<std::string>{loc.file};
  };
  std::optional<std::string> name;
  if (!by_content) {
    name = loc.file;
  } else if (auto digest = value.known_sha256()) {
    name = pytorch_sha256_hash(*digest);
  }
  // Cheap early exits before reading the content (decided again under the
  // lock below).
  if (mode == WriteMode::kIfKeyAbsent || (mode == WriteMode::kAdd && name)) {
    auto files = existing();
    if (!files) return with_key(files.error());
    if (mode == WriteMode::kIfKeyAbsent
            ? !files->empty()
            : std::find(files->begin(), files->end(), *name) != files->end()) {
      return false;
    }
  }
  auto tmp = dir->create_temp("." + (name ? name->substr(0, 100) : "entry"));
  if (!tmp) return with_key(tmp.error());
  Sha256 hash;
  const bool hashing = !name;
  while (true) {
    auto piece = value.next();
    if (!piece) return with_key(piece.error());
    if (piece->empty()) break;
    if (hashing) hash.update(*piece);
    if (auto w = tmp->write(*piece); !w) return with_key(w.error());
  }
  if (auto c = tmp->close(options_.fsync); !c) return with_key(c.error());
  if (!name) name = pytorch_sha256_hash(hash.finish());

  auto lock =
      loc.lock.empty()
          ? FileLock::acquire_dir(*dir, deadline, options_.lock_timeout)
          : FileLock::acquire(*dir, loc.lock, deadline, options_.lock_timeout);
  if (!lock) return local_fs::lock_error(*this, "put", key, lock.error());
  auto files = existing();
  if (!files) return with_key(files.error());
  switch (mode) {
    case WriteMode::kIfKeyAbsent:
      if (!files->empty()) return false;
      break;
    case WriteMode::kAdd:
      // For a fixed file name this is the same as kIfKeyAbsent.
      if (std::find(files->begin(), files->end(), *name) != files->end()) {
        return false;
      }
      break;
    case WriteMode::kReplaceAll:
    case WriteMode::kAddReplace:
      break;
  }
  if (auto r = tmp->commit_replace(*dir, *name); !r) return with_key(r.error());
  if (mode == WriteMode::kReplaceAll) {  // One value per key from now on.
    for (const auto& f : *files) {
      if (f != *name) (void)dir->unlink(f);
    }
  }
  if (options_.fsync) dir->fsync();
  return true;
}

bool TorchDirBackend::multi_valued(std::string_view ns) const {
  const TypeLayout* layout = find_layout(ns);
  return layout != nullptr && layout->multi_valued;
}

Result<std::vector<Bytes>> TorchDirBackend::get_all(std::string_view ns,
                                                    std::string_view key,
                                                    Deadline deadline) {
  std::vector<Bytes> out;
  if (!multi_valued(ns)) {
    CP_ASSIGN_OR_RETURN(auto one, do_get(ns, key, deadline));
    if (one) out.push_back(std::move(*one));
    return out;
  }
  CP_ASSIGN_OR_RETURN(auto loc, locate("get", ns, key));
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(loc.dir));
  if (!dir) return out;
  CP_ASSIGN_OR_RETURN(auto files, entry_files(*dir));
  for (auto f = files.rbegin(); f != files.rend(); ++f) {
    CP_ASSIGN_OR_RETURN(auto data, read_entry(*dir, *f));
    if (data) out.push_back(std::move(*data));
  }
  return out;
}

Result<bool> TorchDirBackend::do_remove(std::string_view ns,
                                        std::string_view key,
                                        Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto loc, locate("remove", ns, key));
  CP_ASSIGN_OR_RETURN(auto dir,
                      with_key(root_.find_dir(loc.dir), std::string(key)));
  if (!dir) return false;
  bool removed = false;
  {
    CP_ASSIGN_OR_RETURN(
        auto lock,
        loc.lock.empty()
            ? FileLock::acquire_dir(*dir, deadline, options_.lock_timeout)
            : FileLock::acquire(*dir, loc.lock, deadline,
                                options_.lock_timeout));
    std::vector<std::string> files;
    if (loc.file.empty()) {
      CP_ASSIGN_OR_RETURN(auto listed, entry_files(*dir));
      files = std::move(listed);
    } else {
      files.push_back(loc.file);
    }
    for (const auto& f : files) {
      CP_ASSIGN_OR_RETURN(auto gone, dir->unlink(f));
      removed = removed || gone;
    }
  }
  // Per-key directories go away with their last entry, and so do the
  // directories above them that this leaves empty, up to the type's top
  // directory (rmdir refuses if anything is left, e.g. another writer's temp
  // file).
  if (loc.layout->dir_per_key) {
    for (std::string rel = loc.dir;
         rel != loc.layout->top_dir && rel.find('/') != std::string::npos;
         rel = parent_of(rel)) {
      auto parent = root_.find_dir(parent_of(rel));
      if (!parent || !*parent) break;
      (*parent)->remove_empty_dir(leaf_of(rel));
    }
  }
  return removed;
}

Result<std::vector<std::string>> TorchDirBackend::child_names(
    const std::string& rel, EntryKind kind) const {
  std::vector<std::string> names;
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(rel));
  if (!dir) return names;
  CP_ASSIGN_OR_RETURN(auto entries, list_entries(*dir));
  for (auto& e : entries) {
    if (e.kind == kind && !local_fs::is_temp_name(e.name)) {
      names.push_back(std::move(e.name));
    }
  }
  return names;
}

Result<bool> TorchDirBackend::has_entries(const std::string& rel) const {
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(rel));
  if (!dir) return false;
  CP_ASSIGN_OR_RETURN(auto files, entry_files(*dir));
  return !files.empty();
}

Result<bool> TorchDirBackend::is_entry_file(const std::string& rel,
                                            const std::string& name) const {
  CP_ASSIGN_OR_RETURN(auto dir, find_dir(rel));
  if (!dir) return false;
  CP_ASSIGN_OR_RETURN(auto info, dir->stat(name));
  if (!info) return false;
  if (info->kind == EntryKind::kSymlink || info->kind == EntryKind::kOther) {
    skipped(dir->child(name), local_fs::describe(info->kind));
  }
  return info->kind == EntryKind::kFile;
}

Result<std::vector<std::string>> TorchDirBackend::do_list(std::string_view ns,
                                                          Deadline) {
  CP_TRY(check_ns(*this, "list", ns));
  CP_ASSIGN_OR_RETURN(const TypeLayout* layout, layout_of(ns, std::nullopt));
  return layout->list(*this);
}

Result<std::vector<std::string>> TorchDirBackend::do_namespaces(Deadline) {
  std::vector<std::string> out;
  for (const auto& layout : layouts()) {
    CP_ASSIGN_OR_RETURN(auto keys, layout.list(*this));
    if (!keys.empty()) out.emplace_back(layout.type);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cachepack
