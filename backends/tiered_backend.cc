#include "backends/tiered_backend.h"

#include <algorithm>
#include <map>
#include <set>

namespace cachepack {

Result<std::unique_ptr<TieredBackend>> TieredBackend::open(
    std::vector<std::unique_ptr<Backend>> tiers, TieredOptions options) {
  if (tiers.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a tiered backend needs at least one tier");
  }
  return std::make_unique<TieredBackend>(Tag{}, std::move(tiers), options);
}

Result<std::unique_ptr<Backend>> TieredBackend::open_url(
    const BackendUrl& url, const BackendRegistry& registry) {
  auto bad = [&](const std::string& why) {
    return bad_backend_url(url, why, kUrlForm);
  };
  TieredOptions options;
  std::string list;
  for (const auto& [name, value] : url.query) {
    if (name == "tiers") {
      list = value;
    } else if (name == "write" && (value == "all" || value == "first")) {
      options.writes = value == "all" ? TierWrites::kAll : TierWrites::kFirst;
    } else if (name == "promote" && (value == "0" || value == "1")) {
      options.promote = value == "1";
    } else {
      return bad("bad parameter '" + name + "'");
    }
  }
  if (list.empty()) return bad("no tiers");
  std::vector<std::unique_ptr<Backend>> tiers;
  size_t start = 0;
  while (start <= list.size()) {
    size_t bar = list.find('|', start);
    std::string inner = list.substr(start, bar - start);
    if (inner.empty()) return bad("empty tier URL");
    CP_ASSIGN_OR_RETURN(auto tier, registry.open(inner));
    tiers.push_back(std::move(tier));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  CP_ASSIGN_OR_RETURN(auto backend, open(std::move(tiers), options));
  return std::unique_ptr<Backend>(std::move(backend));
}

std::string TieredBackend::url() const {
  std::string u = "tiered://?tiers=";
  for (size_t i = 0; i < tiers_.size(); ++i) {
    u += (i ? "|" : "") + tiers_[i]->url();
  }
  if (options_.writes == TierWrites::kFirst) u += "&write=first";
  if (!options_.promote) u += "&promote=0";
  return u;
}

Result<std::optional<Bytes>> TieredBackend::do_get(std::string_view ns,
                                                   std::string_view key,
                                                   Deadline deadline) {
  std::optional<Error> first_error;
  size_t failures = 0;
  for (size_t i = 0; i < tiers_.size(); ++i) {
    auto r = tiers_[i]->get(ns, key, deadline);
    if (!r) {
      ++degraded_;
      ++failures;
      if (!first_error) first_error = r.error();
      continue;
    }
    if (!*r) continue;
    if (options_.promote) {
      for (size_t up = 0; up < i; ++up) {
        if (!tiers_[up]->put(ns, key, **r, PutMode::kOverwrite, deadline)) {
          ++degraded_;
        }
      }
    }
    return r;
  }
  // Only when no tier could answer at all is there nothing to call a miss.
  if (failures == tiers_.size()) return tl::unexpected(*first_error);
  return std::optional<Bytes>();
}

Result<bool> TieredBackend::do_put(std::string_view ns, std::string_view key,
                                   ByteSpan value, PutMode mode,
                                   Deadline deadline) {
  auto first = tiers_[0]->put(ns, key, value, mode, deadline);
  if (!first) return first;
  if (options_.writes == TierWrites::kAll) {
    for (size_t i = 1; i < tiers_.size(); ++i) {
      if (!tiers_[i]->put(ns, key, value, mode, deadline)) ++degraded_;
    }
  }
  return first;
}

Result<bool> TieredBackend::do_contains(std::string_view ns,
                                        std::string_view key,
                                        Deadline deadline) {
  size_t failures = 0;
  std::optional<Error> first_error;
  for (auto& tier : tiers_) {
    auto r = tier->contains(ns, key, deadline);
    if (!r) {
      ++degraded_;
      ++failures;
      if (!first_error) first_error = r.error();
    } else if (*r) {
      return true;
    }
  }
  if (failures == tiers_.size()) return tl::unexpected(*first_error);
  return false;
}

Result<bool> TieredBackend::do_remove(std::string_view ns, std::string_view key,
                                      Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto first, tiers_[0]->remove(ns, key, deadline));
  bool removed = first;
  for (size_t i = 1; i < tiers_.size(); ++i) {
    auto r = tiers_[i]->remove(ns, key, deadline);
    if (!r) {
      ++degraded_;
    } else {
      removed = removed || *r;
    }
  }
  return removed;
}

Result<std::vector<std::string>> TieredBackend::merge(
    const std::function<Result<std::vector<std::string>>(Backend&)>& call) {
  std::set<std::string> all;
  size_t failures = 0;
  std::optional<Error> first_error;
  for (auto& tier : tiers_) {
    auto r = call(*tier);
    if (!r) {
      ++degraded_;
      ++failures;
      if (!first_error) first_error = r.error();
      continue;
    }
    all.insert(r->begin(), r->end());
  }
  if (failures == tiers_.size()) return tl::unexpected(*first_error);
  return std::vector<std::string>(all.begin(), all.end());
}

Result<std::vector<std::string>> TieredBackend::do_list(std::string_view ns,
                                                        Deadline deadline) {
  return merge([&](Backend& b) { return b.list(ns, deadline); });
}

Result<std::vector<std::string>> TieredBackend::do_namespaces(
    Deadline deadline) {
  return merge([&](Backend& b) { return b.namespaces(deadline); });
}

Result<std::vector<NamespaceUsage>> TieredBackend::usage() {
  std::map<std::string, NamespaceUsage> by_ns;
  for (auto& tier : tiers_) {
    auto* m = dynamic_cast<Maintainable*>(tier.get());
    if (m == nullptr) continue;
    CP_ASSIGN_OR_RETURN(auto u, m->usage());
    for (const auto& n : u) {
      auto& total = by_ns[n.ns];
      total.ns = n.ns;
      total.entries += n.entries;
      total.bytes += n.bytes;
    }
  }
  std::vector<NamespaceUsage> out;
  for (auto& [_, u] : by_ns) out.push_back(std::move(u));
  return out;
}

Result<GcReport> TieredBackend::gc(uint64_t max_bytes) {
  GcReport total;
  for (auto& tier : tiers_) {
    auto* m = dynamic_cast<Maintainable*>(tier.get());
    if (m == nullptr) continue;
    CP_ASSIGN_OR_RETURN(auto r, m->gc(max_bytes));
    total.bytes_before += r.bytes_before;
    total.bytes_after += r.bytes_after;
    total.entries_removed += r.entries_removed;
    total.stale_removed += r.stale_removed;
    total.temps_removed += r.temps_removed;
  }
  return total;
}

}  // namespace cachepack
