// An ordered stack of backends used as one: memory in front of disk in
// front of a remote cache. Reads go down the list and copy a hit back into
// the tiers above it; writes go to every tier or only the first. A tier
// that fails is skipped and counted (degraded), so a dead remote cache
// looks like a miss, not an outage; only the first tier's errors on writes
// are reported, since that is where the caller's data must land.
#ifndef CACHEPACK_BACKENDS_TIERED_BACKEND_H_
#define CACHEPACK_BACKENDS_TIERED_BACKEND_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backends/maintenance.h"
#include "cachepack/backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/url.h"

namespace cachepack {

enum class TierWrites {
  kAll,    // Every tier: a later reader anywhere hits.
  kFirst,  // Only the first tier (lower tiers are read-only caches).
};

struct TieredOptions {
  TierWrites writes = TierWrites::kAll;
  bool promote = true;  // Copy a hit in tier i into tiers 0..i-1.
};

class TieredBackend final : public Backend, public Maintainable {
  // Only the factory constructs (it validates first); the private tag lets it
  // use std::make_unique.
  struct Tag {
    explicit Tag() = default;
  };

 public:
  // Inner URLs are separated by '|'; an '&' inside one must be written %26.
  static constexpr std::string_view kUrlForm =
      "tiered://?tiers=URL|URL|...[&write=all|first][&promote=0|1]";

  TieredBackend(Tag, std::vector<std::unique_ptr<Backend>> tiers,
                TieredOptions options)
      : tiers_(std::move(tiers)), options_(options) {}
  // kInvalidArgument for an empty list.
  static Result<std::unique_ptr<TieredBackend>> open(
      std::vector<std::unique_ptr<Backend>> tiers, TieredOptions options = {});
  // From a URL of kUrlForm, opening each inner URL with `registry` (the one
  // tiered:// is registered with).
  static Result<std::unique_ptr<Backend>> open_url(
      const BackendUrl& url, const BackendRegistry& registry);

  std::string url() const override;
  size_t tier_count() const { return tiers_.size(); }
  Backend& tier(size_t i) { return *tiers_.at(i); }
  // Tier failures absorbed as misses or skipped writes.
  uint64_t degraded() const { return degraded_; }

  // Summed over tiers that are Maintainable.
  Result<std::vector<NamespaceUsage>> usage() override;
  // Applies the limit to every Maintainable tier.
  Result<GcReport> gc(uint64_t max_bytes) override;

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline deadline) override;
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan value,
                      PutMode mode, Deadline deadline) override;
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline deadline) override;
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline deadline) override;
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline deadline) override;
  Result<std::vector<std::string>> do_namespaces(Deadline deadline) override;

 private:
  // Union of a per-tier listing; fails only if every tier fails.
  Result<std::vector<std::string>> merge(
      const std::function<Result<std::vector<std::string>>(Backend&)>& call);

  std::vector<std::unique_ptr<Backend>> tiers_;
  const TieredOptions options_;
  std::atomic<uint64_t> degraded_{0};
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_TIERED_BACKEND_H_
