// Shipping bundles through a backend, version after version, moving only
// what changed (docs/REMOTE.md, "Shipping bundles"). push stores a bundle's
// entries as content-addressed blobs (each entry's stored bytes, named by
// the SHA-256 of its content and the XXH3-128 of its stored bytes, as the
// bundle's index records them) and a small manifest under a name: the
// bundle's bytes other than entry data (header, index, signatures,
// footers). pull rebuilds the bundle byte for byte, taking entries from the
// previous output file or a local cache where they are already held and
// fetching only the others.
//
// The manifest carries the bundle's own signatures, which cover its header
// and index, and the index names every entry's digests: pull checks the
// signature on the manifest before fetching anything, takes the list of
// blobs from the (signed) index rather than from the manifest, and checks
// every byte of the rebuilt bundle before it replaces the output.
#ifndef CACHEPACK_SHIP_H_
#define CACHEPACK_SHIP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/error.h"

namespace cachepack {

// Backend namespaces of pushed bundles: manifests under their names, blobs
// under "<hex sha256 of content><hex xxh3-128 of stored bytes>".
inline constexpr std::string_view kShipManifestNamespace =
    "cachepack-ship-manifest";
inline constexpr std::string_view kShipBlobNamespace = "cachepack-ship-blob";

// A manifest larger than this is refused by pull (kResourceExhausted).
inline constexpr uint64_t kMaxShipManifestSize = uint64_t{256} << 20;

struct ShipProgress {
  uint64_t blobs_done = 0;
  uint64_t blobs_total = 0;
  uint64_t bytes_done = 0;  // Stored bytes moved (uploaded or fetched).
  uint64_t bytes_total = 0;
};

struct PushOptions {
  Deadline deadline = Deadline::never();
  // Called after each batch of blobs, from the calling thread.
  std::function<void(const ShipProgress&)> progress;
};

struct PushReport {
  uint64_t bundle_bytes = 0;
  uint64_t entries = 0;
  uint64_t blobs = 0;           // Distinct blobs of the bundle.
  uint64_t blobs_uploaded = 0;  // Not on the backend before.
  uint64_t bytes_uploaded = 0;  // Their stored bytes.
  uint64_t blobs_present = 0;   // Already on the backend (an earlier push).
  uint64_t manifest_bytes = 0;
  uint64_t signatures = 0;  // Valid signatures carried by the manifest.
};

// Pushes the bundle at `bundle_path` under `name` (1..1024 bytes, no NUL):
// blobs the backend lacks first, the manifest last (replacing an earlier
// one of that name), so a pull never sees a manifest whose blobs are not
// stored. The bundle is opened as populate opens it (its structure checked
// first) and each blob's XXH3-128 is checked before it is uploaded, so a
// damaged bundle publishes nothing under a content name. A backend with no
// place for the namespaces (torch://) fails with its kUnimplemented.
Result<PushReport> push_bundle(const std::string& bundle_path, Backend& backend,
                               std::string_view name,
                               const PushOptions& options = {});

struct PullOptions {
  // When non-empty, the manifest must carry a valid signature by one of
  // these keys (kPermissionDenied / kSignature otherwise), checked before
  // any blob is fetched, and every entry's SHA-256 is checked.
  std::vector<bundle::PublicKey> trusted_keys;
  // A local cache holding artifacts as (type, key) -> content: entries
  // whose content it holds with the right SHA-256, and whose stored bytes
  // can be made again from it (stored raw, or zstd at cachepack's default
  // level without a dictionary, checked against the index's XXH3), are not
  // fetched. Not owned; may be null.
  Backend* have = nullptr;
  Deadline deadline = Deadline::never();
  // Entries fetched per get_many round, and bytes per round (whichever is
  // reached first).
  size_t batch_entries = 64;
  uint64_t batch_bytes = uint64_t{64} << 20;
  bool fsync = false;  // fsync the new file and directory before renaming.
  std::function<void(const ShipProgress&)> progress;
};

struct PullReport {
  uint64_t bundle_bytes = 0;
  uint64_t entries = 0;
  uint64_t blobs = 0;  // Distinct blobs of the bundle.
  uint64_t blobs_fetched = 0;
  uint64_t bytes_fetched = 0;   // Blob bytes read from the backend.
  uint64_t blobs_from_out = 0;  // Copied from the previous output file.
  uint64_t bytes_from_out = 0;
  uint64_t blobs_from_have = 0;  // Made again from PullOptions::have.
  uint64_t bytes_from_have = 0;
  uint64_t manifest_bytes = 0;
  uint64_t trusted_signatures = 0;
  std::string bundle_sha256;  // Hex, of the whole rebuilt file.
  // Why the previous output could not be used, when it existed but was not
  // a readable bundle (it is then replaced, and everything fetched).
  std::string previous_output_note;
};

// Pulls the bundle pushed under `name` into `out_path`. A missing name is
// kNotFound. The new file is written beside `out_path` under a temporary
// name (util/file_lock.h) and renamed over it only after the whole bundle
// was checked (signatures, every entry's digests, the whole file's
// SHA-256 as pushed): any failure, a server going away, or the process
// being killed leaves the previous `out_path` as it was.
Result<PullReport> pull_bundle(Backend& backend, std::string_view name,
                               const std::string& out_path,
                               const PullOptions& options = {});

}  // namespace cachepack

#endif  // CACHEPACK_SHIP_H_
