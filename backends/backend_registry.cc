#include "cachepack/backend_registry.h"

#include <mutex>

#include "backends/read_only_backend.h"

namespace cachepack {

Result<void> BackendRegistry::register_scheme(std::string scheme,
                                              std::string_view url_form,
                                              OpenFn open) {
  if (!open) {
    return make_error(ErrorCode::kInvalidArgument,
                      "backend scheme '" + scheme + "' needs an open function");
  }
  std::unique_lock lock(mutex_);
  if (openers_.contains(scheme)) {
    return make_error(ErrorCode::kAlreadyExists,
                      "backend scheme '" + scheme + "' is already registered");
  }
  openers_.emplace(std::move(scheme),
                   Opener{std::string(url_form), std::move(open)});
  return {};
}

Result<std::unique_ptr<Backend>> BackendRegistry::open(
    std::string_view text) const {
  CP_ASSIGN_OR_RETURN(auto scheme, parse_url_scheme(text));
  Opener opener{std::string(kGenericUrlForm), nullptr};
  {
    std::shared_lock lock(mutex_);
    if (auto it = openers_.find(scheme); it != openers_.end()) {
      opener = it->second;
    }
  }
  // Parsed and opened outside the lock: an open function may come back
  // (tiered:// opens its inner URLs here).
  CP_ASSIGN_OR_RETURN(auto url, parse_backend_url(text, opener.url_form));
  if (!opener.open) {
    std::string known;
    for (const auto& s : schemes()) {
      known += known.empty() ? "" : ", ";
      known += s.scheme + "://";
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "bad backend URL \"" + std::string(text) +
                          "\": unknown scheme '" + url.scheme +
                          "'; registered: " + known);
  }
  // readonly= belongs to every scheme: taken out here, so the backend's own
  // parser never sees it.
  bool read_only = false;
  if (auto it = url.query.find("readonly"); it != url.query.end()) {
    CP_ASSIGN_OR_RETURN(read_only, parse_url_bool(url, "readonly", it->second,
                                                  opener.url_form));
    url.query.erase(it);
  }
  CP_ASSIGN_OR_RETURN(auto backend, opener.open(url));
  if (read_only) return make_read_only(std::move(backend));
  return backend;
}

std::vector<BackendRegistry::Scheme> BackendRegistry::schemes() const {
  std::shared_lock lock(mutex_);
  std::vector<Scheme> out;
  for (const auto& [scheme, opener] : openers_) {
    out.push_back(Scheme{scheme, opener.url_form});
  }
  return out;
}

}  // namespace cachepack
