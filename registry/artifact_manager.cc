#include "cachepack/artifact_manager.h"

#include <algorithm>

#include "cachepack/hash.h"

namespace cachepack {
std::string artifact_identity(std::string_view type, std::string_view key,
                              ByteSpan content) {
  return artifact_identity(type, key, sha256(content));
}

std::string artifact_identity(std::string_view type, std::string_view key,
                              const Sha256Digest& digest) {
  // Length-prefixed so that no two different triples share an identity.
  std::string id;
  id.reserve(type.size() + key.size() + 48);
  id += std::to_string(type.size()) + ':';
  id += type;
  id += std::to_string(key.size()) + ':';
  id += key;
  id += as_chars(digest);
  return id;
}

ArtifactManager::ArtifactManager(const ArtifactTypes& types) : types_(types) {}

Result<bool> ArtifactManager::record(std::string_view type,
                                     std::string_view key, ByteSpan content) {
  CP_TRY(types_.check(type, key, content));
  std::string id = artifact_identity(type, key, content);
  std::lock_guard lock(mutex_);
  if (!state_.seen.insert(std::move(id)).second) return false;
  auto& pending = state_.pending;
  auto group = std::find_if(pending.begin(), pending.end(),
                            [type](const auto& g) { return g.first == type; });
  if (group == pending.end()) {
    pending.emplace_back(std::string(type), std::vector<Artifact>{});
    group = pending.end() - 1;
  }
  group->second.push_back(Artifact{std::string(type), std::string(key),
                                   Bytes(content.begin(), content.end())});
  return true;
}

bool ArtifactManager::need_serialize() const {
  std::lock_guard lock(mutex_);
  return !state_.pending.empty();
}

Result<std::optional<SavedBlob>> ArtifactManager::serialize() {
  std::lock_guard lock(mutex_);
  for (const auto& [type, artifacts] : state_.pending) {
    std::vector<megacache::KeyedContent> entries;
    entries.reserve(artifacts.size());
    for (const auto& a : artifacts) entries.push_back({a.key, a.content});
    CP_TRY(state_.writer.append_group(type, entries));
    for (const auto& a : artifacts) state_.info.add(type, a.key);
  }
  state_.pending.clear();
  if (state_.info.empty()) return std::nullopt;
  ByteSpan blob = state_.writer.bytes();
  return SavedBlob{Bytes(blob.begin(), blob.end()), state_.info};
}

CacheInfo ArtifactManager::cache_info() const {
  std::lock_guard lock(mutex_);
  CacheInfo info = state_.info;
  for (const auto& [type, artifacts] : state_.pending) {
    for (const auto& a : artifacts) info.add(type, a.key);
  }
  return info;
}

void ArtifactManager::clear() { swap_state(State{}); }

ArtifactManager::State ArtifactManager::swap_state(State next) {
  std::lock_guard lock(mutex_);
  std::swap(state_, next);
  return next;
}

Result<std::vector<ArtifactsOfType>> load_groups(
    ByteSpan blob, GroupPolicy policy, const megacache::ReadOptions& options) {
  CP_ASSIGN_OR_RETURN(auto parsed, megacache::parse(blob, options));
  std::vector<ArtifactsOfType> out;
  for (auto& group : parsed.groups) {
    auto existing = std::find_if(
        out.begin(), out.end(),
        [&group](const ArtifactsOfType& g) { return g.type == group.type; });
    if (existing == out.end()) {
      out.push_back(ArtifactsOfType{group.type, std::move(group.artifacts)});
    } else if (policy == GroupPolicy::kMerge) {
      existing->artifacts.insert(
          existing->artifacts.end(),
          std::make_move_iterator(group.artifacts.begin()),
          std::make_move_iterator(group.artifacts.end()));
    } else {
      existing->artifacts = std::move(group.artifacts);
    }
  }
  return out;
}

CacheInfo cache_info_of(const std::vector<ArtifactsOfType>& groups) {
  CacheInfo info;
  for (const auto& g : groups) {
    for (const auto& a : g.artifacts) info.add(g.type, a.key);
  }
  return info;
}

}  // namespace cachepack
