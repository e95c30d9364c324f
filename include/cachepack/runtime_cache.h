// Typed caches a compiler consults while it runs, after PyTorch's
// torch/_inductor/cache.py: get(key) -> value or a miss, insert-if-absent
// insert(key, value) -> whether it was stored. Keys and values are Python
// values (cachepack/pickle.h); the on-disk caches read and write the very
// files torch's OnDiskCache and InductorOnDiskCache use (same directories,
// file names, lock files, version header). docs/RUNTIME.md.
#ifndef CACHEPACK_RUNTIME_CACHE_H_
#define CACHEPACK_RUNTIME_CACHE_H_

#include <cstddef>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "cachepack/error.h"
#include "cachepack/pickle.h"

namespace cachepack::runtime {

using pickle::Value;

// Thread safety: every Cache may be called from several threads at once.
class Cache {
 public:
  virtual ~Cache() = default;
  // A miss is an empty optional.
  virtual Result<std::optional<Value>> get(const Value& key) = 0;
  // Insert-if-absent: false when the key holds a value, which is kept.
  virtual Result<bool> insert(const Value& key, const Value& value) = 0;
};

// cache.py's types: Key is str, int (bool included) or tuple; Value also
// bytes, dict or list. kInvalidArgument / kInvalidKey or kInvalidContent.
Result<void> check_key(const Value& key);
Result<void> check_value(const Value& value);

// InMemoryCache: keys compare as Python's == does (1 and True are one key).
class InMemoryCache : public Cache {
 public:
  Result<std::optional<Value>> get(const Value& key) override;
  Result<bool> insert(const Value& key, const Value& value) override;
  size_t size() const;

  // InMemoryCache.from_env_var(name): the variable holds
  // "K1,V1;K2,V2", each side a Python bytes literal of a pickle; unset is
  // an empty cache. Errors, as torch's CacheError: kInvalidArgument /
  // kInvalidContent for a pair without a comma or a side that is not a
  // bytes literal, kDataLoss for a literal that does not unpickle,
  // kAlreadyExists / kInvalidContent for a key given two different values.
  static Result<std::unique_ptr<InMemoryCache>> from_env_var(
      std::string_view name);
  // As from_env_var, with the variable's value given.
  static Result<std::unique_ptr<InMemoryCache>> from_env_text(
      std::string_view name, std::optional<std::string_view> text);
  // InMemoryCache.from_file_path(path): a pickled dict; no file is an
  // empty cache; kDataLoss if the file does not unpickle or is not a dict.
  static Result<std::unique_ptr<InMemoryCache>> from_file_path(
      const std::string& path);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::pair<Value, Value>> entries_;
};

// A Python bytes literal as ast.literal_eval reads it (b'..', b"..",
// triple quotes, r prefixes, escapes, adjacent literals joined).
// kInvalidArgument / kInvalidContent otherwise.
Result<Bytes> parse_bytes_literal(std::string_view text);

// The 4-byte version header of torch's on-disk caches:
// sha256(str(version).encode()).digest()[:4]; 5f ec eb 66 for version 0.
Bytes version_header(int version = 0);

// OnDiskCache(name): one file per key, base_dir()/<sha256(pickle(key))
// hex, first 32>, holding version_header() + pickle(value); each access
// holds an flock on base_dir()/locks/<first 4 hex of the name>.lock, the
// lock torch.utils._filelock.FileLock takes. get() removes a file whose
// header is not the current one (a miss); insert() creates the file
// exclusively and returns false if any file is there, stale or not, as
// torch does. Unlike torch, a value that cannot be pickled is refused
// before a file is created, and a failed write removes its file.
class OnDiskCache : public Cache {
 public:
  // torch's OnDiskCache(name): gettempdir()/cache/<name>.
  explicit OnDiskCache(std::string name = "on_disk_cache");
  // InductorOnDiskCache(): default_cache_dir()/cache/inductor_on_disk_cache.
  static std::unique_ptr<OnDiskCache> inductor();
  // Files under `base_dir` itself.
  static std::unique_ptr<OnDiskCache> at(std::string base_dir);

  const std::string& base_dir() const { return base_dir_; }
  // The file that holds `key`'s value; kInvalidArgument / kKeyEncoding if
  // the key does not pickle. insert(): kValueEncoding for a value that does
  // not pickle; get(): kDataLoss / kValueDecoding for a stored value that
  // does not unpickle.
  Result<std::string> path_for(const Value& key) const;

  Result<std::optional<Value>> get(const Value& key) override;
  Result<bool> insert(const Value& key, const Value& value) override;

 private:
  struct AtDir {};
  OnDiskCache(AtDir, std::string base_dir) : base_dir_(std::move(base_dir)) {}
  std::string base_dir_;
};

// Python's tempfile.gettempdir(): $TMPDIR, $TEMP, $TMP, /tmp, /var/tmp,
// /usr/tmp, the working directory; the first that is a writable directory.
std::string python_gettempdir();
// torch's default_cache_dir(): gettempdir()/torchinductor_<user>, the user
// name as getpass.getuser() finds it with \/:*?"<>| replaced by _.
std::string torch_default_cache_dir();

// AsyncCache: get_async / insert_async run the cache's calls on a fixed
// number of worker threads (a bounded pool, as a ThreadPoolExecutor) and
// return futures. The destructor finishes queued work first.
class AsyncCache {
 public:
  AsyncCache(std::shared_ptr<Cache> cache, size_t threads);
  ~AsyncCache();
  AsyncCache(const AsyncCache&) = delete;
  AsyncCache& operator=(const AsyncCache&) = delete;

  Cache& cache() { return *cache_; }
  std::future<Result<std::optional<Value>>> get_async(Value key);
  std::future<Result<bool>> insert_async(Value key, Value value);

 private:
  class Pool;
  std::shared_ptr<Cache> cache_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace cachepack::runtime

#endif  // CACHEPACK_RUNTIME_CACHE_H_
