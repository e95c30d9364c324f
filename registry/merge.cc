#include "cachepack/merge.h"

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "cachepack/diff.h"

namespace cachepack {
namespace {

// The artifacts of `inner` that `keep` admits, in their order.
class FilteredArtifactSource final : public ArtifactSource {
 public:
  FilteredArtifactSource(const ArtifactSource& inner, std::vector<size_t> kept)
      : inner_(inner), kept_(std::move(kept)) {}
  size_t size() const override { return kept_.size(); }
  const SourceArtifact& at(size_t i) const override {
    return inner_.at(kept_[i]);
  }
  Result<std::unique_ptr<ContentSource>> open(size_t i) const override {
    return inner_.open(kept_[i]);
  }
  std::optional<ByteSpan> view(size_t i) const override {
    return inner_.view(kept_[i]);
  }

 private:
  const ArtifactSource& inner_;
  std::vector<size_t> kept_;
};

using TypeKey = std::pair<std::string, std::string>;

}  // namespace

std::optional<ConflictPolicy> parse_conflict_policy(std::string_view text) {
  if (text == "error") return ConflictPolicy::kError;
  if (text == "first") return ConflictPolicy::kFirst;
  if (text == "last") return ConflictPolicy::kLast;
  return std::nullopt;
}

Result<MergeStats> merge(std::span<const MergeInput> inputs,
                         ConflictPolicy policy, PackSink& sink) {
  // Each key's contents: the first (or last) input's that holds it.
  // Conflicts are keys whose holders disagree.
  std::vector<ContentDigests> held;
  std::map<TypeKey, std::pair<size_t, const std::set<Sha256Digest>*>> chosen;
  MergeStats stats;
  for (size_t n = 0; n < inputs.size(); ++n) {
    PackSource source{.artifacts = inputs[n].artifacts};
    CP_ASSIGN_OR_RETURN(auto digests, digest_contents(source));
    held.push_back(std::move(digests));
  }
  for (size_t n = 0; n < inputs.size(); ++n) {
    for (const auto& [type, by_key] : held[n]) {
      for (const auto& [key, contents] : by_key) {
        auto [it, is_new] = chosen.try_emplace({type, key}, n, &contents);
        if (is_new || *it->second.second == contents) continue;
        if (policy == ConflictPolicy::kError) {
          return make_error(
              ErrorCode::kInvalidArgument, ErrorReason::kConflict,
              type + " artifact: " + inputs[it->second.first].name + " and " +
                  inputs[n].name +
                  " hold different contents under this key (--on-conflict "
                  "first or last keeps one)",
              ErrorLocation{.file = inputs[n].name, .key = key});
        }
        ++stats.conflicts;
        if (policy == ConflictPolicy::kLast) it->second = {n, &contents};
      }
    }
  }
  // An input keeps the keys where it holds the chosen contents (pack()
  // drops the copies); the rest is what the policy leaves out.
  std::vector<std::unique_ptr<FilteredArtifactSource>> filtered;
  std::vector<PackSource> sources;
  for (size_t n = 0; n < inputs.size(); ++n) {
    const ArtifactSource& artifacts = *inputs[n].artifacts;
    std::vector<size_t> kept;
    for (size_t i = 0; i < artifacts.size(); ++i) {
      const SourceArtifact& a = artifacts.at(i);
      const auto& contents = held[n].at(a.type).at(a.key);
      if (*chosen.at({a.type, a.key}).second == contents) {
        kept.push_back(i);
      } else {
        ++stats.dropped;
      }
    }
    filtered.push_back(
        std::make_unique<FilteredArtifactSource>(artifacts, std::move(kept)));
    sources.push_back({.artifacts = filtered.back().get()});
  }
  CP_ASSIGN_OR_RETURN(stats.packed, pack(sources, sink));
  return stats;
}

}  // namespace cachepack
