#include "cachepack/explain.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <utility>

#include "util/text.h"

namespace cachepack {
namespace {

using Json = nlohmann::ordered_json;

// One type's keys as the bundle holds them.
struct TypeKeys {
  std::string type;
  uint64_t artifacts = 0;
  std::set<std::string> keys;  // Sorted: samples are listed in this order.
};

std::vector<TypeKeys> keys_by_type(const ArtifactSource& artifacts) {
  std::vector<TypeKeys> out;
  std::map<std::string, size_t, std::less<>> index;  // Type -> position.
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const SourceArtifact& a = artifacts.at(i);
    auto [it, added] = index.emplace(a.type, out.size());
    if (added) out.push_back({.type = a.type});
    TypeKeys& t = out[it->second];
    ++t.artifacts;
    t.keys.insert(a.key);
  }
  return out;
}

// Errors that say the target cannot hold this type or key (no place for it
// in PyTorch's directory, a key its layout refuses): populate would fail
// or skip those artifacts, so explain reports it for the type and goes on.
// Anything else (a server down, a deadline) is the target failing.
bool is_about_the_type(const Error& e) {
  return e.code() == ErrorCode::kUnimplemented ||
         e.code() == ErrorCode::kInvalidArgument;
}

void add_sample(KeySample& sample, const std::string& key, size_t max_keys) {
  if (sample.keys.size() < max_keys) {
    sample.keys.push_back(key);
  } else {
    ++sample.more;
  }
}

Result<void> ask_target(TypeExplanation& t, const TypeKeys& bundle,
                        Backend& target, const ExplainOptions& options) {
  for (const std::string& key : bundle.keys) {
    auto held = target.contains(t.type, key, options.deadline);
    if (!held && !is_about_the_type(held.error())) CP_TRY(held);
    if (!held) {
      t.target_error = std::move(held.error());
      t.present = t.would_write = 0;
      t.missing = {};
      return {};
    }
    if (*held) {
      ++t.present;
    } else {
      ++t.would_write;
      add_sample(t.missing, key, options.max_keys);
    }
  }
  auto listed = target.list(t.type, options.deadline);
  if (!listed) {
    // A backend that cannot enumerate keys (the Bazel HTTP protocol) says
    // kUnimplemented; the comparison above still stands.
    if (listed.error().code() == ErrorCode::kUnimplemented) return {};
    CP_TRY(listed);
  }
  std::sort(listed->begin(), listed->end());
  KeySample only;
  for (const std::string& key : *listed) {
    if (!bundle.keys.contains(key)) add_sample(only, key, options.max_keys);
  }
  t.target_only = std::move(only);
  return {};
}

Json sample_json(const KeySample& s) {
  Json keys = Json::array();
  for (const auto& k : s.keys) keys.push_back(k);
  return keys;
}

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string sample_text(const KeySample& s) {
  std::string out;
  for (const auto& k : s.keys) {
    out += out.empty() ? "" : ", ";
    out += printable(k);
  }
  if (s.more > 0) out += " and " + std::to_string(s.more) + " more";
  return out;
}

std::string_view side_name(UncomparedField::Side side) {
  return side == UncomparedField::Side::kNotRecorded ? "not recorded"
                                                     : "unknown here";
}

}  // namespace

bool Explanation::blocked() const {
  return std::any_of(differences.begin(), differences.end(), [](auto& d) {
    return d.severity == EnvironmentSeverity::kBlocks;
  });
}

Result<Explanation> explain(const ArtifactSource& artifacts,
                            const std::optional<Environment>& recorded,
                            const ExplainOptions& options) {
  Explanation out;
  out.recorded = recorded;
  out.target_environment = options.target_environment;
  if (recorded) {
    out.differences =
        compare_environments(*recorded, options.target_environment);
    out.uncompared = uncompared_fields(*recorded, options.target_environment);
  }
  if (options.target) out.target_url = options.target->url();
  for (const TypeKeys& bundle : keys_by_type(artifacts)) {
    TypeExplanation t{.type = bundle.type,
                      .artifacts = bundle.artifacts,
                      .keys = bundle.keys.size()};
    if (options.target) {
      CP_TRY(ask_target(t, bundle, *options.target, options));
    }
    out.types.push_back(std::move(t));
  }
  return out;
}

Result<Explanation> explain(const bundle::BundleReader& bundle,
                            const ExplainOptions& options) {
  CP_ASSIGN_OR_RETURN(auto recorded, environment_of(bundle));
  CP_ASSIGN_OR_RETURN(auto entries, bundle.entries());
  // The index names every artifact; no content is read.
  struct IndexSource final : ArtifactSource {
    std::vector<SourceArtifact> artifacts;
    size_t size() const override { return artifacts.size(); }
    const SourceArtifact& at(size_t i) const override { return artifacts[i]; }
    Result<std::unique_ptr<ContentSource>> open(size_t) const override {
      return make_error(ErrorCode::kInternal, "explain reads no content");
    }
  } source;
  source.artifacts.reserve(entries.size());
  for (auto& e : entries) {
    source.artifacts.push_back(
        {std::move(e.type), std::move(e.key), e.original_size});
  }
  return explain(source, recorded, options);
}

std::string explanation_to_json(const Explanation& x, int indent) {
  Json env;
  env["recorded"] = x.recorded ? Json::parse(environment_to_json(*x.recorded))
                               : Json(nullptr);
  env["target"] = Json::parse(environment_to_json(x.target_environment));
  env["blocked"] = x.blocked();
  env["differences"] = Json::array();
  for (const auto& d : x.differences) {
    env["differences"].push_back({{"field", d.field},
                                  {"recorded", d.recorded},
                                  {"target", d.target},
                                  {"severity", to_string(d.severity)},
                                  {"message", d.message()}});
  }
  env["not_compared"] = Json::array();
  for (const auto& u : x.uncompared) {
    env["not_compared"].push_back({{"field", u.field},
                                   {"side", side_name(u.side)},
                                   {"value", u.value},
                                   {"severity", to_string(u.severity)},
                                   {"message", u.message()}});
  }
  bool has_target = !x.target_url.empty();
  Json types = Json::array();
  for (const auto& t : x.types) {
    Json j;
    j["type"] = t.type;
    j["artifacts"] = t.artifacts;
    j["keys"] = t.keys;
    j["present"] = has_target ? Json(t.present) : Json(nullptr);
    j["would_write"] = has_target ? Json(t.would_write) : Json(nullptr);
    j["missing"] = has_target ? sample_json(t.missing) : Json(nullptr);
    j["missing_more"] = t.missing.more;
    j["target_only"] =
        t.target_only ? sample_json(*t.target_only) : Json(nullptr);
    j["target_only_more"] = t.target_only ? t.target_only->more : 0;
    j["target_error"] =
        t.target_error ? Json(t.target_error->to_string()) : Json(nullptr);
    types.push_back(std::move(j));
  }
  Json out;
  out["environment"] = std::move(env);
  out["target"] = has_target ? Json(x.target_url) : Json(nullptr);
  out["types"] = std::move(types);
  // Keys need not be UTF-8; JSON replaces what is not.
  return out.dump(indent, ' ', false, Json::error_handler_t::replace);
}

std::string explanation_to_text(const Explanation& x) {
  std::string out;
  if (!x.recorded) {
    out += "environment: no environment recorded\n";
  } else {
    size_t compared = 0;
    for (const EnvironmentField& f : environment_fields()) {
      if ((*x.recorded).*f.member && x.target_environment.*f.member) {
        ++compared;
      }
    }
    size_t blocks = std::count_if(
        x.differences.begin(), x.differences.end(),
        [](auto& d) { return d.severity == EnvironmentSeverity::kBlocks; });
    if (x.differences.empty()) {
      out += "environment: no differences in " +
             plural(compared, "field", "fields") + " compared\n";
    } else {
      out += "environment: " +
             plural(x.differences.size(), "difference", "differences") +
             " in " + plural(compared, "field", "fields") + " compared, " +
             std::to_string(blocks) + " blocking\n";
    }
    for (const auto& d : x.differences) {
      out +=
          "  " + std::string(to_string(d.severity)) + ": " + d.message() + "\n";
    }
    for (const auto& u : x.uncompared) {
      out += "  not compared: " + u.message() + "\n";
    }
  }
  bool has_target = !x.target_url.empty();
  if (has_target) out += "target: " + x.target_url + "\n";
  for (const auto& t : x.types) {
    out += printable(t.type) + ": " +
           plural(t.artifacts, "artifact", "artifacts") + ", " +
           plural(t.keys, "key", "keys");
    if (!has_target) {
      out += "\n";
      continue;
    }
    if (t.target_error) {
      out +=
          "; the target cannot hold them: " + t.target_error->message() + "\n";
      continue;
    }
    out += "; " + std::to_string(t.present) + " already in the target, " +
           std::to_string(t.would_write) + " would be written\n";
    if (t.missing.total() > 0) {
      out += "  missing from the target: " + sample_text(t.missing) + "\n";
    }
    if (t.target_only && t.target_only->total() > 0) {
      out += "  only in the target: " + sample_text(*t.target_only) + "\n";
    }
  }
  return out;
}

}  // namespace cachepack
