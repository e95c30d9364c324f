// Combining several bundles or blobs into one (`cachepack merge`).
#ifndef CACHEPACK_MERGE_H_
#define CACHEPACK_MERGE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cachepack/artifact_source.h"
#include "cachepack/error.h"
#include "cachepack/pack.h"

namespace cachepack {

// What to do when two inputs hold one key with different contents.
enum class ConflictPolicy {
  kError,  // Refuse, naming the type, the key and both inputs.
  kFirst,  // Keep the contents of the first input that holds the key.
  kLast,   // Keep the contents of the last input that holds the key.
};

// "error", "first", "last"; nullopt for anything else.
std::optional<ConflictPolicy> parse_conflict_policy(std::string_view text);

struct MergeInput {
  std::string name;  // As errors name it (a file name).
  const ArtifactSource* artifacts = nullptr;
};

struct MergeStats {
  PackStats packed;
  uint64_t conflicts = 0;  // Keys the policy resolved.
  uint64_t dropped = 0;    // Artifacts the policy left out.
};

// Packs `inputs` into `sink` as pack() does (types in first-seen order,
// identical artifacts once), after settling conflicts: keys that two inputs
// hold with different contents. Several contents under one key within one
// input are that input's own (a Mega-Cache blob may hold them) and not a
// conflict. With kError, a conflict is kInvalidArgument / kConflict naming
// the type, key and both inputs, and nothing reaches the sink.
Result<MergeStats> merge(std::span<const MergeInput> inputs,
                         ConflictPolicy policy, PackSink& sink);

}  // namespace cachepack

#endif  // CACHEPACK_MERGE_H_
