// A directory of entry files, one per (namespace, key), safe to share
// between processes. Layout under the root:
//   objects/<sha256(ns)[0:16]>/<h[0:2]>/<h>   h = sha256(len(ns) ns key) hex
//   locks/<h[0:2]>.lock                        flock(2) for writers
//   tmp/                                       temp files before rename
// Keys never become path components (they are hashed), so no key can name a
// file outside the root; and no link below the root is ever followed
// (local_fs::Dir): writes refuse one, walks and gc skip it and report it. Each
// entry file:
//   4-byte version header | u64be XXH3-64(rest) | u64be |ns| ns |
//   u64be |key| key | value
// An entry whose header is not the current version is stale: a miss, as in
// PyTorch's on-disk caches (spec 3.1, 4). Readers take no lock (rename is
// atomic); writers lock the key's shard, so insert-if-absent is exactly-once
// across processes.
#ifndef CACHEPACK_BACKENDS_DISK_BACKEND_H_
#define CACHEPACK_BACKENDS_DISK_BACKEND_H_

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "backends/local_fs.h"
#include "backends/maintenance.h"
#include "cachepack/backend.h"
#include "cachepack/url.h"

namespace cachepack {

struct DiskOptions {
  std::string root;    // Absolute path; created if missing.
  bool fsync = false;  // fsync entry and directory before a put returns.
  // Longest wait for a shard lock (the call's deadline may cut it shorter).
  std::chrono::milliseconds lock_timeout{60'000};
  // Temp files of writers that provably exited (a pid gone on this host)
  // are removed by the first put of each process and by gc; those of other
  // hosts, which cannot be checked, once they are older than this.
  // Read-only commands never remove anything.
  std::chrono::seconds temp_max_age{3600};
};

// The current entry header (first 4 bytes of SHA-256 of
// "cachepack-disk-entry-v1", after PyTorch's sha256(str(version))[:4]).
std::array<std::byte, 4> disk_entry_header();

class DiskBackend final : public Backend, public Maintainable {
  // Only the factory constructs (it validates first); the private tag lets it
  // use std::make_unique.
  struct Tag {
    explicit Tag() = default;
  };

 public:
  static constexpr std::string_view kUrlForm =
      "file:///absolute/path[?fsync=1&lock_timeout_ms=N&temp_max_age_s=N]";

  DiskBackend(Tag, DiskOptions options, local_fs::Dir objects,
              local_fs::Dir locks, local_fs::Dir tmp)
      : options_(std::move(options)),
        objects_(std::move(objects)),
        locks_(std::move(locks)),
        tmp_(std::move(tmp)) {}
  static Result<std::unique_ptr<DiskBackend>> open(DiskOptions options);
  // From a URL of kUrlForm.
  static Result<std::unique_ptr<Backend>> open_url(const BackendUrl& url);

  std::string url() const override;
  // Insert-if-absent is decided under the key's lock file on one local
  // file system (not so on a network file system without coherent flock).
  bool strongly_consistent() const override { return true; }
  const std::string& root() const { return options_.root; }
  // Where (ns, key) lives, whether or not it exists.
  std::string entry_path(std::string_view ns, std::string_view key) const;

  Result<std::vector<NamespaceUsage>> usage() override;
  // Removes crashed writers' temp files and stale entries, then least
  // recently used entries (a hit touches an entry's mtime) until at most
  // max_bytes of entry files remain.
  Result<GcReport> gc(uint64_t max_bytes) override;

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
  struct Paths {
    std::string hash;   // h, 64 hex chars.
    std::string shard;  // <nshash>/<h[0:2]>, relative to objects/.
    std::string lock;   // <h[0:2]>.lock, in locks/.
  };
  Paths paths(std::string_view ns, std::string_view key) const;
  std::string ns_dir(std::string_view ns) const;  // <nshash>
  struct EntryFile;
  // Every entry file under objects/, with size and mtime; links and
  // special files are skipped with a notice.
  std::vector<EntryFile> walk_entries() const;
  // The directory objects/`rel`, nullopt if missing; a link on the way
  // is skipped with a notice.
  Result<std::optional<local_fs::Dir>> find_dir(const std::string& rel) const;

  const DiskOptions options_;
  const local_fs::Dir objects_;
  const local_fs::Dir locks_;
  const local_fs::Dir tmp_;
  std::once_flag temps_cleaned_;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_DISK_BACKEND_H_
