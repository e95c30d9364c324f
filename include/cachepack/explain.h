// explain: what populating a cache from a bundle would do, and why it might
// not warm anything, without writing a byte. First the environment: where
// the bundle's artifacts were made against where they would be used
// (cachepack/environment.h). Then per artifact type: how many artifacts
// the bundle has, how many of their keys the target cache already holds,
// how many would be written, and which keys differ between the two.
#ifndef CACHEPACK_EXPLAIN_H_
#define CACHEPACK_EXPLAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cachepack/artifact_source.h"
#include "cachepack/backend.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/environment.h"
#include "cachepack/error.h"

namespace cachepack {

struct ExplainOptions {
  // Where the artifacts would be used (current_native_environment(), or it
  // merged with what the Python package knows). Fields unknown here are
  // not compared.
  Environment target_environment;
  // The cache to compare keys with; nullptr for the environment and the
  // bundle's own counts only. Not owned.
  Backend* target = nullptr;
  // Keys listed per type and direction; the rest are only counted.
  size_t max_keys = 10;
  Deadline deadline = Deadline::never();
};

// Some keys, sorted, and how many more there were.
struct KeySample {
  std::vector<std::string> keys;
  uint64_t more = 0;

  uint64_t total() const { return keys.size() + more; }
};

struct TypeExplanation {
  std::string type;
  uint64_t artifacts = 0;  // Entries of this type (a key stored twice: 2).
  uint64_t keys = 0;       // Distinct keys among them.
  // With a target only. present + would_write == keys.
  uint64_t present = 0;      // Keys the target holds already (contains).
  uint64_t would_write = 0;  // Keys populate's skip-existing would write.
  KeySample missing;         // The bundle's keys the target lacks.
  // The target's keys of this type that the bundle lacks; empty when the
  // backend cannot list keys (an HTTP cache).
  std::optional<KeySample> target_only;
  // Why the target could not be asked about this type (PyTorch's cache
  // directory has no place for it); present and would_write are then 0.
  std::optional<Error> target_error;
};

struct Explanation {
  std::optional<Environment> recorded;  // Empty: the bundle recorded none.
  Environment target_environment;
  // Both in field order; empty when nothing was recorded.
  std::vector<EnvironmentDifference> differences;
  std::vector<UncomparedField> uncompared;
  std::string target_url;              // Empty without a target.
  std::vector<TypeExplanation> types;  // In the bundle's first-use order.

  // Some difference is kBlocks: populate would refuse.
  bool blocked() const;
};

// Explains `bundle` (its environment, from environment_of()). Fails when the
// bundle's index or recorded environment cannot be read, or when the target
// fails other than by having no place for a type (a server down).
Result<Explanation> explain(const bundle::BundleReader& bundle,
                            const ExplainOptions& options = {});

// The same for any artifacts (a Mega-Cache blob records no environment:
// pass nullopt).
Result<Explanation> explain(const ArtifactSource& artifacts,
                            const std::optional<Environment>& recorded,
                            const ExplainOptions& options = {});

// One JSON object:
//   {"environment": {"recorded": {...} | null, "target": {...},
//                    "blocked": bool,
//                    "differences": [{"field", "recorded", "target",
//                                     "severity", "message"}],
//                    "not_compared": [{"field", "side": "not recorded" |
//                                      "unknown here", "value", "severity",
//                                      "message"}]},
//    "target": URL | null,
//    "types": [{"type", "artifacts", "keys", "present", "would_write",
//               "missing": [...], "missing_more",
//               "target_only": [...] | null, "target_only_more",
//               "target_error": "..." | null}]}
// Without a target, "present", "would_write", "missing" and "target_only"
// are null. indent < 0 writes one line.
std::string explanation_to_json(const Explanation& explanation,
                                int indent = -1);

// The same for a person, environment first, one line per fact.
std::string explanation_to_text(const Explanation& explanation);

}  // namespace cachepack

#endif  // CACHEPACK_EXPLAIN_H_
