// PyTorch's own local cache directory ($TORCHINDUCTOR_CACHE_DIR) seen as a
// backend. put() writes each artifact exactly where PyTorch's
// populate_cache() puts it (spec 2.3), atomically; list() and get() walk
// such a directory so a warm cache can be exported without Python:
//   inductor      fxgraph/<key[1:3]>/<key>/<sha256_hash(content)>
//   aot_autograd  aotautograd/<key>/<sha256_hash(content)>
//   autotune      <key>   (key = "<dir>/<name>.best_config")
//   pgo           dynamo/code_state_<key, <>:"/\|?* as _>.pkl
//   precompile    dynamo/<key>/entry
// Those are the five types torch 2.13 registers, and each warms PyTorch
// from the directory. Types that newer releases load into the process
// itself (inductor_triton, triton_runtime, inductor_cpp) and types without
// a known layout have no place here: put is kUnimplemented saying why, and
// populate skips them.
// sha256_hash(c) is PyTorch's: lowercase first 51 chars of base32(sha256(c)).
// Limits, by PyTorch's design: PGO file names are sanitised, so list()
// returns the sanitised key. FX graph and AOTAutograd directories may hold
// several entries per key: through Backend, get() returns the newest (by
// mtime) and overwrite leaves one; through MultiValued, get_all() and add()
// see and keep them all (populate and export use that).
// Every access goes through local_fs::Dir: no link below the root is
// followed. Writes refuse one (kUnsafePath); reads and walks skip links,
// FIFOs, devices and stray directories and report each once (notices()).
// A write first removes the temp files that crashed writers left in the
// directory it writes to. The layout of each type is one entry of a table
// (TypeLayout, in torch_dir_backend.cc).
#ifndef CACHEPACK_BACKENDS_TORCH_DIR_BACKEND_H_
#define CACHEPACK_BACKENDS_TORCH_DIR_BACKEND_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "backends/local_fs.h"
#include "backends/multi_value.h"
#include "cachepack/backend.h"
#include "cachepack/url.h"

namespace cachepack {

struct TorchDirOptions {
  std::string root;  // Absolute path; created if missing.
  bool fsync = false;
  std::chrono::milliseconds lock_timeout{60'000};
};

// The PGO file-name form of a key: each of <>:"/\|?* becomes '_'.
std::string sanitize_pgo_key(std::string_view key);

class TorchDirBackend final : public Backend, public MultiValued {
  // Only the factory constructs (it validates first); the private tag lets it
  // use std::make_unique.
  struct Tag {
    explicit Tag() = default;
  };

 public:
  static constexpr std::string_view kUrlForm =
      "torch:///absolute/cache/dir[?fsync=1&lock_timeout_ms=N]";

  TorchDirBackend(Tag, TorchDirOptions options, local_fs::Dir root)
      : options_(std::move(options)), root_(std::move(root)) {}
  static Result<std::unique_ptr<TorchDirBackend>> open(TorchDirOptions options);
  // From a URL of kUrlForm.
  static Result<std::unique_ptr<Backend>> open_url(const BackendUrl& url);

  std::string url() const override;

  // The file PyTorch would write for this artifact. kInvalidArgument /
  // kInvalidKey for a key that would leave the root or break the type's
  // path shape; kUnimplemented for a type PyTorch has no directory for.
  Result<std::string> artifact_path(std::string_view ns, std::string_view key,
                                    ByteSpan content) const;

  // inductor and aot_autograd.
  bool multi_valued(std::string_view ns) const override;
  Result<std::vector<Bytes>> get_all(std::string_view ns, std::string_view key,
                                     Deadline deadline) override;
  Result<bool> add_stream(std::string_view ns, std::string_view key,
                          ContentSource& value, PutMode mode,
                          Deadline deadline) override;

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline deadline) override;
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan value,
                      PutMode mode, Deadline deadline) override;
  Result<bool> do_put_stream(std::string_view ns, std::string_view key,
                             ContentSource& source, PutMode mode,
                             Deadline deadline) override;
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline deadline) override;
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline deadline) override;
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline deadline) override;
  Result<std::vector<std::string>> do_namespaces(Deadline deadline) override;

 private:
  // How PyTorch lays out one artifact type (torch_dir_backend.cc).
  struct TypeLayout;
  // Where one (ns, key) lives, relative to the root.
  struct Location {
    std::string dir;   // Directory holding the entry file(s).
    std::string file;  // Fixed file name; empty when named by content hash.
    std::string lock;  // Lock file in `dir`; empty: lock `dir` itself.
    const TypeLayout* layout = nullptr;
  };
  // One entry per type PyTorch keeps files of.
  static std::span<const TypeLayout> layouts();
  static const TypeLayout* find_layout(std::string_view ns);
  // A directory at the root that holds some type's entries, or cachepack's
  // own: no autotune key may name it.
  static bool reserved_top_dir(std::string_view name);
  // The layout of `ns`, or kUnimplemented saying why PyTorch keeps no files
  // of that type (naming `key` when there is one).
  Result<const TypeLayout*> layout_of(
      std::string_view ns, std::optional<std::string_view> key) const;
  Result<Location> locate(std::string_view op, std::string_view ns,
                          std::string_view key) const;
  enum class WriteMode {
    kIfKeyAbsent,  // PutMode::kInsertIfAbsent.
    kReplaceAll,   // PutMode::kOverwrite: the key keeps only this value.
    kAdd,          // MultiValued::add: next to the others, PyTorch's way;
                   // skipped if this content is there.
    kAddReplace,   // The same, rewriting this content's file.
  };
  Result<bool> write(std::string_view ns, std::string_view key,
                     ContentSource& value, WriteMode mode, Deadline deadline);
  // The entry directory of a location, or nullopt if missing; a link or
  // other non-directory on the way is skipped with a notice.
  Result<std::optional<local_fs::Dir>> find_dir(const std::string& rel) const;
  // Entry files of a content-hashed directory, newest first.
  Result<std::vector<std::string>> entry_files(const local_fs::Dir& dir) const;
  // Reads a file, or nullopt if missing or skipped (with a notice).
  Result<std::optional<Bytes>> read_entry(const local_fs::Dir& dir,
                                          std::string_view name) const;
  // Subdirectories and regular files of `dir`; anything else is skipped
  // with a notice.
  Result<std::vector<local_fs::DirEntry>> list_entries(
      const local_fs::Dir& dir) const;
  // For the layouts' list functions, each empty (false) when `rel` is
  // missing. Names of the subdirectories (or regular files) of `rel`:
  Result<std::vector<std::string>> child_names(const std::string& rel,
                                               local_fs::EntryKind kind) const;
  // Whether the content-hashed directory `rel` holds an entry file:
  Result<bool> has_entries(const std::string& rel) const;
  // Whether `rel`/`name` is a regular file (a link is skipped, noticed):
  Result<bool> is_entry_file(const std::string& rel,
                             const std::string& name) const;
  void skipped(const std::string& path, std::string_view why) const;
  // Removes crashed writers' temp files from `dir`, once per directory.
  void clean_once(const local_fs::Dir& dir);

  const TorchDirOptions options_;
  const local_fs::Dir root_;
  std::mutex cleaned_mutex_;
  std::set<std::string> cleaned_;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_TORCH_DIR_BACKEND_H_
