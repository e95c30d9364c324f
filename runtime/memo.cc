// The memoizers of cachepack/runtime_memo.h, after torch 2.13's
// runtime/caching/interfaces.py and implementations.py.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>

#include "cachepack/hash.h"
#include "cachepack/runtime_cache.h"
#include "cachepack/runtime_memo.h"
#include "util/file.h"
#include "util/python_json.h"

namespace cachepack::runtime {
namespace {

namespace fs = std::filesystem;

Error with_reason(const Error& e, ErrorCode code, ErrorReason reason,
                  const std::string& what) {
  return Error(code, reason, what + ": " + e.message(), e.where());
}

Result<void> check_file_key(std::string_view key) {
  if (key.empty() || key == "." || key == ".." ||
      key.find('/') != std::string_view::npos ||
      key.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                      "on-disk cache key \"" + std::string(key) +
                          "\" is not a single file name");
  }
  return {};
}

std::string unique_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(rng());
}

// Writes `data` to a new file beside `path`; returns its name.
Result<std::string> write_aside(const std::string& path, ByteSpan header,
                                ByteSpan data) {
  fs::path p(path);
  std::string tmp = (p.parent_path() /
                     ("." + p.filename().string() + ".tmp." + unique_suffix()))
                        .string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create", tmp, errno);
  Result<void> wrote = write_all(fd, header, tmp);
  if (wrote) wrote = write_all(fd, data, tmp);
  if (::close(fd) != 0 && wrote) wrote = io_error("close", tmp, errno);
  if (!wrote) {
    ::unlink(tmp.c_str());
    return tl::unexpected(wrote.error());
  }
  return tmp;
}

// The header of the file at `path`, if it can be read; nullopt if the file
// is gone.
Result<std::optional<bool>> header_matches(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<bool>();
    return io_error("open", path, errno);
  }
  Bytes want = version_header();
  Bytes got(want.size());
  Result<size_t> n = pread_full(fd, got, path);
  ::close(fd);
  if (!n) return tl::unexpected(n.error());
  return std::optional<bool>(*n == want.size() && got == want);
}

// std::filesystem::exists without exceptions: false when it cannot tell.
bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// One stored entry as read: no regular file, a stale (or empty) one, or
// the bytes after a current header. open + fstat + read: a hit costs four
// system calls.
struct Read {
  enum { kMissing, kStale, kCurrent } state = kMissing;
  Bytes value;
};

Result<Read> read_entry(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Read{};
    return io_error("open", path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Read{};  // torch's is_file(): anything else is a miss
  }
  Bytes bytes(static_cast<size_t>(st.st_size));
  Result<size_t> n = pread_full(fd, bytes, path);
  ::close(fd);
  if (!n) return tl::unexpected(n.error());
  bytes.resize(*n);
  Bytes header = version_header();
  Read r;
  if (bytes.size() > header.size() &&
      std::equal(header.begin(), header.end(), bytes.begin())) {
    r.state = Read::kCurrent;
    r.value.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header.size()),
                   bytes.end());
  } else {
    r.state = Read::kStale;
  }
  return r;
}

Value call_args_tuple(const CallArgs& call) {
  return pickle::tuple({pickle::Tuple{call.args}, pickle::Dict{call.kwargs}});
}

// ---- JSON <-> values, as json.dump / json.load see them ----------------

Result<Json> to_json(const Value& v, int depth);

Result<std::string> json_key(const Value& k) {
  switch (k.kind()) {
    case pickle::Kind::kStr:
      return *k.as<std::string>();
    case pickle::Kind::kInt:
      return k.as<pickle::Int>()->to_decimal();
    case pickle::Kind::kBool:
      return std::string(*k.as<bool>() ? "true" : "false");
    case pickle::Kind::kNone:
      return std::string("null");
    default:
      return make_error(ErrorCode::kInvalidArgument,
                        ErrorReason::kValueEncoding,
                        "JSON keys must be str, int, bool or None, not " +
                            std::string(pickle::to_string(k.kind())));
  }
}

Result<Json> to_json(const Value& v, int depth) {
  if (depth > static_cast<int>(kDefaultMaxJsonDepth)) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kLimitExceeded,
                      "value nests too deep for the JSON dump");
  }
  switch (v.kind()) {
    case pickle::Kind::kNone:
      return Json(nullptr);
    case pickle::Kind::kBool:
      return Json(*v.as<bool>());
    case pickle::Kind::kInt: {
      const pickle::Int& i = *v.as<pickle::Int>();
      if (auto small = i.to_int64()) return Json(*small);
      return make_error(ErrorCode::kInvalidArgument,
                        ErrorReason::kValueEncoding,
                        "an int past 64 bits in the JSON dump");
    }
    case pickle::Kind::kStr:
      return Json(*v.as<std::string>());
    case pickle::Kind::kBytes:
      return make_error(ErrorCode::kInvalidArgument,
                        ErrorReason::kValueEncoding,
                        "Object of type bytes is not JSON serializable");
    case pickle::Kind::kTuple:
    case pickle::Kind::kList: {
      const auto& items = v.kind() == pickle::Kind::kTuple
                              ? v.as<pickle::Tuple>()->items
                              : v.as<pickle::List>()->items;
      Json out = Json::array();
      for (const Value& item : items) {
        CP_ASSIGN_OR_RETURN(Json j, to_json(item, depth + 1));
        out.push_back(std::move(j));
      }
      return out;
    }
    case pickle::Kind::kDict: {
      Json out = Json::object();
      for (const pickle::DictItem& item : v.as<pickle::Dict>()->items) {
        CP_ASSIGN_OR_RETURN(std::string k, json_key(item.key));
        if (out.contains(k)) {
          return make_error(ErrorCode::kInvalidArgument,
                            ErrorReason::kValueEncoding,
                            "two dict keys are both \"" + k + "\" in JSON");
        }
        CP_ASSIGN_OR_RETURN(out[k], to_json(item.value, depth + 1));
      }
      return out;
    }
  }
  return Json(nullptr);
}

// json.load's value; nullopt for what pickle::Value cannot hold (a float).
std::optional<Value> from_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return Value();
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case Json::value_t::number_unsigned:
      return Value(pickle::Int::from_uint64(j.get<uint64_t>()));
    case Json::value_t::string:
      return Value(j.get<std::string>());
    case Json::value_t::array: {
      pickle::List l;
      for (const Json& item : j) {
        std::optional<Value> v = from_json(item);
        if (!v) return std::nullopt;
        l.items.push_back(std::move(*v));
      }
      return Value(std::move(l));
    }
    case Json::value_t::object: {
      pickle::Dict d;
      for (const auto& [k, item] : j.items()) {
        std::optional<Value> v = from_json(item);
        if (!v) return std::nullopt;
        d.items.push_back({Value(k), std::move(*v)});
      }
      return Value(std::move(d));
    }
    default:
      return std::nullopt;
  }
}

// _read_dump_from_disk: nullopt for a missing or non-JSON file.
Result<std::optional<Json>> read_dump(const std::string& path) {
  if (!path_exists(path)) return std::optional<Json>();
  auto bytes = read_file(path);
  if (!bytes) {
    if (!path_exists(path)) return std::optional<Json>();
    return tl::unexpected(bytes.error());
  }
  auto parsed = parse_json_text(as_chars(*bytes), path);
  if (!parsed) return std::optional<Json>();
  return std::optional<Json>(std::move(*parsed));
}

}  // namespace

// ---- CacheEntry ---------------------------------------------------------

Result<Bytes> pickle_cache_entry(const CacheEntry& entry) {
  pickle::Dict state{{{Value("encoded_params"), entry.encoded_params},
                      {Value("encoded_result"), entry.encoded_result}}};
  auto out = pickle::dumps_object(cache_entry_class(), state);
  if (!out) {
    return tl::unexpected(with_reason(out.error(), ErrorCode::kInvalidArgument,
                                      ErrorReason::kValueEncoding,
                                      "CacheEntry does not pickle"));
  }
  return out;
}

Result<CacheEntry> unpickle_cache_entry(ByteSpan data) {
  auto state = pickle::loads_object(data, cache_entry_class());
  if (!state) {
    return tl::unexpected(with_reason(state.error(), ErrorCode::kDataLoss,
                                      ErrorReason::kValueDecoding,
                                      "not a pickled CacheEntry"));
  }
  CacheEntry entry;
  bool has_params = false, has_result = false;
  for (pickle::DictItem& item : state->items) {
    const std::string* name = item.key.as<std::string>();
    if (name && *name == "encoded_params") {
      entry.encoded_params = std::move(item.value);
      has_params = true;
    } else if (name && *name == "encoded_result") {
      entry.encoded_result = std::move(item.value);
      has_result = true;
    }
  }
  if (!has_params || !has_result) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kValueDecoding,
                      "pickled CacheEntry lacks encoded_params or "
                      "encoded_result");
  }
  return entry;
}

// ---- InMemoryCacheImpl --------------------------------------------------

std::optional<CacheEntry> InMemoryCacheImpl::get(std::string_view key) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return std::nullopt;
  return items_[it->second].second;
}

bool InMemoryCacheImpl::insert(std::string key, CacheEntry entry) {
  std::lock_guard lock(mutex_);
  if (index_.contains(key)) return false;
  index_.emplace(key, items_.size());
  items_.emplace_back(std::move(key), std::move(entry));
  return true;
}

void InMemoryCacheImpl::clear() {
  std::lock_guard lock(mutex_);
  items_.clear();
  index_.clear();
}

size_t InMemoryCacheImpl::size() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

std::vector<std::pair<std::string, CacheEntry>> InMemoryCacheImpl::items()
    const {
  std::lock_guard lock(mutex_);
  return items_;
}

// ---- OnDiskCacheImpl ----------------------------------------------------

OnDiskCacheImpl::OnDiskCacheImpl(const std::string& sub_dir)
    : dir_(torch_default_cache_dir() + "/cache" +
           (sub_dir.empty() ? std::string() : "/" + sub_dir)) {}

OnDiskCacheImpl OnDiskCacheImpl::at(std::string dir) {
  return OnDiskCacheImpl(AtDir{}, std::move(dir));
}

Result<FileLock> OnDiskCacheImpl::lock(std::optional<double> timeout) const {
  return FileLock::acquire(lock_path(), timeout);
}

Result<std::optional<Bytes>> OnDiskCacheImpl::get(std::string_view key) const {
  CP_TRY(check_file_key(key));
  std::string path = dir_ + "/" + std::string(key);
  CP_ASSIGN_OR_RETURN(Read r, read_entry(path));
  if (r.state == Read::kStale) {
    // Stale, or a header with nothing after it: torch removes it so that
    // the key can be stored again.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error("remove stale entry", path, errno);
    }
  }
  if (r.state != Read::kCurrent) return std::optional<Bytes>();
  return std::optional<Bytes>(std::move(r.value));
}

Result<bool> OnDiskCacheImpl::insert(std::string_view key,
                                     ByteSpan value) const {
  CP_TRY(check_file_key(key));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return make_error(ErrorCode::kIoError, ErrorReason::kUnspecified,
                      "create directory: " + ec.message(),
                      ErrorLocation{.file = dir_});
  }
  std::string path = dir_ + "/" + std::string(key);
  Bytes header = version_header();
  CP_ASSIGN_OR_RETURN(std::string tmp, write_aside(path, header, value));
  Result<bool> result = false;
  // Two tries: the second after removing a stale file.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      result = true;
      break;
    }
    if (errno != EEXIST) {
      result = io_error("link", path, errno);
      break;
    }
    auto matches = header_matches(path);
    if (!matches) {
      result = tl::unexpected(matches.error());
      break;
    }
    if (*matches && **matches) {
      result = false;  // A current entry is kept.
      break;
    }
    if (*matches && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
      result = io_error("remove stale entry", path, errno);
      break;
    }
  }
  ::unlink(tmp.c_str());
  return result;
}

// ---- keys ---------------------------------------------------------------

Result<Value> encoded_params_of(const CallArgs& call,
                                const ParamsEncoder& encoder) {
  if (encoder) return encoder(call);
  return pickle::dict({{"args", pickle::Tuple{call.args}},
                       {"kwargs", pickle::Dict{call.kwargs}}});
}

Result<std::string> key_of_pickled(const Value& encoded_params) {
  auto pickled = pickle::dumps(encoded_params);
  if (!pickled) {
    return tl::unexpected(with_reason(
        pickled.error(), ErrorCode::kInvalidArgument, ErrorReason::kKeyEncoding,
        "memoizer parameters do not pickle"));
  }
  return sha256_hex(*pickled).substr(0, 32);
}

Result<std::string> make_key(const CallArgs& call,
                             const ParamsEncoder& encoder) {
  if (!encoder) return key_of_pickled(call_args_tuple(call));
  CP_ASSIGN_OR_RETURN(Value encoded, encoder(call));
  return key_of_pickled(encoded);
}

// What record() stores for one call: its key and the entry of its encoded
// parameters and result (Memoizer and PersistentMemoizer alike).
Result<std::pair<std::string, CacheEntry>> keyed_entry(
    const CallArgs& call, const Value& result,
    const ParamsEncoder& params_encoder, const ResultEncoder& result_encoder) {
  CP_ASSIGN_OR_RETURN(std::string key, make_key(call, params_encoder));
  CP_ASSIGN_OR_RETURN(Value encoded_params,
                      encoded_params_of(call, params_encoder));
  Value encoded_result = result;
  if (result_encoder) {
    CP_ASSIGN_OR_RETURN(encoded_result, result_encoder(call, result));
  }
  return std::pair{std::move(key), CacheEntry{std::move(encoded_params),
                                              std::move(encoded_result)}};
}

std::string torch_cache_dir() {
  if (const char* env = std::getenv("TORCHINDUCTOR_CACHE_DIR")) {
    std::error_code ec;
    fs::path absolute = fs::absolute(env, ec);
    return (ec ? fs::path(env) : absolute).lexically_normal().string();
  }
  return torch_default_cache_dir();
}

// ---- Memoizer -----------------------------------------------------------

Memoizer::Memoizer(std::optional<std::string> sub_key,
                   const RuntimeConfig& config)
    : sub_key_(std::move(sub_key)), config_(config) {
  if (config_.cache_dump_file_path && !config_.cache_dump_file_path->empty()) {
    (void)prepopulate_from_dump(*config_.cache_dump_file_path);
  }
}

Memoizer::~Memoizer() {
  if (config_.dump_memoizer_cache) (void)dump_to_disk();
}

std::string Memoizer::dump_file_path() const {
  return torch_cache_dir() + "/memoizer_cache.json";
}
std::string Memoizer::dump_lock_path() const {
  return torch_cache_dir() + "/memoizer_cache.lock";
}

Result<void> Memoizer::dump_to_disk() const {
  return dump_to(dump_file_path(), dump_lock_path());
}

Result<void> Memoizer::dump_to(const std::string& path,
                               const std::string& lock_path) const {
  auto entries = cache_.items();
  if (entries.empty()) return {};
  // Encode first: nothing is written if an entry cannot be.
  Json mine = Json::object();
  for (const auto& [key, entry] : entries) {
    CP_ASSIGN_OR_RETURN(Json params, to_json(entry.encoded_params, 0));
    CP_ASSIGN_OR_RETURN(Json result, to_json(entry.encoded_result, 0));
    Json e = Json::object();
    e["params"] = std::move(params);
    e["result"] = std::move(result);
    mine[key] = std::move(e);
  }
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  CP_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(lock_path));
  CP_ASSIGN_OR_RETURN(std::optional<Json> existing, read_dump(path));
  Json dump = existing ? std::move(*existing) : Json::object();
  if (!existing) {
    dump["collections"] = Json::object();
    dump["cache_size"] = 0;
  }
  if (!dump.is_object() ||
      (dump.contains("collections") && !dump["collections"].is_object())) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "memoizer dump is JSON but not a dump",
                      ErrorLocation{.file = path});
  }
  if (!dump.contains("collections")) dump["collections"] = Json::object();
  Json& collections = dump["collections"];
  std::string lookup = sub_key_.value_or("null");
  Json formatted =
      collections.contains(lookup) ? collections[lookup] : Json::object();
  if (!formatted.is_object()) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
        "memoizer dump collection \"" + lookup + "\" is not a dict",
        ErrorLocation{.file = path});
  }
  for (auto& [key, e] : mine.items()) formatted[key] = std::move(e);
  collections[lookup] = std::move(formatted);
  int64_t total = 0;
  for (const auto& [name, c] : collections.items()) {
    if (!c.is_object() && !c.is_array() && !c.is_string()) {
      return make_error(
          ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
          "memoizer dump collection \"" + name + "\" has no length",
          ErrorLocation{.file = path});
    }
    total += static_cast<int64_t>(c.is_string() ? 0 : c.size());
  }
  dump["cache_size"] = total;
  std::string text = python_json_dumps(dump, {.indent = 2});
  CP_ASSIGN_OR_RETURN(std::string tmp, write_aside(path, {}, as_bytes(text)));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = io_error("rename", path, errno);
    ::unlink(tmp.c_str());
    return err;
  }
  return {};
}

Result<size_t> Memoizer::prepopulate_from_dump(const std::string& path) {
  CP_ASSIGN_OR_RETURN(std::optional<Json> dump, read_dump(path));
  if (!dump || !dump->is_object()) return size_t{0};
  auto collections = dump->find("collections");
  if (collections == dump->end() || !collections->is_object()) return size_t{0};
  auto entries = collections->find(sub_key_.value_or("null"));
  if (entries == collections->end() || !entries->is_object()) return size_t{0};
  size_t inserted = 0;
  for (const auto& [key, e] : entries->items()) {
    if (!e.is_object() || !e.contains("params") || !e.contains("result")) {
      continue;
    }
    std::optional<Value> params = from_json(e["params"]);
    std::optional<Value> result = from_json(e["result"]);
    if (!params || !result) continue;
    if (cache_.insert(key,
                      CacheEntry{std::move(*params), std::move(*result)})) {
      ++inserted;
    }
  }
  return inserted;
}

Function Memoizer::record(Function fn, ParamsEncoder params_encoder,
                          ResultEncoder result_encoder) {
  if (!config_.caching_module_enabled) return fn;
  return [this, fn = std::move(fn), params_encoder = std::move(params_encoder),
          result_encoder = std::move(result_encoder)](
             const CallArgs& call) -> Result<Value> {
    CP_ASSIGN_OR_RETURN(Value result, fn(call));
    CP_ASSIGN_OR_RETURN(
        auto keyed, keyed_entry(call, result, params_encoder, result_encoder));
    cache_.insert(std::move(keyed.first), std::move(keyed.second));
    return result;
  };
}

Function Memoizer::replay(Function fn, ParamsEncoder params_encoder,
                          ResultDecoder result_decoder) {
  (void)fn;  // Never called: replay only reads the cache.
  if (!config_.caching_module_enabled) {
    return [](const CallArgs&) -> Result<Value> {
      return make_error(ErrorCode::kNotFound, ErrorReason::kCacheMiss,
                        "Caching is disabled");
    };
  }
  return [this, params_encoder = std::move(params_encoder),
          result_decoder = std::move(result_decoder)](
             const CallArgs& call) -> Result<Value> {
    CP_ASSIGN_OR_RETURN(std::string key, make_key(call, params_encoder));
    std::optional<CacheEntry> hit = cache_.get(key);
    if (!hit) {
      return make_error(ErrorCode::kNotFound, ErrorReason::kCacheMiss,
                        "No cached result found for key: " + key);
    }
    if (result_decoder) return result_decoder(call, hit->encoded_result);
    return std::move(hit->encoded_result);
  };
}

namespace {

Function memoize_of(Function replay_fn, Function record_fn, Function fn,
                    bool enabled) {
  if (!enabled) return fn;
  return [replay_fn = std::move(replay_fn), record_fn = std::move(record_fn)](
             const CallArgs& call) -> Result<Value> {
    Result<Value> hit = replay_fn(call);
    if (hit || hit.error().reason() != ErrorReason::kCacheMiss) return hit;
    return record_fn(call);
  };
}

}  // namespace

Function Memoizer::memoize(Function fn, ParamsEncoder params_encoder,
                           ResultEncoder result_encoder,
                           ResultDecoder result_decoder) {
  return memoize_of(replay(fn, params_encoder, std::move(result_decoder)),
                    record(fn, params_encoder, std::move(result_encoder)), fn,
                    config_.caching_module_enabled);
}

// ---- PersistentMemoizer -------------------------------------------------

PersistentMemoizer::PersistentMemoizer(const std::string& sub_dir,
                                       const RuntimeConfig& config)
    : PersistentMemoizer(sub_dir, OnDiskCacheImpl(sub_dir), config) {}

PersistentMemoizer::PersistentMemoizer(const std::string& sub_dir,
                                       OnDiskCacheImpl disk,
                                       const RuntimeConfig& config)
    : memoizer_(
          sub_dir.empty() ? std::nullopt : std::optional<std::string>(sub_dir),
          config),
      disk_(std::move(disk)) {}

Result<std::optional<CacheEntry>> PersistentMemoizer::lookup(
    const std::string& key) {
  if (std::optional<CacheEntry> hit = memoizer_.cache().get(key)) return hit;
  // A hit needs no lock: cachepack's writers link whole files into place.
  // Removing a stale file does, so that it cannot remove a current file
  // another cachepack process has just put there.
  CP_TRY(check_file_key(key));
  CP_ASSIGN_OR_RETURN(Read r, read_entry(disk_.cache_dir() + "/" + key));
  std::optional<Bytes> stored;
  if (r.state == Read::kCurrent) {
    stored = std::move(r.value);
  } else if (r.state == Read::kStale) {
    CP_ASSIGN_OR_RETURN(FileLock lock, disk_.lock());
    CP_ASSIGN_OR_RETURN(stored, disk_.get(key));
  }
  if (!stored) return std::optional<CacheEntry>();
  auto entry = unpickle_cache_entry(*stored);
  if (!entry) {
    Error e = entry.error();
    return tl::unexpected(std::move(e).in_file(disk_.cache_dir() + "/" + key));
  }
  memoizer_.cache().insert(key, *entry);
  return std::optional<CacheEntry>(std::move(*entry));
}

Result<bool> PersistentMemoizer::store(const std::string& key,
                                       CacheEntry entry) {
  // The bytes are checked before anything is stored.
  CP_TRY(pickle_cache_entry(entry));
  memoizer_.cache().insert(key, std::move(entry));
  // Memory's entry is what goes to disk, as in torch's _persist_to_disk.
  std::optional<CacheEntry> kept = memoizer_.cache().get(key);
  CP_ASSIGN_OR_RETURN(Bytes pickled, pickle_cache_entry(*kept));
  CP_ASSIGN_OR_RETURN(FileLock lock, disk_.lock());
  return disk_.insert(key, pickled);
}

void PersistentMemoizer::cache_clear() {
  std::error_code ec;
  fs::remove_all(disk_.cache_dir(), ec);  // ignore_errors=True
}

Function PersistentMemoizer::record(Function fn, ParamsEncoder params_encoder,
                                    ResultEncoder result_encoder) {
  if (!memoizer_.config().caching_module_enabled) return fn;
  return [this, fn = std::move(fn), params_encoder = std::move(params_encoder),
          result_encoder = std::move(result_encoder)](
             const CallArgs& call) -> Result<Value> {
    CP_ASSIGN_OR_RETURN(Value result, fn(call));
    CP_ASSIGN_OR_RETURN(
        auto keyed, keyed_entry(call, result, params_encoder, result_encoder));
    CP_TRY(store(keyed.first, std::move(keyed.second)));
    return result;
  };
}

Function PersistentMemoizer::replay(Function fn, ParamsEncoder params_encoder,
                                    ResultDecoder result_decoder) {
  if (!memoizer_.config().caching_module_enabled) {
    return memoizer_.replay(std::move(fn));
  }
  return [this, params_encoder = std::move(params_encoder),
          result_decoder = std::move(result_decoder)](
             const CallArgs& call) -> Result<Value> {
    CP_ASSIGN_OR_RETURN(std::string key, make_key(call, params_encoder));
    CP_ASSIGN_OR_RETURN(std::optional<CacheEntry> hit, lookup(key));
    if (!hit) {
      return make_error(ErrorCode::kNotFound, ErrorReason::kCacheMiss,
                        "No cached result found for key: " + key);
    }
    if (result_decoder) return result_decoder(call, hit->encoded_result);
    return std::move(hit->encoded_result);
  };
}

Function PersistentMemoizer::memoize(Function fn, ParamsEncoder params_encoder,
                                     ResultEncoder result_encoder,
                                     ResultDecoder result_decoder) {
  return memoize_of(replay(fn, params_encoder, std::move(result_decoder)),
                    record(fn, params_encoder, std::move(result_encoder)), fn,
                    memoizer_.config().caching_module_enabled);
}

}  // namespace cachepack::runtime
