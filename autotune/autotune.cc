// Best-config records, _load_cached_autotuning's selection, and
// AutotuneCache's local-then-remote read and save.
#include "cachepack/autotune.h"

#include <string>
#include <string_view>

#include "autotune/python_json.h"

namespace cachepack::autotune {
namespace {

JsonText compact(const Json& v) {
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A field's value. Texts from parse() always parse; a caller's kwarg that
// is not JSON is taken as a string, rather than lost.
Json value_of(const JsonText& text) {
  Json v = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return v.is_discarded() ? Json(text) : v;
}

std::optional<int64_t> integer_of(const std::optional<JsonText>& text) {
  if (!text) return std::nullopt;
  Json v = value_of(*text);
  if (!v.is_number_integer()) return std::nullopt;
  if (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX) {
    return std::nullopt;
  }
  return v.get<int64_t>();
}

std::optional<std::string> string_of(const std::optional<JsonText>& text) {
  if (!text) return std::nullopt;
  Json v = value_of(*text);
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

// The record as the dict _load_cached_autotuning pops fields from.
class Dict {
 public:
  explicit Dict(const Record& r) {
    for (const auto& [k, text] : r.fields()) {
      j_[k] = value_of(text);
    }
  }
  std::optional<Json> pop(std::string_view key) {
    auto it = j_.find(std::string(key));
    if (it == j_.end()) return std::nullopt;
    Json v = std::move(*it);
    j_.erase(it);
    return v;
  }
  // best_config.get(key): None when absent.
  Json get(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() ? Json(nullptr) : *it;
  }
  const Json& json() const { return j_; }

 private:
  Json j_ = Json::object();
};

bool matches(const TritonConfig& cfg, const Dict& best) {
  for (const auto& [key, text] : cfg.kwargs) {
    if (!python_equal(value_of(text), best.get(key))) return false;
  }
  return python_equal(Json(cfg.num_warps), best.get("num_warps")) &&
         python_equal(Json(cfg.num_stages), best.get("num_stages"));
}

// An integer, or a float with an integral value (Python keeps 4.0, which
// Triton uses as 4).
Result<int64_t> required_integer(std::optional<Json> v,
                                 std::string_view field) {
  if (v && v->is_number_float()) {
    double d = v->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d)) && d > -9.2e18 &&
        d < 9.2e18) {
      return static_cast<int64_t>(d);
    }
  }
  if (!v || !v->is_number_integer() ||
      (v->is_number_unsigned() && v->get<uint64_t>() > INT64_MAX)) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidContent,
                      "best-config record has no integer \"" +
                          std::string(field) + "\" to rebuild its config from");
  }
  return v->get<int64_t>();
}

Result<int64_t> optional_integer(std::optional<Json> v,
                                 std::string_view field) {
  if (!v) return 0;
  return required_integer(std::move(v), field);
}

}  // namespace

Result<Record> Record::parse(std::string_view json) {
  CP_ASSIGN_OR_RETURN(Json j, parse_json(json, "best-config record"));
  if (!j.is_object()) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "best-config record is JSON but not an object");
  }
  Record r;
  for (const auto& [k, v] : j.items()) r.fields_.emplace_back(k, compact(v));
  return r;
}

std::string Record::to_json() const {
  Json j = Json::object();
  for (const auto& [k, text] : fields_) j[k] = value_of(text);
  return python_dumps(j);
}

Record Record::from_config(const TritonConfig& config,
                           std::string_view configs_hash,
                           bool found_by_coordesc, int64_t time_taken_ns,
                           std::optional<std::string> triton_cache_hash,
                           std::optional<JsonText> extra_options,
                           bool has_warp_spec) {
  // A dict literal: later keys replace earlier ones in place.
  Json j = Json::object();
  for (const auto& [k, text] : config.kwargs) j[k] = value_of(text);
  j["num_warps"] = config.num_warps;
  j["num_stages"] = config.num_stages;
  j["configs_hash"] = std::string(configs_hash);
  j["found_by_coordesc"] = found_by_coordesc;
  // Python's ns // 1000000 floors.
  int64_t ms = time_taken_ns / 1'000'000;
  if (time_taken_ns % 1'000'000 != 0 && time_taken_ns < 0) --ms;
  j["time_taken_ms"] = ms;
  j["triton_cache_hash"] =
      triton_cache_hash ? Json(*triton_cache_hash) : Json(nullptr);
  if (extra_options) {
    Json extra = value_of(*extra_options);
    if (python_truthy(extra)) j["extra_options"] = std::move(extra);
  }
  if (has_warp_spec) {
    j["num_consumer_groups"] = config.num_consumer_groups.value_or(0);
    j["num_buffers_warp_spec"] = config.num_buffers_warp_spec.value_or(0);
  }
  Record r;
  for (const auto& [k, v] : j.items()) r.fields_.emplace_back(k, compact(v));
  return r;
}

std::optional<JsonText> Record::get(std::string_view name) const {
  for (const auto& [k, text] : fields_) {
    if (k == name) return text;
  }
  return std::nullopt;
}

std::optional<std::string> Record::configs_hash() const {
  return string_of(get("configs_hash"));
}
std::optional<int64_t> Record::time_taken_ms() const {
  return integer_of(get("time_taken_ms"));
}
std::optional<int64_t> Record::time_saved_ns() const {
  return integer_of(get("time_saved_ns"));
}
std::optional<std::string> Record::triton_cache_hash() const {
  return string_of(get("triton_cache_hash"));
}
bool Record::found_by_coordesc() const {
  auto text = get("found_by_coordesc");
  return text && python_truthy(value_of(*text));
}

std::string Record::describe_config() const {
  static constexpr std::string_view kNotConfig[] = {
      "configs_hash", "found_by_coordesc", "time_taken_ms", "triton_cache_hash",
      "num_warps",    "num_stages",        "time_saved_ns"};
  std::string out;
  auto add = [&](std::string_view k, const JsonText& v) {
    if (!out.empty()) out += ", ";
    out += k;
    out += '=';
    out += v;
  };
  for (const auto& [k, text] : fields_) {
    bool skip = false;
    for (std::string_view n : kNotConfig) skip = skip || k == n;
    if (!skip) add(k, text);
  }
  for (std::string_view k : {"num_warps", "num_stages"}) {
    if (auto v = get(k)) add(k, *v);
  }
  return out;
}

Result<std::optional<Selection>> select(
    const Record& record, std::string_view configs_hash,
    std::span<const TritonConfig> candidates, const SelectOptions& options) {
  Dict best(record);
  std::optional<Json> stored_hash = best.pop("configs_hash");
  if (!stored_hash || !stored_hash->is_string() ||
      stored_hash->get_ref<const std::string&>() != configs_hash) {
    return std::nullopt;
  }
  best.pop("time_taken_ms");
  best.pop("triton_cache_hash");
  std::optional<Json> extra = best.pop("extra_options");
  Selection out;
  if (extra && !extra->is_null()) out.extra_options = compact(*extra);

  // `coordinate_descent_tuning and best_config.pop("found_by_coordesc",
  // False)`: the field stays (as a kwarg to compare) without the option.
  bool found_by_coordesc = false;
  if (options.coordinate_descent_tuning) {
    std::optional<Json> f = best.pop("found_by_coordesc");
    found_by_coordesc = f && python_truthy(*f);
  }
  if (!found_by_coordesc) {
    std::optional<size_t> match;
    size_t count = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (matches(candidates[i], best)) {
        match = i;
        ++count;
      }
    }
    if (count == 1) {
      out.config = candidates[*match];
      out.candidate = match;
      return out;
    }
  }

  // Rebuilt from the record: coordinate-descent results, and configs added
  // at run time (_dynamic_scale_rblock) that no candidate holds.
  best.pop("found_by_coordesc");
  CP_ASSIGN_OR_RETURN(out.config.num_warps,
                      required_integer(best.pop("num_warps"), "num_warps"));
  CP_ASSIGN_OR_RETURN(out.config.num_stages,
                      required_integer(best.pop("num_stages"), "num_stages"));
  if (options.has_warp_spec) {
    CP_ASSIGN_OR_RETURN(out.config.num_consumer_groups,
                        optional_integer(best.pop("num_consumer_groups"),
                                         "num_consumer_groups"));
    CP_ASSIGN_OR_RETURN(out.config.num_buffers_warp_spec,
                        optional_integer(best.pop("num_buffers_warp_spec"),
                                         "num_buffers_warp_spec"));
  }
  for (const auto& [k, v] : best.json().items()) {
    out.config.kwargs.emplace_back(k, compact(v));
  }
  out.found_by_coordesc = found_by_coordesc;
  return out;
}

Result<std::optional<Found>> read(const KernelCache& cache) {
  if (cache.local) {
    CP_ASSIGN_OR_RETURN(
        auto bytes, cache.local->get(kLocalNamespace, cache.keys.artifact_key));
    if (bytes) {
      // LocalCache: corrupt JSON is a miss (PyTorch logs a warning).
      auto record = Record::parse(as_chars(*bytes));
      if (record) {
        if (cache.bundler) cache.bundler->put(cache.keys.local_path, *record);
        if (!record->fields().empty()) return Found{std::move(*record), false};
      }
    }
  }
  if (cache.remote && cache.keys.remote_cache_id) {
    CP_ASSIGN_OR_RETURN(auto bytes,
                        cache.remote->get(*cache.keys.remote_cache_id,
                                          cache.keys.prepared_key));
    if (bytes && !bytes->empty()) {
      CP_ASSIGN_OR_RETURN(
          Json j, with_key(parse_json(as_chars(*bytes), "remote best config"),
                           cache.keys.prepared_key));
      // Anything but a non-empty object is a miss, as in _read.
      if (j.is_object() && !j.empty()) {
        Record r = *Record::parse(as_chars(*bytes));
        return Found{std::move(r), true};
      }
    }
  }
  return std::nullopt;
}

Result<void> save(const KernelCache& cache, const Record& record) {
  std::string json = record.to_json();
  if (cache.local) {
    CP_TRY(cache.local->put(kLocalNamespace, cache.keys.artifact_key,
                            as_bytes(json), PutMode::kOverwrite));
    if (cache.bundler) cache.bundler->put(cache.keys.local_path, record);
  }
  if (cache.remote && cache.keys.remote_cache_id) {
    CP_TRY(cache.remote->put(*cache.keys.remote_cache_id,
                             cache.keys.prepared_key, as_bytes(json),
                             PutMode::kOverwrite));
  }
  return {};
}

}  // namespace cachepack::autotune
