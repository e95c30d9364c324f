#include "backends/memory_backend.h"

#include "backends/key_rules.h"

namespace cachepack {

MemoryBackend::MemoryBackend(MemoryOptions options) : options_(options) {}

Result<std::unique_ptr<Backend>> MemoryBackend::open_url(
    const BackendUrl& url) {
  MemoryOptions options;
  for (const auto& [name, value] : url.query) {
    if (name != "max_bytes") {
      return bad_backend_url(url, "unknown parameter '" + name + "'", kUrlForm);
    }
    CP_ASSIGN_OR_RETURN(auto n, parse_url_uint(url, name, value, kUrlForm));
    options.max_bytes = n;
  }
  if (!url.host.empty() || (!url.path.empty() && url.path != "/")) {
    return bad_backend_url(url, "mem:// takes no host or path", kUrlForm);
  }
  return std::make_unique<MemoryBackend>(options);
}

std::string MemoryBackend::url() const {
  return options_.max_bytes == 0
             ? "mem://"
             : "mem://?max_bytes=" + std::to_string(options_.max_bytes);
}

uint64_t MemoryBackend::bytes_used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

uint64_t MemoryBackend::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

MemoryBackend::Entry* MemoryBackend::find(std::string_view ns,
                                          std::string_view key) {
  auto n = entries_.find(ns);
  if (n == entries_.end()) return nullptr;
  auto k = n->second.find(key);
  return k == n->second.end() ? nullptr : &k->second;
}

void MemoryBackend::erase(std::string_view ns, std::string_view key) {
  auto n = entries_.find(ns);
  if (n == entries_.end()) return;
  auto k = n->second.find(key);
  if (k == n->second.end()) return;
  used_ -= charge(ns, key, k->second.value.size());
  lru_.erase(k->second.lru);
  n->second.erase(k);
  if (n->second.empty()) entries_.erase(n);
}

uint64_t MemoryBackend::evict_to(uint64_t limit) {
  uint64_t evicted = 0;
  while (used_ > limit && !lru_.empty()) {
    Id victim = lru_.back();
    erase(victim.ns, victim.key);
    ++evicted;
  }
  evictions_ += evicted;
  return evicted;
}

Result<std::optional<Bytes>> MemoryBackend::do_get(std::string_view ns,
                                                   std::string_view key,
                                                   Deadline) {
  CP_TRY(check_ns_key(*this, "get", ns, key));
  std::lock_guard lock(mutex_);
  Entry* e = find(ns, key);
  if (e == nullptr) return std::optional<Bytes>();
  lru_.splice(lru_.begin(), lru_, e->lru);
  return std::optional<Bytes>(e->value);
}

Result<void> MemoryBackend::check_budget(std::string_view ns,
                                         std::string_view key,
                                         uint64_t size) const {
  uint64_t cost = charge(ns, key, size);
  if (options_.max_bytes != 0 && cost > options_.max_bytes) {
    return backend_error(ErrorCode::kResourceExhausted, "put",
                         "entry of " + std::to_string(cost) +
                             " bytes exceeds the budget of " +
                             std::to_string(options_.max_bytes) + " bytes",
                         key);
  }
  return {};
}

Result<bool> MemoryBackend::do_put(std::string_view ns, std::string_view key,
                                   ByteSpan value, PutMode mode, Deadline) {
  CP_TRY(check_ns_key(*this, "put", ns, key));
  CP_TRY(check_budget(ns, key, value.size()));
  Bytes copy;
  try {
    copy.assign(value.begin(), value.end());  // Outside the lock.
  } catch (const std::bad_alloc&) {
    return backend_error(
        ErrorCode::kResourceExhausted, "put",
        "out of memory holding " + std::to_string(value.size()) + " bytes",
        key);
  }
  return store(ns, key, std::move(copy), mode);
}

Result<bool> MemoryBackend::do_put_stream(std::string_view ns,
                                          std::string_view key,
                                          ContentSource& source, PutMode mode,
                                          Deadline) {
  CP_TRY(check_ns_key(*this, "put", ns, key));
  CP_TRY(check_budget(ns, key, source.size()));
  // Read straight into the value that is kept: one copy of the content.
  CP_ASSIGN_OR_RETURN(auto value,
                      with_key(read_all(source, std::string(ns) + " artifact"),
                               std::string(key)));
  return store(ns, key, std::move(value), mode);
}

Result<bool> MemoryBackend::store(std::string_view ns, std::string_view key,
                                  Bytes value, PutMode mode) {
  uint64_t cost = charge(ns, key, value.size());
  std::lock_guard lock(mutex_);
  if (find(ns, key) != nullptr) {
    if (mode == PutMode::kInsertIfAbsent) return false;
    erase(ns, key);
  }
  auto& keys = entries_[std::string(ns)];
  lru_.push_front(Id{std::string(ns), std::string(key)});
  keys.emplace(std::string(key), Entry{std::move(value), lru_.begin()});
  used_ += cost;
  if (options_.max_bytes != 0) evict_to(options_.max_bytes);
  return true;
}

Result<bool> MemoryBackend::do_contains(std::string_view ns,
                                        std::string_view key, Deadline) {
  CP_TRY(check_ns_key(*this, "contains", ns, key));
  std::lock_guard lock(mutex_);
  return find(ns, key) != nullptr;
}

Result<bool> MemoryBackend::do_remove(std::string_view ns, std::string_view key,
                                      Deadline) {
  CP_TRY(check_ns_key(*this, "remove", ns, key));
  std::lock_guard lock(mutex_);
  if (find(ns, key) == nullptr) return false;
  erase(ns, key);
  return true;
}

Result<std::vector<std::string>> MemoryBackend::do_list(std::string_view ns,
                                                        Deadline) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  auto n = entries_.find(ns);
  if (n == entries_.end()) return keys;
  keys.reserve(n->second.size());
  for (const auto& [key, _] : n->second) keys.push_back(key);
  return keys;
}

Result<std::vector<std::string>> MemoryBackend::do_namespaces(Deadline) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [ns, _] : entries_) out.push_back(ns);
  return out;
}

Result<std::vector<NamespaceUsage>> MemoryBackend::usage() {
  std::lock_guard lock(mutex_);
  std::vector<NamespaceUsage> out;
  for (const auto& [ns, keys] : entries_) {
    NamespaceUsage u{.ns = ns};
    for (const auto& [key, e] : keys) {
      ++u.entries;
      u.bytes += charge(ns, key, e.value.size());
    }
    out.push_back(std::move(u));
  }
  return out;
}

Result<GcReport> MemoryBackend::gc(uint64_t max_bytes) {
  std::lock_guard lock(mutex_);
  GcReport report;
  report.bytes_before = used_;
  report.entries_removed = evict_to(max_bytes);
  report.bytes_after = used_;
  return report;
}

}  // namespace cachepack
