// The bundled form of a compile's best configs and AutotuneCacheBundler.
#include <string>
#include <string_view>

#include "autotune/python_json.h"
#include "cachepack/autotune.h"

namespace cachepack::autotune {

Result<BundleEntries> parse_bundle(std::string_view json) {
  CP_ASSIGN_OR_RETURN(Json j, parse_json(json, "autotune bundle"));
  if (!j.is_object()) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "autotune bundle is JSON but not an object");
  }
  BundleEntries entries;
  for (const auto& [name, value] : j.items()) {
    auto record = Record::parse(
        value.dump(-1, ' ', false, Json::error_handler_t::replace));
    if (!record) {
      return tl::unexpected(std::move(record.error()).with_key(name));
    }
    entries.emplace_back(name, std::move(*record));
  }
  return entries;
}

std::string bundle_to_json(const BundleEntries& entries) {
  Json j = Json::object();
  for (const auto& [name, record] : entries) {
    j[name] = Json::parse(record.to_json());
  }
  return python_dumps(j);
}

Result<Expanded> expand_bundle(const BundleEntries& entries, Backend& local) {
  Expanded out;
  for (const auto& [name, record] : entries) {
    CP_ASSIGN_OR_RETURN(std::string key, bundle_entry_artifact_key(name));
    CP_TRY(local.put(kLocalNamespace, key, as_bytes(record.to_json()),
                     PutMode::kOverwrite));
    ++out.records;
    out.time_taken_ms += record.time_taken_ms().value_or(0);
    out.time_saved_ns += record.time_saved_ns().value_or(0);
  }
  return out;
}

Result<Bundler> Bundler::begin(Backend& remote, Backend& local,
                               std::string_view code_hash,
                               std::string_view backend_hash) {
  Bundler b(remote, bundle_key(code_hash, backend_hash));
  CP_ASSIGN_OR_RETURN(auto bytes, remote.get(kBundleCacheId, b.key_));
  if (!bytes || bytes->empty()) return b;
  CP_ASSIGN_OR_RETURN(
      Json j,
      with_key(parse_json(as_chars(*bytes), "autotune bundle"), b.key_));
  // Anything but an object is a miss, as in _load_cache.
  if (!j.is_object()) return b;
  CP_ASSIGN_OR_RETURN(auto entries,
                      with_key(parse_bundle(as_chars(*bytes)), b.key_));
  CP_ASSIGN_OR_RETURN(b.hit_, expand_bundle(entries, local));
  return b;
}

void Bundler::put(std::string_view path, const Record& record) {
  if (!collecting()) return;
  size_t slash = path.rfind('/');
  std::string name(slash == std::string_view::npos ? path
                                                   : path.substr(slash + 1));
  // A dict: a second put of a name replaces the value where it stands.
  for (auto& [n, r] : entries_) {
    if (n == name) {
      r = record;
      return;
    }
  }
  entries_.emplace_back(std::move(name), record);
}

Result<bool> Bundler::end() {
  if (!collecting()) return false;
  ended_ = true;
  if (entries_.empty()) return false;
  std::string json = bundle_to_json(entries_);
  CP_TRY(
      remote_->put(kBundleCacheId, key_, as_bytes(json), PutMode::kOverwrite));
  return true;
}

}  // namespace cachepack::autotune
