// Records the artifacts a compile produces or uses and serializes them into
// one appending Mega-Cache blob: the C++ counterpart of PyTorch's
// CacheArtifactManager (spec 2.4-2.6), byte-compatible with its output.
#ifndef CACHEPACK_ARTIFACT_MANAGER_H_
#define CACHEPACK_ARTIFACT_MANAGER_H_

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cachepack/artifact.h"
#include "cachepack/artifact_types.h"
#include "cachepack/cache_info.h"
#include "cachepack/error.h"
#include "cachepack/hash.h"
#include "cachepack/megacache.h"

namespace cachepack {

// What makes two artifacts the same for PyTorch's dedup: type, key and the
// SHA-256 of the content, encoded so that distinct triples never collide.
std::string artifact_identity(std::string_view type, std::string_view key,
                              ByteSpan content);
// The same from the content's SHA-256.
std::string artifact_identity(std::string_view type, std::string_view key,
                              const Sha256Digest& digest);

struct SavedBlob {
  Bytes bytes;
  CacheInfo info;  // Cumulative: everything saved into this blob so far.
};

// Thread-safe: record() may be called from many threads.
class ArtifactManager {
 public:
  explicit ArtifactManager(
      const ArtifactTypes& types = ArtifactTypes::global());

  // Records one artifact. Returns true when kept, false when an identical
  // (type, key, content) was already recorded (PyTorch's dedup; the same key
  // with other content is kept). kUnknownType for an unregistered type, and
  // the type's required-rule errors (e.g. an inductor_triton key that is not
  // the SHA-256 of its content).
  Result<bool> record(std::string_view type, std::string_view key,
                      ByteSpan content);

  // Whether artifacts were recorded since the last save.
  bool need_serialize() const;

  // Appends the artifacts recorded since the last save to this manager's
  // blob (groups in first-record order of their type, artifacts in record
  // order) and returns the whole blob. As in PyTorch: nullopt if nothing was
  // ever recorded; a save with nothing new returns the unchanged blob.
  Result<std::optional<SavedBlob>> serialize();

  // Cumulative CacheInfo of everything recorded.
  CacheInfo cache_info() const;

  // Forgets everything: recorded artifacts, dedup memory and the blob.
  void clear();

  // Runs `body` with empty state and restores the previous state afterwards,
  // even if `body` throws (PyTorch's with_fresh_cache, used by standalone
  // compiles that must not leak into the surrounding save).
  template <typename Body>
  decltype(auto) with_fresh_cache(Body&& body) {
    State saved = swap_state(State{});
    struct Restore {
      ArtifactManager* manager;
      State* saved;
      ~Restore() { manager->swap_state(std::move(*saved)); }
    } restore{this, &saved};
    return std::forward<Body>(body)();
  }

 private:
  struct State {
    // Pending artifacts grouped by type, in first-record order.
    std::vector<std::pair<std::string, std::vector<Artifact>>> pending;
    std::unordered_set<std::string> seen;  // Dedup identities.
    megacache::Writer writer;
    CacheInfo info;
    bool saved_once = false;
  };
  State swap_state(State next);

  const ArtifactTypes& types_;
  mutable std::mutex mutex_;
  State state_;
};

// How repeated groups of one type (a blob saved more than once) are loaded.
enum class GroupPolicy {
  // Concatenate them in stored order: every stored artifact is loaded.
  kMerge,
  // PyTorch's loader: dict() of the group list, so a later group of a type
  // replaces an earlier one (keeping the type's first position).
  kPyTorchCompatible,
};

struct ArtifactsOfType {
  std::string type;
  std::vector<ArtifactView> artifacts;
};

// Loads a blob into one group per type, in first-appearance order. Views
// point into `blob`.
Result<std::vector<ArtifactsOfType>> load_groups(
    ByteSpan blob, GroupPolicy policy = GroupPolicy::kMerge,
    const megacache::ReadOptions& options = {});

// The CacheInfo of loaded groups.
CacheInfo cache_info_of(const std::vector<ArtifactsOfType>& groups);

}  // namespace cachepack

#endif  // CACHEPACK_ARTIFACT_MANAGER_H_
