// Generation-B memoizers of torch 2.13's runtime caching module
// (torch/_inductor/runtime/caching/interfaces.py, implementations.py):
// Memoizer (in memory, with the JSON dump and pre-population) and
// PersistentMemoizer (memory, then files torch's _OnDiskCacheImpl reads and
// writes). Keys are sha256(pickle.dumps(encoded params)).hexdigest()[:32] as
// torch computes them; disk entries are pickle.dumps(CacheEntry(...)) byte
// for byte. docs/RUNTIME.md.
#ifndef CACHEPACK_RUNTIME_MEMO_H_
#define CACHEPACK_RUNTIME_MEMO_H_

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cachepack/error.h"
#include "cachepack/pickle.h"
#include "cachepack/runtime_config.h"
#include "cachepack/runtime_locks.h"

namespace cachepack::runtime {

using pickle::Value;

// torch's CacheEntry dataclass.
struct CacheEntry {
  Value encoded_params;
  Value encoded_result;
  friend bool operator==(const CacheEntry&, const CacheEntry&) = default;
};

// torch.__module__ and name of CacheEntry, which its pickle names.
inline const pickle::ClassRef& cache_entry_class() {
  static const pickle::ClassRef cls{
      "torch._inductor.runtime.caching.interfaces", "CacheEntry"};
  return cls;
}
// pickle.dumps(CacheEntry(...)) as torch 2.13 writes it.
// kInvalidArgument / kValueEncoding if a part does not pickle.
Result<Bytes> pickle_cache_entry(const CacheEntry& entry);
// pickle.loads of such bytes: exactly a CacheEntry instance whose state
// holds encoded_params and encoded_result; kDataLoss / kValueDecoding
// (the codec's message kept) otherwise.
Result<CacheEntry> unpickle_cache_entry(ByteSpan data);

// _InMemoryCacheImpl[CacheEntry]: str keys, insert-if-absent, insertion
// order kept (the dump lists entries in it). Thread-safe.
class InMemoryCacheImpl {
 public:
  std::optional<CacheEntry> get(std::string_view key) const;
  bool insert(std::string key, CacheEntry entry);
  void clear();
  size_t size() const;
  std::vector<std::pair<std::string, CacheEntry>> items() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, CacheEntry>> items_;
  std::unordered_map<std::string, size_t> index_;
};

// _OnDiskCacheImpl(sub_dir): the file of key K is cache_dir()/K holding
// version_header() + the value's bytes. get() misses when there is no
// regular file, and removes a file whose header is stale or whose payload
// is empty (as torch's `if not pickled_value`); insert() creates the file
// whole (written aside, then hard-linked into place, so no reader sees a
// part of it), returns false if a current file is there and replaces a
// stale one, as torch does. lock() is torch's FileLock on
// cache_dir()/dir.lock. A key must be one file name (no '/', not "." or
// ".."): kInvalidArgument / kInvalidKey.
class OnDiskCacheImpl {
 public:
  // default_cache_dir()/cache/<sub_dir> (torch_default_cache_dir()).
  explicit OnDiskCacheImpl(const std::string& sub_dir = "");
  // Files directly in `dir`.
  static OnDiskCacheImpl at(std::string dir);

  const std::string& cache_dir() const { return dir_; }
  std::string lock_path() const { return dir_ + "/dir.lock"; }
  Result<FileLock> lock(std::optional<double> timeout = std::nullopt) const;

  Result<std::optional<Bytes>> get(std::string_view key) const;
  Result<bool> insert(std::string_view key, ByteSpan value) const;

 private:
  struct AtDir {};
  OnDiskCacheImpl(AtDir, std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// A call's *args and **kwargs.
struct CallArgs {
  std::vector<Value> args;
  std::vector<pickle::DictItem> kwargs;
};
using Function = std::function<Result<Value>(const CallArgs&)>;
// custom_params_encoder(*args, **kwargs).
using ParamsEncoder = std::function<Result<Value>(const CallArgs&)>;
// custom_result_encoder(fn)(*args, **kwargs)(result), the factory levels
// flattened (a C++ encoder captures fn itself if it needs it).
using ResultEncoder =
    std::function<Result<Value>(const CallArgs&, const Value& result)>;
// custom_result_decoder(fn)(*args, **kwargs)(encoded).
using ResultDecoder =
    std::function<Result<Value>(const CallArgs&, const Value& encoded)>;

// What a call's key hashes and its dump shows: the custom encoder's output,
// or (args, kwargs) for the key and {"args": args, "kwargs": kwargs} for the
// entry, as torch's _make_key and record do.
Result<Value> encoded_params_of(const CallArgs& call,
                                const ParamsEncoder& encoder);
// _make_key: sha256(pickle.dumps(x)).hexdigest()[:32] of (args, kwargs) or
// of the encoder's output. kInvalidArgument / kKeyEncoding if it does not
// pickle.
Result<std::string> make_key(const CallArgs& call,
                             const ParamsEncoder& encoder = nullptr);
Result<std::string> key_of_pickled(const Value& encoded_params);

// torch's cache_dir(): $TORCHINDUCTOR_CACHE_DIR made absolute, else
// torch_default_cache_dir().
std::string torch_cache_dir();

// Memoizer(sub_key). The functions record/replay/memoize return refer to
// this Memoizer, which must outlive them. With the caching module disabled
// (RuntimeConfig::caching_module_enabled, off by default as in torch),
// record and memoize return `fn` itself and replay always misses.
class Memoizer {
 public:
  explicit Memoizer(std::optional<std::string> sub_key = std::nullopt,
                    const RuntimeConfig& config = runtime_config());
  // With dump_memoizer_cache on, merges the entries into dump_file_path()
  // (torch's atexit hook); failures are dropped, as torch logs them.
  ~Memoizer();
  Memoizer(const Memoizer&) = delete;
  Memoizer& operator=(const Memoizer&) = delete;

  const std::optional<std::string>& sub_key() const { return sub_key_; }
  const RuntimeConfig& config() const { return config_; }
  InMemoryCacheImpl& cache() { return cache_; }

  Function record(Function fn, ParamsEncoder params_encoder = nullptr,
                  ResultEncoder result_encoder = nullptr);
  // A miss is kNotFound / kCacheMiss (torch's KeyError).
  Function replay(Function fn, ParamsEncoder params_encoder = nullptr,
                  ResultDecoder result_decoder = nullptr);
  Function memoize(Function fn, ParamsEncoder params_encoder = nullptr,
                   ResultEncoder result_encoder = nullptr,
                   ResultDecoder result_decoder = nullptr);
  void cache_clear() { cache_.clear(); }

  // cache_dir()/memoizer_cache.json and its lock file.
  std::string dump_file_path() const;
  std::string dump_lock_path() const;
  // _dump_to_disk: under the lock file, reads the dump (missing or not
  // JSON: a fresh one), puts this memoizer's entries into
  // collections[sub_key or "null"] (replacing same keys), sets cache_size,
  // and writes it as json.dump(indent=2) does, atomically. Nothing to do
  // when empty. kInvalidArgument / kValueEncoding for an entry JSON cannot
  // hold (bytes, a tuple key, an int past 64 bits); kDataLoss /
  // kInvalidJson if the file is JSON but not a dump (torch would raise);
  // the file is then left as it was.
  Result<void> dump_to_disk() const;
  Result<void> dump_to(const std::string& path, const std::string& lock) const;
  // _maybe_prepopulate_from_dump for `path`: inserts collections[sub_key or
  // "null"]'s entries; a missing or non-JSON file adds nothing. Entries
  // cachepack's values cannot hold (a float) or that lack params/result
  // are skipped. Returns how many were inserted.
  Result<size_t> prepopulate_from_dump(const std::string& path);

 private:
  std::optional<std::string> sub_key_;
  RuntimeConfig config_;
  InMemoryCacheImpl cache_;
};

// PersistentMemoizer(sub_dir): a Memoizer(sub_key = sub_dir or None) in
// front of OnDiskCacheImpl(sub_dir), whose entries are
// pickle.dumps(CacheEntry). Replay checks memory, then disk (a disk hit is
// copied into memory); record stores in memory, then writes memory's entry
// to disk. Writes and stale-file removal hold dir.lock (torch's interface
// never takes it; it keeps two cachepack processes' stale-entry handling
// apart); a hit reads without it, since files are linked in whole.
class PersistentMemoizer {
 public:
  explicit PersistentMemoizer(const std::string& sub_dir = "",
                              const RuntimeConfig& config = runtime_config());
  // Files in `dir` instead of default_cache_dir()/cache/<sub_dir>.
  PersistentMemoizer(const std::string& sub_dir, OnDiskCacheImpl disk,
                     const RuntimeConfig& config = runtime_config());

  Memoizer& memoizer() { return memoizer_; }
  const OnDiskCacheImpl& disk() const { return disk_; }

  Function record(Function fn, ParamsEncoder params_encoder = nullptr,
                  ResultEncoder result_encoder = nullptr);
  Function replay(Function fn, ParamsEncoder params_encoder = nullptr,
                  ResultDecoder result_decoder = nullptr);
  Function memoize(Function fn, ParamsEncoder params_encoder = nullptr,
                   ResultEncoder result_encoder = nullptr,
                   ResultDecoder result_decoder = nullptr);

  // The steps the functions above take, for callers that hold the key:
  // memory, then disk; and memory insert plus disk persistence.
  Result<std::optional<CacheEntry>> lookup(const std::string& key);
  Result<bool> store(const std::string& key, CacheEntry entry);
  // torch's cache_clear: removes the disk directory only (torch clears the
  // memory through the Memoizer's own fresh_cache hook: memoizer()).
  void cache_clear();

 private:
  Memoizer memoizer_;
  OnDiskCacheImpl disk_;
};

}  // namespace cachepack::runtime

#endif  // CACHEPACK_RUNTIME_MEMO_H_
