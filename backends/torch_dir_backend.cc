#include "backends/torch_dir_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "artifacts/pytorch_hash.h"
#include "artifacts/type_registry.h"
#include "backends/key_rules.h"
#include "backends/local_fs.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/text.h"

namespace cachepack {
namespace {

using local_fs::FileLock;
using local_fs::TempFile;

constexpr std::string_view kTorchForm =
    "torch:///absolute/cache/dir[?fsync=1&lock_timeout_ms=N]";
constexpr std::string_view kBestConfig = ".best_config";
constexpr std::string_view kPgoPrefix = "code_state_";
constexpr std::string_view kPgoSuffix = ".pkl";
constexpr size_t kMaxName = 255;  // NAME_MAX on Linux file systems.

// Directories at the root that are not autotune kernel directories.
bool reserved_top_dir(std::string_view name) {
  return name == "fxgraph" || name == "aotautograd" || name == "dynamo" ||
         name == "cachepack";
}

// Why `name` cannot be one path component, or empty if it can.
std::string component_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "is a relative path component";
  if (name.size() > kMaxName) return "is longer than 255 bytes";
  if (name.find('/') != std::string_view::npos) return "contains '/'";
  if (name.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (local_fs::is_temp_name(name)) return "ends with the temp suffix .tmp";
  return {};
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool known_type(std::string_view ns) {
  return ns == kInductor || ns == kAotAutograd || ns == kAutotune ||
         ns == kPgo || ns == kPrecompile || ns == kInductorTriton;
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

Result<std::unique_ptr<TorchDirBackend>> TorchDirBackend::open(
    TorchDirOptions options) {
  if (options.root.empty() || options.root.front() != '/') {
    return make_error(ErrorCode::kInvalidArgument,
                      "PyTorch cache directory must be an absolute path",
                      ErrorLocation{.file = options.root});
  }
  while (options.root.size() > 1 && options.root.back() == '/') {
    options.root.pop_back();
  }
  if (auto r = local_fs::make_dirs(options.root); !r) {
    return tl::unexpected(r.error());
  }
  return std::make_unique<TorchDirBackend>(Tag{}, std::move(options));
}

Result<std::unique_ptr<Backend>> TorchDirBackend::open_url(
    const BackendUrl& url) {
  auto bad = [&](const std::string& why) {
    return bad_backend_url(url, why, kTorchForm);
  };
  if (!url.host.empty() && url.host != "localhost") {
    return bad("torch:// names a local directory, not host '" + url.host + "'");
  }
  if (url.path.empty()) return bad("no directory path");
  TorchDirOptions options{.root = url.path};
  for (const auto& [name, value] : url.query) {
    if (name == "fsync" && (value == "0" || value == "1")) {
      options.fsync = value == "1";
    } else if (name == "lock_timeout_ms") {
      auto n = parse_url_uint(url, name, value, kTorchForm);
      if (!n) return tl::unexpected(n.error());
      options.lock_timeout = std::chrono::milliseconds(*n);
    } else {
      return bad("bad parameter '" + name + "'");
    }
  }
  auto backend = open(std::move(options));
  if (!backend) return tl::unexpected(backend.error());
  return std::unique_ptr<Backend>(std::move(*backend));
}

std::string TorchDirBackend::url() const {
  return "torch://" + options_.root + (options_.fsync ? "?fsync=1" : "");
}

Result<TorchDirBackend::Location> TorchDirBackend::locate(
    std::string_view op, std::string_view ns, std::string_view key) const {
  if (auto ok = check_ns_key(*this, op, ns, key); !ok) {
    return tl::unexpected(ok.error());
  }
  auto bad_key = [&](const std::string& why) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
        std::string(op) + ": " + std::string(ns) + " key " + why +
            ", so it cannot be a file name inside the PyTorch cache directory",
        ErrorLocation{.file = url(), .key = std::string(key)});
  };
  const std::string& root = options_.root;
  Location loc;
  if (ns == kInductor || ns == kAotAutograd || ns == kPrecompile ||
      ns == kInductorTriton) {
    if (auto why = component_problem(key); !why.empty()) return bad_key(why);
    if (ns == kInductor) {
      if (key.size() < 3) return bad_key("is shorter than 3 characters");
      loc.dir = root + "/fxgraph/" + std::string(key.substr(1, 2)) + "/" +
                std::string(key);
    } else if (ns == kAotAutograd) {
      loc.dir = root + "/aotautograd/" + std::string(key);
    } else if (ns == kPrecompile) {
      loc.dir = root + "/dynamo/" + std::string(key);
      loc.file = "entry";
    } else {
      loc.dir = root + "/cachepack/inductor_triton";
      loc.file = std::string(key);
    }
    loc.lock = loc.dir;
    return loc;
  }
  if (ns == kAutotune) {
    size_t slash = key.find('/');
    if (slash == std::string_view::npos) {
      return bad_key("is not of the form <dir>/<name>.best_config");
    }
    std::string_view dir = key.substr(0, slash);
    std::string_view name = key.substr(slash + 1);
    if (auto why = component_problem(dir); !why.empty()) {
      return bad_key("directory part " + why);
    }
    if (auto why = component_problem(name); !why.empty()) {
      return bad_key("file part " + why);
    }
    if (!name.ends_with(kBestConfig) || name.size() == kBestConfig.size()) {
      return bad_key("does not name a <name>.best_config file");
    }
    if (reserved_top_dir(dir)) {
      return bad_key("directory part is one of PyTorch's cache directories");
    }
    loc.dir = root + "/" + std::string(dir);
    loc.file = std::string(name);
    loc.lock = loc.dir;
    return loc;
  }
  if (ns == kPgo) {
    if (key.find('\0') != std::string_view::npos) {
      return bad_key("contains a NUL byte");
    }
    loc.file = std::string(kPgoPrefix) + sanitize_pgo_key(key) +
               std::string(kPgoSuffix);
    // The lock file "<name>.lock" must be a valid name too.
    if (loc.file.size() + 5 > kMaxName) return bad_key("is too long");
    loc.dir = root + "/dynamo";
    // PyTorch's pgo.py guards this file with FileLock("<path>.lock").
    loc.lock = loc.dir + "/" + loc.file + ".lock";
    loc.lock_is_dir = false;
    return loc;
  }
  return make_error(
      ErrorCode::kUnimplemented, ErrorReason::kUnknownType,
      std::string(op) + ": PyTorch's cache directory has no place for type '" +
          printable(ns) +
          "'; it holds inductor, aot_autograd, autotune, pgo, precompile "
          "and inductor_triton",
      ErrorLocation{.file = url(), .key = std::string(key)});
}

Result<std::string> TorchDirBackend::artifact_path(std::string_view ns,
                                                   std::string_view key,
                                                   ByteSpan content) const {
  auto loc = locate("path", ns, key);
  if (!loc) return tl::unexpected(loc.error());
  return loc->dir + "/" +
         (loc->file.empty() ? pytorch_sha256_hash(content) : loc->file);
}

Result<std::vector<std::string>> TorchDirBackend::entry_files(
    const std::string& dir) const {
  auto names = local_fs::list_dir(dir);
  if (!names) return tl::unexpected(names.error());
  std::vector<std::pair<timespec, std::string>> files;
  for (const auto& n : *names) {
    if (local_fs::is_temp_name(n)) continue;
    struct stat st {};
    std::string path = dir + "/" + n;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files.emplace_back(st.st_mtim, path);
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
  for (auto& [_, path] : files) out.push_back(std::move(path));
  return out;
}

Result<std::optional<Bytes>> TorchDirBackend::do_get(std::string_view ns,
                                                     std::string_view key,
                                                     Deadline) {
  auto loc = locate("get", ns, key);
  if (!loc) return tl::unexpected(loc.error());
  if (!loc->file.empty())
    return local_fs::read_whole(loc->dir + "/" + loc->file);
  auto files = entry_files(loc->dir);
  if (!files) return tl::unexpected(files.error());
  for (const auto& f : *files) {
    auto data = local_fs::read_whole(f);
    if (!data) return tl::unexpected(data.error());
    if (*data) return data;  // Else removed meanwhile: try the next one.
  }
  return std::optional<Bytes>();
}

Result<bool> TorchDirBackend::do_contains(std::string_view ns,
                                          std::string_view key, Deadline) {
  auto loc = locate("contains", ns, key);
  if (!loc) return tl::unexpected(loc.error());
  if (!loc->file.empty()) return is_file(loc->dir + "/" + loc->file);
  auto files = entry_files(loc->dir);
  if (!files) return tl::unexpected(files.error());
  return !files->empty();
}

Result<bool> TorchDirBackend::do_put(std::string_view ns, std::string_view key,
                                     ByteSpan value, PutMode mode,
                                     Deadline deadline) {
  return write(ns, key, value,
               mode == PutMode::kOverwrite ? WriteMode::kReplaceAll
                                           : WriteMode::kIfKeyAbsent,
               deadline);
}

Result<bool> TorchDirBackend::add(std::string_view ns, std::string_view key,
                                  ByteSpan value, PutMode mode,
                                  Deadline deadline) {
  return write(
      ns, key, value,
      mode == PutMode::kOverwrite ? WriteMode::kAddReplace : WriteMode::kAdd,
      deadline);
}

Result<bool> TorchDirBackend::write(std::string_view ns, std::string_view key,
                                    ByteSpan value, WriteMode mode,
                                    Deadline deadline) {
  auto loc = locate("put", ns, key);
  if (!loc) return tl::unexpected(loc.error());
  std::string name = loc->file.empty() ? pytorch_sha256_hash(value) : loc->file;
  std::string target = loc->dir + "/" + name;
  if (auto made = local_fs::make_dirs(loc->dir); !made) {
    return tl::unexpected(made.error());
  }
  std::array<ByteSpan, 1> parts{value};
  // Hidden, and short enough that a 255-byte target name still leaves
  // room for the temp suffix.
  auto tmp = TempFile::write(loc->dir, "." + name.substr(0, 200), parts,
                             options_.fsync);
  if (!tmp) return tl::unexpected(tmp.error());
  auto lock = FileLock::acquire(loc->lock, deadline, options_.lock_timeout,
                                /*create=*/!loc->lock_is_dir);
  if (!lock) {
    Error e = lock.error();
    return make_error(e.code(),
                      "put: " + e.message() + " (lock " + e.where().file + ")",
                      ErrorLocation{.file = url(), .key = std::string(key)});
  }
  std::vector<std::string> existing;
  if (loc->file.empty()) {
    auto files = entry_files(loc->dir);
    if (!files) return tl::unexpected(files.error());
    existing = std::move(*files);
  } else if (is_file(target)) {
    existing.push_back(target);
  }
  switch (mode) {
    case WriteMode::kIfKeyAbsent:
      if (!existing.empty()) return false;
      break;
    case WriteMode::kAdd:
      // For a fixed file name this is the same as kIfKeyAbsent.
      if (std::find(existing.begin(), existing.end(), target) !=
          existing.end()) {
        return false;
      }
      break;
    case WriteMode::kReplaceAll:
    case WriteMode::kAddReplace:
      break;
  }
  if (auto r = tmp->commit_replace(target); !r) {
    return tl::unexpected(r.error());
  }
  if (mode == WriteMode::kReplaceAll) {  // One value per key from now on.
    for (const auto& f : existing) {
      if (f != target) ::unlink(f.c_str());
    }
  }
  if (options_.fsync) local_fs::fsync_dir(loc->dir);
  return true;
}

bool TorchDirBackend::multi_valued(std::string_view ns) const {
  return ns == kInductor || ns == kAotAutograd;
}

Result<std::vector<Bytes>> TorchDirBackend::get_all(std::string_view ns,
                                                    std::string_view key,
                                                    Deadline deadline) {
  std::vector<Bytes> out;
  if (!multi_valued(ns)) {
    auto one = do_get(ns, key, deadline);
    if (!one) return tl::unexpected(one.error());
    if (*one) out.push_back(std::move(**one));
    return out;
  }
  auto loc = locate("get", ns, key);
  if (!loc) return tl::unexpected(loc.error());
  auto files = entry_files(loc->dir);
  if (!files) return tl::unexpected(files.error());
  for (auto f = files->rbegin(); f != files->rend(); ++f) {
    auto data = local_fs::read_whole(*f);
    if (!data) return tl::unexpected(data.error());
    if (*data) out.push_back(std::move(**data));
  }
  return out;
}

Result<bool> TorchDirBackend::do_remove(std::string_view ns,
                                        std::string_view key,
                                        Deadline deadline) {
  auto loc = locate("remove", ns, key);
  if (!loc) return tl::unexpected(loc.error());
  if (!is_dir(loc->dir)) return false;
  bool removed = false;
  {
    auto lock = FileLock::acquire(loc->lock, deadline, options_.lock_timeout,
                                  /*create=*/!loc->lock_is_dir);
    if (!lock) return tl::unexpected(lock.error());
    std::vector<std::string> files;
    if (loc->file.empty()) {
      auto listed = entry_files(loc->dir);
      if (!listed) return tl::unexpected(listed.error());
      files = std::move(*listed);
    } else {
      files.push_back(loc->dir + "/" + loc->file);
    }
    for (const auto& f : files) {
      if (::unlink(f.c_str()) == 0) {
        removed = true;
      } else if (errno != ENOENT) {
        return io_error("unlink", f, errno);
      }
    }
  }
  // Per-key directories go away with their last entry (rmdir refuses if
  // anything is left, e.g. another writer's temp file).
  if (ns == kInductor || ns == kAotAutograd || ns == kPrecompile) {
    ::rmdir(loc->dir.c_str());
  }
  if (ns == kInductor) ::rmdir(loc->dir.substr(0, loc->dir.rfind('/')).c_str());
  return removed;
}

Result<std::vector<std::string>> TorchDirBackend::do_list(std::string_view ns,
                                                          Deadline) {
  if (!known_type(ns)) {
    auto loc = locate("list", ns, "x");  // Builds the kUnimplemented error.
    return tl::unexpected(loc.error());
  }
  const std::string& root = options_.root;
  std::vector<std::string> keys;
  auto add_if_has_entries = [&](const std::string& dir,
                                const std::string& key) -> Result<void> {
    auto files = entry_files(dir);
    if (!files) return tl::unexpected(files.error());
    if (!files->empty()) keys.push_back(key);
    return {};
  };
  if (ns == kInductor) {
    auto shards = local_fs::list_dir(root + "/fxgraph");
    if (!shards) return tl::unexpected(shards.error());
    for (const auto& s : *shards) {
      auto dirs = local_fs::list_dir(root + "/fxgraph/" + s);
      if (!dirs) return tl::unexpected(dirs.error());
      for (const auto& k : *dirs) {
        if (k.size() < 3 || k.substr(1, 2) != s) continue;  // Not PyTorch's.
        auto r = add_if_has_entries(root + "/fxgraph/" + s + "/" + k, k);
        if (!r) return tl::unexpected(r.error());
      }
    }
  } else if (ns == kAotAutograd) {
    auto dirs = local_fs::list_dir(root + "/aotautograd");
    if (!dirs) return tl::unexpected(dirs.error());
    for (const auto& k : *dirs) {
      auto r = add_if_has_entries(root + "/aotautograd/" + k, k);
      if (!r) return tl::unexpected(r.error());
    }
  } else if (ns == kAutotune) {
    auto dirs = local_fs::list_dir(root);
    if (!dirs) return tl::unexpected(dirs.error());
    for (const auto& d : *dirs) {
      if (reserved_top_dir(d) || !is_dir(root + "/" + d)) continue;
      auto files = local_fs::list_dir(root + "/" + d);
      if (!files) return tl::unexpected(files.error());
      for (const auto& f : *files) {
        if (f.size() > kBestConfig.size() && f.ends_with(kBestConfig) &&
            is_file(root + "/" + d + "/" + f)) {
          keys.push_back(d + "/" + f);
        }
      }
    }
  } else if (ns == kPgo || ns == kPrecompile) {
    auto names = local_fs::list_dir(root + "/dynamo");
    if (!names) return tl::unexpected(names.error());
    for (const auto& n : *names) {
      std::string path = root + "/dynamo/" + n;
      if (ns == kPgo) {
        if (n.size() > kPgoPrefix.size() + kPgoSuffix.size() &&
            n.starts_with(kPgoPrefix) && n.ends_with(kPgoSuffix) &&
            is_file(path)) {
          keys.push_back(
              n.substr(kPgoPrefix.size(),
                       n.size() - kPgoPrefix.size() - kPgoSuffix.size()));
        }
      } else if (is_file(path + "/entry")) {
        keys.push_back(n);
      }
    }
  } else {
    auto names = local_fs::list_dir(root + "/cachepack/inductor_triton");
    if (!names) return tl::unexpected(names.error());
    for (const auto& n : *names) {
      if (!local_fs::is_temp_name(n)) keys.push_back(n);
    }
  }
  return keys;
}

Result<std::vector<std::string>> TorchDirBackend::do_namespaces(
    Deadline deadline) {
  std::vector<std::string> out;
  for (std::string_view ns : {kAotAutograd, kAutotune, kInductor,
                              kInductorTriton, kPgo, kPrecompile}) {
    auto keys = do_list(ns, deadline);
    if (!keys) return tl::unexpected(keys.error());
    if (!keys->empty()) out.emplace_back(ns);
  }
  return out;
}

}  // namespace cachepack
