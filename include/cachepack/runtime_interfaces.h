// Memoization caches after generation A of torch's runtime/caching (an
// older torch; shared spec section 3.1): fcache (memory in front of one
// on-disk directory per function), dcache (deterministic caching: every
// worker gets the first recorded value) and icache (dcache when
// deterministic caching is on, else fcache). docs/RUNTIME.md.
//
//   using namespace cachepack::runtime;
//   Params params{pickle::tuple({1, 2}), pickle::dict({})};
//   CP_ASSIGN_OR_RETURN(MemoCache * cache, fcache());
//   CP_ASSIGN_OR_RETURN(Value v, cache->record("add", params, compute,
//                                              {.isolation_key = ikey}));
#ifndef CACHEPACK_RUNTIME_INTERFACES_H_
#define CACHEPACK_RUNTIME_INTERFACES_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/error.h"
#include "cachepack/pickle.h"
#include "cachepack/runtime_config.h"

namespace cachepack::runtime {

using pickle::Value;

// A call's parameters, torch's `params = (args, kwargs)`.
struct Params {
  Value args = pickle::Tuple{};
  Value kwargs = pickle::Dict{};
};

struct MemoOptions {
  // torch's _isolation_key(ischema), computed by the caller (the Python
  // package passes torch's own when it can).
  std::string isolation_key;
  // Each is "not given" when empty. A params encoder replaces params in the
  // key; a result encoder/decoder pair turns results into storable values
  // and back (an encoder without its decoder is an error, and vice versa).
  std::function<Result<Value>(const Params&)> custom_params_encoder;
  std::function<Result<Value>(const Value&)> custom_result_encoder;
  std::function<Result<Value>(const Value&)> custom_result_decoder;
};

// ((fn_name, params or custom_params_encoder(params)), isolation_key).
Result<Value> memo_key(std::string_view fn_name, const Params& params,
                       const MemoOptions& options);

// record()'s pairing rule: kCustomResultDecoderRequired for an encoder
// without a decoder, kCustomResultEncoderRequired for the reverse.
Result<void> check_result_coders(const MemoOptions& options);

// Generation A's _InMemoryCacheImpl: values by pickle(key), in insertion
// order; insert never overwrites. kKeyPickling for a key that does not
// pickle. Not locked: its owner locks.
class MemoMemory {
 public:
  Result<std::optional<Value>> get(const Value& key) const;
  Result<bool> insert(const Value& key, const Value& value);
  // By pickled key, as pre-population and the dump see it.
  std::optional<Value> get_pickled(const Bytes& pickled_key) const;
  bool insert_pickled(Bytes pickled_key, Value value);
  // Sets it, given or not (pre-population: torch's `_memory[key] = value`).
  void assign_pickled(Bytes pickled_key, Value value);
  // (pickled key, value) in insertion order.
  const std::vector<std::pair<Bytes, Value>>& entries() const {
    return entries_;
  }

 private:
  std::vector<std::pair<Bytes, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Generation A's _OnDiskCacheImpl(sub_dir): <dir>/<sha256(pickle(key))
// hex, first 32> holding version_header() + pickle(value), guarded by the
// FileLock <dir>/dir.lock (lock_path(); the caller takes it). get() removes
// a stale file (header mismatch or empty payload) and misses; insert()
// replaces a stale file, returns false for a current one. Errors:
// kKeyPickling, kValuePickling (refused before any file is made),
// kValueUnPickling naming the file and offset.
class MemoDisk {
 public:
  explicit MemoDisk(std::string dir) : dir_(std::move(dir)) {}
  // default_cache_dir()/cache/<sub_dir>, as torch (TORCHINDUCTOR_CACHE_DIR
  // is not consulted).
  static MemoDisk for_sub_dir(std::string_view sub_dir);
  const std::string& dir() const { return dir_; }
  std::string lock_path() const { return dir_ + "/dir.lock"; }
  Result<std::string> path_for(const Value& key) const;
  Result<std::optional<Value>> get(const Value& key) const;
  Result<bool> insert(const Value& key, const Value& value) const;

 private:
  std::string dir_;
};

// torch's _CacheIntf. Every call may come from several threads; each holds
// the interface's lock, as torch's does. When the caching module is off
// (TORCHINDUCTOR_ENABLE_CACHING_MODULE), get misses, insert returns false
// and record only calls.
class MemoCache {
 public:
  virtual ~MemoCache() = default;
  MemoCache(const MemoCache&) = delete;
  MemoCache& operator=(const MemoCache&) = delete;

  // A hit is the stored value (decoded by custom_result_decoder when given).
  // kCustomParamsEncoderRequired when the key does not pickle.
  Result<std::optional<Value>> get(std::string_view fn_name,
                                   const Params& params,
                                   const MemoOptions& options = {});
  // Insert-if-absent of result (encoded by custom_result_encoder when
  // given); kCustomResultEncoderRequired when it does not pickle.
  Result<bool> insert(std::string_view fn_name, const Params& params,
                      const Value& result, const MemoOptions& options = {});
  // torch's record() wrapper, applied to one call: check_result_coders(),
  // then (caching module on) under the lock: the cached value, or `call`'s
  // result after inserting it; when the insert loses, fcache returns the
  // computed result and dcache the cached one.
  Result<Value> record(std::string_view fn_name, const Params& params,
                       const std::function<Result<Value>()>& call,
                       const MemoOptions& options = {});
  // record() saying where the value came from (torch's callback actions):
  // the cache (REPLAY), `call` with its insert taken (RECORD_INSERTED) or
  // refused (RECORD_NOT_INSERTED: fcache returns the computed value;
  // RECORD_NOT_INSERTED_REPLAY: dcache returns the winner's), or `call`
  // alone when the caching module is off.
  enum class Source {
    kCached,
    kInserted,
    kNotInserted,
    kLostToCached,
    kCalled
  };
  struct Recorded {
    Value value;
    Source source;
  };
  Result<Recorded> record_call(std::string_view fn_name, const Params& params,
                               const std::function<Result<Value>()>& call,
                               const MemoOptions& options = {});

  const RuntimeConfig& config() const { return config_; }

 protected:
  explicit MemoCache(RuntimeConfig config) : config_(std::move(config)) {}
  // Under the interface lock.
  virtual Result<std::optional<Value>> do_get(std::string_view fn_name,
                                              const Params& params,
                                              const MemoOptions& options) = 0;
  virtual Result<bool> do_insert(std::string_view fn_name, const Params& params,
                                 const Value& result,
                                 const MemoOptions& options) = 0;
  // What a record does after a miss and a lost insert (fcache: returns
  // `result`; dcache: re-gets the winner's value).
  virtual Result<Recorded> after_lost_insert(std::string_view fn_name,
                                             const Params& params, Value result,
                                             const MemoOptions& options) = 0;

  // dcache: kDeterministicCachingDisabled unless enabled.
  virtual Result<void> usable() const { return {}; }

  RuntimeConfig config_;
  std::timed_mutex lock_;  // The interface lock (60 s, as torch's).
};

// torch's _FastCacheIntf: get reads memory, then the function's directory
// (a disk hit is not copied into memory); insert writes the directory first
// and memory only when the directory took the value.
class FastMemoCache : public MemoCache {
 public:
  // `root`: directories are <root>/<fn_name>; default_cache_dir()/cache
  // when empty.
  explicit FastMemoCache(RuntimeConfig config, std::string root = {});

 protected:
  Result<std::optional<Value>> do_get(std::string_view fn_name,
                                      const Params& params,
                                      const MemoOptions& options) override;
  Result<bool> do_insert(std::string_view fn_name, const Params& params,
                         const Value& result,
                         const MemoOptions& options) override;
  Result<Recorded> after_lost_insert(std::string_view fn_name,
                                     const Params& params, Value result,
                                     const MemoOptions& options) override;

 private:
  std::string root_;
  MemoMemory memory_;
};

// torch's _DeterministicCacheIntf. The synchronization cache by mode:
// strictly pre-populated: none (memory only); GLOBAL: `global_backend`,
// which must be strongly_consistent(); LOCAL: one directory per function.
// A record that loses the insert race returns the winner's value. Strict
// modes: a miss is kStrictDeterministicCachingKeyNotFound, any insert
// kStrictDeterministicCachingInsertion. Every call is
// kDeterministicCachingDisabled unless deterministic caching is enabled.
class DeterministicMemoCache : public MemoCache {
 public:
  // Pre-populates from config.pre_populate_deterministic_cache (a JSON
  // object {repr(pickled key): repr(value)}, read under <path>.lock).
  // Errors: kDeterministicCachingRequiresStrongConsistency,
  // kDeterministicCachingInvalidConfiguration, and the pre-population
  // file's (kNotFound, kInvalidJson, kInvalidContent naming the file).
  // `root` as FastMemoCache's (also where dump() writes).
  static Result<std::unique_ptr<DeterministicMemoCache>> create(
      RuntimeConfig config, std::shared_ptr<Backend> global_backend = nullptr,
      std::string root = {});

  ~DeterministicMemoCache() override;

  // A synchronization cache (defined in runtime/interfaces.cc).
  class Sync;

  // The exit dump: memory as {repr(pickled key): repr(value)} merged into
  // <root>/dcache_dump/imc.save under its dir.lock, written whole (temp
  // file and rename). nullopt when memory is empty (nothing written). A
  // key already in the file is kDeterministicCachingIMCDumpConflict and
  // leaves the file as it was.
  Result<std::optional<std::string>> dump();
  size_t memory_size();

 protected:
  Result<std::optional<Value>> do_get(std::string_view fn_name,
                                      const Params& params,
                                      const MemoOptions& options) override;
  Result<bool> do_insert(std::string_view fn_name, const Params& params,
                         const Value& result,
                         const MemoOptions& options) override;
  Result<Recorded> after_lost_insert(std::string_view fn_name,
                                     const Params& params, Value result,
                                     const MemoOptions& options) override;
  Result<void> usable() const override;

 private:
  DeterministicMemoCache(RuntimeConfig config, std::string root);
  Result<Sync*> sync_for(std::string_view fn_name);
  Result<void> pre_populate(const std::string& path);

  std::string root_;
  std::shared_ptr<Backend> global_;
  MemoMemory memory_;
  std::unordered_map<std::string, std::unique_ptr<Sync>> local_;
  std::unique_ptr<Sync> global_sync_;
};

// The process's caches, made at the first call from runtime_config() (and,
// for GLOBAL, CACHEPACK_DETERMINISTIC_CACHE_URL opened with every backend
// cachepack ships); the same objects, or the same error, ever after.
Result<MemoCache*> fcache();
Result<DeterministicMemoCache*> dcache();
// dcache() when deterministic caching is enabled, else fcache().
Result<MemoCache*> icache();

// ast.literal_eval for the kinds the codec holds: None, True, False,
// decimal ints (sign and _ allowed), str and bytes literals (prefixes, all
// quote forms, escapes, adjacent literals), tuples, lists and dicts.
// kInvalidArgument / kInvalidContent with the offset otherwise, including
// floats, sets and names.
Result<Value> parse_python_literal(std::string_view text);

}  // namespace cachepack::runtime

#endif  // CACHEPACK_RUNTIME_INTERFACES_H_
