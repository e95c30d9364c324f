// The two registry operations that move artifacts between bundles and
// storage: populate (artifacts -> backend) and export (backend ->
// artifacts). Artifacts come in as views, so a mapped Mega-Cache blob or a
// bundle feeds populate without copying contents.
#ifndef CACHEPACK_REGISTRY_POPULATE_H_
#define CACHEPACK_REGISTRY_POPULATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "artifacts/artifact.h"
#include "backends/backend.h"
#include "registry/cache_info.h"
#include "util/error.h"

namespace cachepack {

enum class PopulatePolicy {
  kSkipExisting,  // Insert-if-absent, as PyTorch's caches do.
  kOverwrite,     // Replace what is stored.
  kVerify,        // Overwrite, then read back and compare byte for byte.
};

// "skip-existing", "overwrite", "verify".
std::string_view to_string(PopulatePolicy policy);
Result<PopulatePolicy> parse_populate_policy(std::string_view text);

enum class PopulateOutcome {
  kStored,   // Written (and, under kVerify, read back identical).
  kSkipped,  // kSkipExisting found an entry under the key.
  kFailed,   // See the error.
};

struct ArtifactResult {
  std::string type;
  std::string key;
  uint64_t bytes = 0;
  PopulateOutcome outcome = PopulateOutcome::kFailed;
  std::optional<Error> error;
};

struct TypeSummary {
  uint64_t stored = 0;
  uint64_t skipped = 0;
  uint64_t failed = 0;
  uint64_t bytes_stored = 0;
};

struct PopulateReport {
  std::map<std::string, TypeSummary> by_type;
  // Artifacts the backend holds after populate (stored or skipped), in
  // input order: what PyTorch's load_cache_artifacts() returns.
  CacheInfo info;
  std::vector<ArtifactResult> artifacts;  // One per input, in input order.

  uint64_t stored() const;
  uint64_t skipped() const;
  uint64_t failed() const;
  bool ok() const { return failed() == 0; }
};

struct PopulateProgress {
  uint64_t done = 0;
  uint64_t total = 0;
  uint64_t bytes_done = 0;
  const ArtifactResult* last = nullptr;  // The artifact just finished.
};

struct PopulateOptions {
  PopulatePolicy policy = PopulatePolicy::kSkipExisting;
  // Worker threads calling the backend concurrently (backends are
  // thread-safe). 1 = the calling thread only, which batches through
  // put_many so remote backends can pipeline. Either way artifacts with
  // the same (type, key) are written in input order.
  unsigned threads = 1;
  // Called after each artifact, from one thread at a time.
  std::function<void(const PopulateProgress&)> progress;
  // Runs before anything is written; an error aborts populate (e.g. the
  // bundle reader's signature check when trust is required).
  std::function<Result<void>()> precheck;
  Deadline deadline = Deadline::never();
};

// Writes every artifact into `backend` under (type, key). Per-artifact
// failures are reported in the result, never abort the rest; the Result
// itself fails only for a failed precheck or bad options. Where the backend
// is MultiValued (PyTorch's FX-graph and AOTAutograd directories), each
// content is added next to the key's others, as PyTorch's populate does.
Result<PopulateReport> populate(std::span<const ArtifactView> artifacts,
                                Backend& backend,
                                const PopulateOptions& options = {});

// What to export: empty `namespaces` and `keys` mean everything.
struct ExportSelection {
  std::vector<std::string> namespaces;  // Whole namespaces.
  std::vector<KeyRef> keys;  // Single entries (must outlive the call).
};

// Reads artifacts out of `backend`: namespaces in sorted order, keys sorted
// within each; every value of a multi-valued key (oldest first). A selected key
// that is missing is kNotFound; a key listed but removed before it could be
// read is skipped.
Result<std::vector<Artifact>> export_artifacts(
    Backend& backend, const ExportSelection& selection = {},
    Deadline deadline = Deadline::never());

}  // namespace cachepack

#endif  // CACHEPACK_REGISTRY_POPULATE_H_
