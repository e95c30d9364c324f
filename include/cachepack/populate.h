// The two registry operations that move artifacts between bundles and
// storage: populate (artifacts -> backend) and export (backend ->
// artifacts). populate reads an ArtifactSource, one content stream at a
// time, so a mapped Mega-Cache blob feeds it without copies and a bundle's
// entries are decompressed chunk by chunk as they are written: memory stays
// bounded whatever the entry sizes (file:// and torch:// write as they
// read; backends that need a value whole hold one at a time).
#ifndef CACHEPACK_POPULATE_H_
#define CACHEPACK_POPULATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cachepack/artifact.h"
#include "cachepack/artifact_source.h"
#include "cachepack/backend.h"
#include "cachepack/cache_info.h"
#include "cachepack/error.h"

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
  kSkipped,  // Not written; skip_reason says why.
  kFailed,   // See the error.
};

enum class SkipReason {
  kNone,
  kExists,       // kSkipExisting found an entry under the key.
  kSuperseded,   // A later artifact with the same (type, key) was written
                 // instead: the newest wins (single-valued backends).
  kUnsupported,  // The backend has no place for this type (e.g. a type
                 // PyTorch's cache directory has no layout for); `note`
                 // says why. A failure under strict_types.
};

struct ArtifactResult {
  std::string type;
  std::string key;
  uint64_t bytes = 0;
  PopulateOutcome outcome = PopulateOutcome::kFailed;
  SkipReason skip_reason = SkipReason::kNone;
  std::string note;  // Why it was skipped, for kUnsupported.
  std::optional<Error> error;
};

struct TypeSummary {
  uint64_t stored = 0;
  uint64_t skipped = 0;  // Of any reason; the two below are among them.
  uint64_t superseded = 0;
  uint64_t unsupported = 0;
  uint64_t failed = 0;
  uint64_t bytes_stored = 0;
};

struct PopulateReport {
  std::map<std::string, TypeSummary> by_type;
  // Artifacts the backend holds after populate (stored, or skipped because
  // they were there), in input order: what PyTorch's
  // load_cache_artifacts() returns.
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
  // thread-safe). 1 = the calling thread only, which batches small
  // artifacts through put_many so remote backends can pipeline.
  unsigned threads = 1;
  // Types the backend has no place for fail instead of being skipped.
  bool strict_types = false;
  // Called after each artifact, from one thread at a time.
  std::function<void(const PopulateProgress&)> progress;
  // Runs before anything is written; an error aborts populate (e.g. the
  // bundle reader's signature check when trust is required).
  std::function<Result<void>()> precheck;
  Deadline deadline = Deadline::never();
};

// Writes every artifact into `backend` under (type, key). Per-artifact
// failures are reported in the result, never abort the rest; the Result
// itself fails only for a failed precheck or bad options. An allocation
// failure is a kResourceExhausted per-artifact error, never an abort.
//
// Duplicates: where one (type, key) occurs more than once (two saves, or
// two appended versions of a bundle), the newest occurrence wins, under
// every policy: the earlier ones are skipped as kSuperseded. Where the
// backend is MultiValued for the type (PyTorch's FX-graph and AOTAutograd
// directories), every content is added next to the key's others instead,
// as PyTorch's own populate does: guards pick between them at load time.
// triton_runtime artifacts are written first, as PyTorch loads them.
Result<PopulateReport> populate(const ArtifactSource& source, Backend& backend,
                                const PopulateOptions& options = {});
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

#endif  // CACHEPACK_POPULATE_H_
