// The memoization caches of cachepack/runtime_interfaces.h (generation A of
// torch's runtime/caching: fcache, dcache, icache).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cachepack/all_backends.h"
#include "cachepack/hash.h"
#include "cachepack/runtime_cache.h"
#include "cachepack/runtime_interfaces.h"
#include "cachepack/runtime_locks.h"
#include "util/file.h"
#include "util/file_lock.h"

namespace cachepack::runtime {
namespace {

std::string key_of(const Bytes& pickled) {
  return std::string(as_chars(pickled));
}

Error with_reason(const Error& e, ErrorCode code, ErrorReason reason,
                  std::string message) {
  ErrorLocation where = e.where();
  return Error(code, reason, std::move(message), std::move(where));
}

// _try_pickle_key: kKeyPickling.
Result<Bytes> pickle_key(const Value& key) {
  Result<Bytes> pickled = pickle::dumps(key);
  if (!pickled) {
    return tl::unexpected(with_reason(
        pickled.error(), ErrorCode::kInvalidArgument, ErrorReason::kKeyPickling,
        "key " + pickle::repr(key) +
            " is not pickle-able: " + pickled.error().message()));
  }
  return pickled;
}

// _try_pickle_value: kValuePickling.
Result<Bytes> pickle_value(const Value& value) {
  Result<Bytes> pickled = pickle::dumps(value);
  if (!pickled) {
    return tl::unexpected(
        with_reason(pickled.error(), ErrorCode::kInvalidArgument,
                    ErrorReason::kValuePickling,
                    "value is not pickle-able: " + pickled.error().message()));
  }
  return pickled;
}

// _try_unpickle_value: kValueUnPickling, at `offset` bytes into `file`.
Result<Value> unpickle_value(ByteSpan data, ErrorLocation where,
                             uint64_t offset) {
  Result<Value> value = pickle::loads(data);
  if (!value) {
    const Error& e = value.error();
    if (e.where().offset) where.offset = *e.where().offset + offset;
    return tl::unexpected(
        Error(ErrorCode::kDataLoss, ErrorReason::kValueUnPickling,
              "stored value does not unpickle (" +
                  std::string(to_string(e.reason())) + "): " + e.message(),
              std::move(where)));
  }
  return value;
}

// The interface's translation of the impls' encoding errors (torch's
// `except KeyEncodingError: raise CustomParamsEncoderRequiredError`).
template <typename T>
Result<T> as_interface_error(Result<T> r, std::string_view fn_name) {
  if (r) return r;
  const Error& e = r.error();
  if (e.reason() == ErrorReason::kKeyPickling) {
    return tl::unexpected(
        with_reason(e, ErrorCode::kInvalidArgument,
                    ErrorReason::kCustomParamsEncoderRequired,
                    "custom params encoder required for function " +
                        std::string(fn_name) + ": " + e.message()));
  }
  if (e.reason() == ErrorReason::kValuePickling) {
    return tl::unexpected(
        with_reason(e, ErrorCode::kInvalidArgument,
                    ErrorReason::kCustomResultEncoderRequired,
                    "custom result encoder required for function " +
                        std::string(fn_name) + ": " + e.message()));
  }
  return r;
}

Result<std::optional<Value>> decoded(std::optional<Value> hit,
                                     const MemoOptions& options) {
  if (!hit || !options.custom_result_decoder) return hit;
  CP_ASSIGN_OR_RETURN(Value v, options.custom_result_decoder(*hit));
  return std::optional<Value>(std::move(v));
}

Result<Value> encoded(const Value& result, const MemoOptions& options) {
  if (!options.custom_result_encoder) return result;
  return options.custom_result_encoder(result);
}

std::string default_root() { return torch_default_cache_dir() + "/cache"; }

}  // namespace

// ---- Keys ----------------------------------------------------------------

Result<Value> memo_key(std::string_view fn_name, const Params& params,
                       const MemoOptions& options) {
  Value fkey;
  if (options.custom_params_encoder) {
    CP_ASSIGN_OR_RETURN(Value enc, options.custom_params_encoder(params));
    fkey = pickle::tuple({std::string(fn_name), std::move(enc)});
  } else {
    fkey = pickle::tuple(
        {std::string(fn_name), pickle::tuple({params.args, params.kwargs})});
  }
  return pickle::tuple({std::move(fkey), options.isolation_key});
}

Result<void> check_result_coders(const MemoOptions& options) {
  if (options.custom_result_encoder && !options.custom_result_decoder) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kCustomResultDecoderRequired,
        "Custom result encoder provided without custom result decoder.");
  }
  if (!options.custom_result_encoder && options.custom_result_decoder) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kCustomResultEncoderRequired,
        "Custom result decoder provided without custom result encoder.");
  }
  return {};
}

// ---- MemoMemory ------------------------------------------------------------

Result<std::optional<Value>> MemoMemory::get(const Value& key) const {
  CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_key(key));
  return get_pickled(pickled);
}

Result<bool> MemoMemory::insert(const Value& key, const Value& value) {
  CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_key(key));
  return insert_pickled(std::move(pickled), value);
}

std::optional<Value> MemoMemory::get_pickled(const Bytes& pickled_key) const {
  auto it = index_.find(key_of(pickled_key));
  if (it == index_.end()) return std::nullopt;
  return entries_[it->second].second;
}

void MemoMemory::assign_pickled(Bytes pickled_key, Value value) {
  auto it = index_.find(key_of(pickled_key));
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
  } else {
    insert_pickled(std::move(pickled_key), std::move(value));
  }
}

bool MemoMemory::insert_pickled(Bytes pickled_key, Value value) {
  auto [it, inserted] = index_.emplace(key_of(pickled_key), entries_.size());
  if (!inserted) return false;
  entries_.emplace_back(std::move(pickled_key), std::move(value));
  return true;
}

// ---- MemoDisk ------------------------------------------------------------

MemoDisk MemoDisk::for_sub_dir(std::string_view sub_dir) {
  return MemoDisk(default_root() + "/" + std::string(sub_dir));
}

Result<std::string> MemoDisk::path_for(const Value& key) const {
  CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_key(key));
  return dir_ + "/" + sha256_hex(pickled).substr(0, 32);
}

Result<std::optional<Value>> MemoDisk::get(const Value& key) const {
  CP_ASSIGN_OR_RETURN(std::string path, path_for(key));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  CP_ASSIGN_OR_RETURN(Bytes data, read_file(path));
  Bytes header = version_header();
  // A stale header, or nothing after it (torch: `if not pickled_value`).
  if (data.size() <= header.size() ||
      !std::equal(header.begin(), header.end(), data.begin())) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error("remove stale cache entry", path, errno);
    }
    return std::nullopt;
  }
  CP_ASSIGN_OR_RETURN(
      Value v, unpickle_value(ByteSpan(data).subspan(header.size()),
                              ErrorLocation{.file = path}, header.size()));
  return std::optional<Value>(std::move(v));
}

Result<bool> MemoDisk::insert(const Value& key, const Value& value) const {
  CP_ASSIGN_OR_RETURN(std::string path, path_for(key));
  CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_value(value));
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return io_error("create cache directory", dir_, ec.value());
  Bytes header = version_header();
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (fd.valid()) {
      UnlinkUnlessKept guard(path);
      Bytes content = header;
      append_bytes(content, pickled);
      CP_TRY(write_all(fd.get(), content, path));
      if (fd.close() != 0) return io_error("close cache entry", path, errno);
      guard.keep();
      return true;
    }
    if (errno != EEXIST) return io_error("create cache entry", path, errno);
    // An entry is there: current wins; a stale one is replaced.
    Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) {
      if (errno == ENOENT) continue;
      return io_error("open cache entry", path, errno);
    }
    Bytes head(header.size());
    CP_ASSIGN_OR_RETURN(size_t got, pread_full(in.get(), head, path));
    if (got == header.size() && head == header) return false;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error("remove stale cache entry", path, errno);
    }
  }
  return false;  // Another writer recreated it in between: theirs wins.
}

// ---- MemoCache -------------------------------------------------------------

Result<std::optional<Value>> MemoCache::get(std::string_view fn_name,
                                            const Params& params,
                                            const MemoOptions& options) {
  CP_TRY(usable());
  if (!config_.memo_caching_module_enabled) return std::nullopt;
  CP_ASSIGN_OR_RETURN(auto guard, acquire_lock(lock_));
  return do_get(fn_name, params, options);
}

Result<bool> MemoCache::insert(std::string_view fn_name, const Params& params,
                               const Value& result,
                               const MemoOptions& options) {
  CP_TRY(usable());
  if (!config_.memo_caching_module_enabled) return false;
  CP_ASSIGN_OR_RETURN(auto guard, acquire_lock(lock_));
  return do_insert(fn_name, params, result, options);
}

Result<Value> MemoCache::record(std::string_view fn_name, const Params& params,
                                const std::function<Result<Value>()>& call,
                                const MemoOptions& options) {
  CP_ASSIGN_OR_RETURN(Recorded r, record_call(fn_name, params, call, options));
  return std::move(r.value);
}

Result<MemoCache::Recorded> MemoCache::record_call(
    std::string_view fn_name, const Params& params,
    const std::function<Result<Value>()>& call, const MemoOptions& options) {
  CP_TRY(check_result_coders(options));
  if (!config_.memo_caching_module_enabled) {
    CP_ASSIGN_OR_RETURN(Value v, call());
    return Recorded{std::move(v), Source::kCalled};
  }
  CP_TRY(usable());
  CP_ASSIGN_OR_RETURN(auto guard, acquire_lock(lock_));
  CP_ASSIGN_OR_RETURN(std::optional<Value> hit,
                      do_get(fn_name, params, options));
  if (hit) return Recorded{std::move(*hit), Source::kCached};
  CP_ASSIGN_OR_RETURN(Value result, call());
  CP_ASSIGN_OR_RETURN(bool inserted,
                      do_insert(fn_name, params, result, options));
  if (inserted) return Recorded{std::move(result), Source::kInserted};
  return after_lost_insert(fn_name, params, std::move(result), options);
}

// ---- FastMemoCache ---------------------------------------------------------

FastMemoCache::FastMemoCache(RuntimeConfig config, std::string root)
    : MemoCache(std::move(config)),
      root_(root.empty() ? default_root() : std::move(root)) {}

Result<std::optional<Value>> FastMemoCache::do_get(std::string_view fn_name,
                                                   const Params& params,
                                                   const MemoOptions& options) {
  CP_ASSIGN_OR_RETURN(Value key, memo_key(fn_name, params, options));
  MemoDisk disk(root_ + "/" + std::string(fn_name));
  CP_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(disk.lock_path()));
  CP_ASSIGN_OR_RETURN(std::optional<Value> hit,
                      as_interface_error(memory_.get(key), fn_name));
  if (!hit) {
    CP_ASSIGN_OR_RETURN(hit, as_interface_error(disk.get(key), fn_name));
  }
  return decoded(std::move(hit), options);
}

Result<bool> FastMemoCache::do_insert(std::string_view fn_name,
                                      const Params& params, const Value& result,
                                      const MemoOptions& options) {
  CP_ASSIGN_OR_RETURN(Value key, memo_key(fn_name, params, options));
  MemoDisk disk(root_ + "/" + std::string(fn_name));
  CP_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(disk.lock_path()));
  CP_ASSIGN_OR_RETURN(Value value, encoded(result, options));
  // Disk first: memory holds only what the directory took, so the two
  // agree.
  CP_ASSIGN_OR_RETURN(bool stored,
                      as_interface_error(disk.insert(key, value), fn_name));
  if (!stored) return false;
  CP_TRY(as_interface_error(memory_.insert(key, value), fn_name));
  return true;
}

Result<MemoCache::Recorded> FastMemoCache::after_lost_insert(
    std::string_view, const Params&, Value result, const MemoOptions&) {
  // RECORD_NOT_INSERTED: the computed result.
  return Recorded{std::move(result), Source::kNotInserted};
}

// ---- DeterministicMemoCache ------------------------------------------------

// A synchronization cache: a function's directory (LOCAL) or the backend
// (GLOBAL). Only the directory has a lock; torch's remote impl has none.
class DeterministicMemoCache::Sync {
 public:
  virtual ~Sync() = default;
  virtual Result<std::optional<FileLock>> lock() = 0;
  virtual Result<std::optional<Value>> get(const Value& key) = 0;
  virtual Result<bool> insert(const Value& key, const Value& value) = 0;
};

namespace {

class DiskSync : public DeterministicMemoCache::Sync {
 public:
  explicit DiskSync(std::string dir) : disk_(std::move(dir)) {}
  Result<std::optional<FileLock>> lock() override {
    CP_ASSIGN_OR_RETURN(FileLock l, FileLock::acquire(disk_.lock_path()));
    return std::optional<FileLock>(std::move(l));
  }
  Result<std::optional<Value>> get(const Value& key) override {
    return disk_.get(key);
  }
  Result<bool> insert(const Value& key, const Value& value) override {
    return disk_.insert(key, value);
  }

 private:
  MemoDisk disk_;
};

// Entries under namespace "dcache", key sha256(pickle(key)) in hex, value
// version_header() + pickle(value): insert-if-absent decides the winner.
class BackendSync : public DeterministicMemoCache::Sync {
 public:
  explicit BackendSync(std::shared_ptr<Backend> backend)
      : backend_(std::move(backend)) {}
  Result<std::optional<FileLock>> lock() override {
    return std::optional<FileLock>();
  }
  Result<std::optional<Value>> get(const Value& key) override {
    CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_key(key));
    std::string k = sha256_hex(pickled);
    CP_ASSIGN_OR_RETURN(std::optional<Bytes> data,
                        backend_->get(kNamespace, k));
    if (!data) return std::nullopt;
    Bytes header = version_header();
    ErrorLocation where{.url = backend_->url(), .key = k};
    if (data->size() <= header.size() ||
        !std::equal(header.begin(), header.end(), data->begin())) {
      // Not deleted: another worker may have read it already, and a
      // synchronization cache never changes a decided entry.
      return make_error(ErrorCode::kDataLoss, ErrorReason::kValueUnPickling,
                        "stored value lacks the version header 5feceb66",
                        std::move(where));
    }
    CP_ASSIGN_OR_RETURN(Value v,
                        unpickle_value(ByteSpan(*data).subspan(header.size()),
                                       std::move(where), header.size()));
    return std::optional<Value>(std::move(v));
  }
  Result<bool> insert(const Value& key, const Value& value) override {
    CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_key(key));
    CP_ASSIGN_OR_RETURN(Bytes pv, pickle_value(value));
    Bytes content = version_header();
    append_bytes(content, pv);
    return backend_->put(kNamespace, sha256_hex(pickled), content,
                         PutMode::kInsertIfAbsent);
  }

 private:
  static constexpr std::string_view kNamespace = "dcache";
  std::shared_ptr<Backend> backend_;
};

}  // namespace

DeterministicMemoCache::DeterministicMemoCache(RuntimeConfig config,
                                               std::string root)
    : MemoCache(std::move(config)),
      root_(root.empty() ? default_root() : std::move(root)) {}

DeterministicMemoCache::~DeterministicMemoCache() = default;

Result<std::unique_ptr<DeterministicMemoCache>> DeterministicMemoCache::create(
    RuntimeConfig config, std::shared_ptr<Backend> global_backend,
    std::string root) {
  std::unique_ptr<DeterministicMemoCache> cache(
      new DeterministicMemoCache(std::move(config), std::move(root)));
  const RuntimeConfig& c = cache->config_;
  if (c.pre_populate_deterministic_cache) {
    CP_TRY(cache->pre_populate(*c.pre_populate_deterministic_cache));
  }
  if (c.strictly_pre_populated_determinism) {
    // No synchronization cache: memory only.
  } else if (c.global_determinism) {
    if (!global_backend) {
      return make_error(
          ErrorCode::kInvalidArgument,
          ErrorReason::kDeterministicCachingRequiresStrongConsistency,
          "GLOBAL determinism needs a strongly consistent backend; none was "
          "given (CACHEPACK_DETERMINISTIC_CACHE_URL is unset)");
    }
    if (!global_backend->strongly_consistent()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          ErrorReason::kDeterministicCachingRequiresStrongConsistency,
          "GLOBAL determinism needs a strongly consistent backend, which " +
              global_backend->url() + " is not (docs/RUNTIME.md)",
          ErrorLocation{.url = global_backend->url()});
    }
    cache->global_ = std::move(global_backend);
    cache->global_sync_ = std::make_unique<BackendSync>(cache->global_);
  } else if (c.local_determinism) {
    // One directory per function, made on first use.
  } else {
    return make_error(
        ErrorCode::kInvalidArgument,
        ErrorReason::kDeterministicCachingInvalidConfiguration,
        "Deterministic caching must specify at least one of "
        "STRICTLY_PRE_POPULATED_DETERMINISM, GLOBAL_DETERMINISM, or "
        "LOCAL_DETERMINISM.");
  }
  return cache;
}

Result<void> DeterministicMemoCache::usable() const {
  if (config_.deterministic_caching_enabled) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    ErrorReason::kDeterministicCachingDisabled,
                    "deterministic caching is disabled "
                    "(TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING is not 1)");
}

Result<DeterministicMemoCache::Sync*> DeterministicMemoCache::sync_for(
    std::string_view fn_name) {
  if (config_.strictly_pre_populated_determinism) return nullptr;
  if (global_sync_) return global_sync_.get();
  auto& slot = local_[std::string(fn_name)];
  if (!slot)
    slot = std::make_unique<DiskSync>(root_ + "/" + std::string(fn_name));
  return slot.get();
}

Result<std::optional<Value>> DeterministicMemoCache::do_get(
    std::string_view fn_name, const Params& params,
    const MemoOptions& options) {
  CP_ASSIGN_OR_RETURN(Value key, memo_key(fn_name, params, options));
  CP_ASSIGN_OR_RETURN(Sync * sync, sync_for(fn_name));
  std::optional<FileLock> lock;
  if (sync) {
    CP_ASSIGN_OR_RETURN(lock, sync->lock());
  }
  CP_ASSIGN_OR_RETURN(std::optional<Value> hit,
                      as_interface_error(memory_.get(key), fn_name));
  if (hit) return decoded(std::move(hit), options);
  auto not_found = [&] {
    return make_error(ErrorCode::kNotFound,
                      ErrorReason::kStrictDeterministicCachingKeyNotFound,
                      "key " + pickle::repr(key) + " of function " +
                          std::string(fn_name) +
                          " is not cached, and a strict deterministic mode is "
                          "on");
  };
  if (!sync) return not_found();
  CP_ASSIGN_OR_RETURN(hit, as_interface_error(sync->get(key), fn_name));
  if (hit) return decoded(std::move(hit), options);
  if (config_.strictly_cached_determinism) return not_found();
  return std::nullopt;
}

Result<bool> DeterministicMemoCache::do_insert(std::string_view fn_name,
                                               const Params& params,
                                               const Value& result,
                                               const MemoOptions& options) {
  if (config_.strictly_pre_populated_determinism ||
      config_.strictly_cached_determinism) {
    return make_error(ErrorCode::kPermissionDenied,
                      ErrorReason::kStrictDeterministicCachingInsertion,
                      "insert into function " + std::string(fn_name) +
                          "'s cache refused: a strict deterministic mode is "
                          "on");
  }
  CP_ASSIGN_OR_RETURN(Value key, memo_key(fn_name, params, options));
  CP_ASSIGN_OR_RETURN(Sync * sync, sync_for(fn_name));
  CP_ASSIGN_OR_RETURN(std::optional<FileLock> lock, sync->lock());
  CP_ASSIGN_OR_RETURN(Value value, encoded(result, options));
  CP_ASSIGN_OR_RETURN(bool stored,
                      as_interface_error(sync->insert(key, value), fn_name));
  if (!stored) return false;
  // Memory may hold it already (pre-populated); it is kept.
  CP_TRY(as_interface_error(memory_.insert(key, value), fn_name));
  return true;
}

Result<MemoCache::Recorded> DeterministicMemoCache::after_lost_insert(
    std::string_view fn_name, const Params& params, Value,
    const MemoOptions& options) {
  // Another worker decided this key between our get and insert: return its
  // value, as every other worker will.
  CP_ASSIGN_OR_RETURN(std::optional<Value> hit,
                      do_get(fn_name, params, options));
  if (!hit) {
    return make_error(ErrorCode::kInternal,
                      "the synchronization cache refused an insert of a key "
                      "of function " +
                          std::string(fn_name) + " and then did not have it");
  }
  return Recorded{std::move(*hit), Source::kLostToCached};
}

size_t DeterministicMemoCache::memory_size() {
  std::lock_guard guard(lock_);
  return memory_.entries().size();
}

// ---- Pre-population and dump --------------------------------------------

namespace {

using Json = nlohmann::ordered_json;

Result<Json> read_json_object(const std::string& path) {
  Result<Bytes> data = read_file(path);
  if (!data) return tl::unexpected(std::move(data).error());
  Json j = Json::parse(as_chars(*data), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "not a JSON object of repr strings",
                      ErrorLocation{.file = path});
  }
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) {
      return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                        "the value of a key is not a string",
                        ErrorLocation{.file = path, .key = k});
    }
  }
  return j;
}

}  // namespace

Result<void> DeterministicMemoCache::pre_populate(const std::string& path) {
  CP_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(path + ".lock"));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(ErrorCode::kNotFound,
                      "pre-population file does not exist "
                      "(TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE)",
                      ErrorLocation{.file = path});
  }
  CP_ASSIGN_OR_RETURN(Json j, read_json_object(path));
  for (const auto& [key_r, value_r] : j.items()) {
    auto bad = [&](const Error& e, std::string what) {
      ErrorLocation where = e.where();
      where.file = path;
      where.key = key_r;
      return tl::unexpected(Error(ErrorCode::kDataLoss,
                                  ErrorReason::kInvalidContent,
                                  what + ": " + e.message(), where));
    };
    Result<Value> key = parse_python_literal(key_r);
    if (!key) return bad(key.error(), "key is not a Python literal");
    if (key->kind() != pickle::Kind::kBytes) {
      return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidContent,
                        "key is a " +
                            std::string(pickle::to_string(key->kind())) +
                            " literal, not the bytes of a pickled key",
                        ErrorLocation{.file = path, .key = key_r});
    }
    Result<Value> value = parse_python_literal(value_r.get<std::string>());
    if (!value) return bad(value.error(), "value is not a Python literal");
    // torch assigns: a key spelt twice (b'a' and b"a") keeps its last value.
    memory_.assign_pickled(*key->as<Bytes>(), std::move(*value));
  }
  return {};
}

Result<std::optional<std::string>> DeterministicMemoCache::dump() {
  CP_ASSIGN_OR_RETURN(auto guard, acquire_lock(lock_));
  Json to_dump = Json::object();
  for (const auto& [pk, value] : memory_.entries()) {
    to_dump[pickle::repr(Value(pk))] = pickle::repr(value);
  }
  if (to_dump.empty()) return std::nullopt;
  MemoDisk odc(root_ + "/dcache_dump");
  std::string path = odc.dir() + "/imc.save";
  CP_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(odc.lock_path()));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    CP_ASSIGN_OR_RETURN(Json existing, read_json_object(path));
    for (const auto& [k, v] : existing.items()) {
      if (to_dump.contains(k)) {
        return make_error(ErrorCode::kAlreadyExists,
                          ErrorReason::kDeterministicCachingIMCDumpConflict,
                          "the dump already holds a key of this process's "
                          "deterministic cache",
                          ErrorLocation{.file = path, .key = k});
      }
      to_dump[k] = v;
    }
  }
  std::string text;
  try {
    text = to_dump.dump(4, ' ', /*ensure_ascii=*/true);
  } catch (const nlohmann::json::exception& e) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kInvalidUtf8,
        std::string("a cached str is not valid UTF-8: ") + e.what(),
        ErrorLocation{.file = path});
  }
  // Whole or not at all: a temporary file renamed over the old dump.
  CP_TRY(write_file_replacing(path, as_bytes(text)));
  return std::optional<std::string>(path);
}

// ---- The process's caches ------------------------------------------------

Result<MemoCache*> fcache() {
  static FastMemoCache cache(runtime_config());
  return &cache;
}

Result<DeterministicMemoCache*> dcache() {
  static const Result<std::unique_ptr<DeterministicMemoCache>> made =
      []() -> Result<std::unique_ptr<DeterministicMemoCache>> {
    const RuntimeConfig& c = runtime_config();
    std::shared_ptr<Backend> backend;
    if (c.global_determinism && !c.strictly_pre_populated_determinism &&
        c.deterministic_cache_url) {
      // Kept for the process: an open function may refer to its registry.
      static Result<std::unique_ptr<BackendRegistry>> registry =
          registry_with_all_backends();
      if (!registry) return tl::unexpected(registry.error());
      CP_ASSIGN_OR_RETURN(std::unique_ptr<Backend> b,
                          (*registry)->open(*c.deterministic_cache_url));
      backend = std::move(b);
    }
    return DeterministicMemoCache::create(c, std::move(backend));
  }();
  if (!made) return tl::unexpected(made.error());
  return made->get();
}

Result<MemoCache*> icache() {
  if (!runtime_config().deterministic_caching_enabled) return fcache();
  CP_ASSIGN_OR_RETURN(DeterministicMemoCache * d, dcache());
  return d;
}

}  // namespace cachepack::runtime
