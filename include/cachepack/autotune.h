// PyTorch's autotune cache (torch/_inductor/runtime/autotune_cache.py, torch
// 2.13) without Python: where a kernel's best config is stored, the
// best-config records themselves, which candidate config a record selects,
// and the bundler that fetches all of a compile's records in one round trip.
// docs/AUTOTUNE.md maps each function to PyTorch's.
#ifndef CACHEPACK_AUTOTUNE_H_
#define CACHEPACK_AUTOTUNE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::autotune {

// ---- Keys ------------------------------------------------------------------

// The namespace of local records in a Backend: the Mega-Cache artifact type,
// whose keys are "<dir>/<name>.best_config" relative to PyTorch's cache dir.
inline constexpr std::string_view kLocalNamespace = "autotune";
// The remote cache id of bundles (RemoteBundledAutotuneCache).
inline constexpr std::string_view kBundleCacheId = "bundled-autotune-v1";

// AutotuneCache._prepare_key: sha256 hex of "<basename(kernel_file)>:<tag>",
// tag = torch.compiler.config.cache_key_tag ("" by default).
std::string prepared_key(std::string_view kernel_file,
                         std::string_view cache_key_tag);

// AutotuneCache._make_local_cache_key: "<dirname(kernel_file)>/<sha256 hex
// of prepared_key + torch_key>.best_config". torch_key is the raw digest
// codecache.torch_key() returns (32 bytes), which the caller knows.
std::string local_cache_path(std::string_view kernel_file,
                             std::string_view prepared_key, ByteSpan torch_key);

// AutotuneCache._artifact_key_from_local_cache_key: the last two path
// components, the key of the record in kLocalNamespace.
std::string artifact_key(std::string_view local_cache_path);

// AutotuneCache._setup_remote_autotune_cache: the remote cache id (the
// Backend namespace; Redis "pt2:<id>::<prepared key>:c1"), sha256 hex of
// torch_key.hex() + backend_hash + configs_hash + "autotune-best-config-v2".
std::string remote_cache_id(ByteSpan torch_key, std::string_view backend_hash,
                            std::string_view configs_hash);

// codecache.code_hash(code): "c" + lowercase base32 of sha256, 51 chars.
std::string code_hash(std::string_view code);
// _comment_stripped_hash: code_hash of `code` with every "#" to the end of
// its line removed (Python's re.sub(r"#.*$", "", code, flags=M)).
std::string comment_stripped_hash(std::string_view code);

// AutotuneCacheBundler.begin_compile: the bundle's key in kBundleCacheId,
// sha256 hex of code_hash + backend_hash + "bundled-autotune-best-configs-v1".
std::string bundle_key(std::string_view code_hash,
                       std::string_view backend_hash);

// Where _load_cache writes a bundle entry, relative to the cache dir
// (codecache.get_path(root, ext) of the entry's basename):
// "<root[1:3]>/<root>.<ext>" ("<root>.<ext>" when root[1:3] is "" or ".").
// A basename that is empty, ".", "..", holds '/' or NUL, or whose root[1:3]
// is ".." would name a file outside the cache dir: kDataLoss/kInvalidKey.
Result<std::string> bundle_entry_artifact_key(std::string_view basename);

// Every key of one kernel (AutotuneCache.create).
struct KernelKeyInputs {
  std::string kernel_file;    // The kernel's .py path, as PyTorch names it.
  std::string cache_key_tag;  // torch.compiler.config.cache_key_tag.
  Bytes torch_key;            // codecache.torch_key().
  std::optional<std::string> backend_hash;  // Triton's; none: no remote.
  std::string configs_hash;
};
struct KernelKeys {
  std::string prepared_key;  // Also the remote key.
  std::string local_path;    // The .best_config file PyTorch writes.
  std::string artifact_key;  // Key in kLocalNamespace.
  std::optional<std::string> remote_cache_id;  // With a backend hash.
};
KernelKeys kernel_keys(const KernelKeyInputs& in);

// ---- Records ---------------------------------------------------------------

// A JSON value, as its compact JSON text ("32", "true", "\"x\"", "null").
// Text that is not JSON is taken as a JSON string of that text.
using JsonText = std::string;

// A Triton config: what a record is compared with and rebuilt into.
struct TritonConfig {
  std::vector<std::pair<std::string, JsonText>> kwargs;  // In order.
  int64_t num_warps = 4;
  int64_t num_stages = 2;
  // Warp specialization (HAS_WARP_SPEC); torch 2.13 never has it.
  std::optional<int64_t> num_consumer_groups;
  std::optional<int64_t> num_buffers_warp_spec;
  friend bool operator==(const TritonConfig&, const TritonConfig&) = default;
};

// A best-config record: the JSON object AutotuneCache.save stores, its
// fields in stored order. Unknown fields are kept (they are config kwargs to
// PyTorch).
class Record {
 public:
  // A JSON object; anything else is kDataLoss/kInvalidJson.
  static Result<Record> parse(std::string_view json);
  // As json.dumps(record) writes it (", " and ": ", non-ASCII escaped).
  std::string to_json() const;

  // AutotuneCache.save's dict. time_taken_ns is stored as milliseconds
  // (ns // 1e6); extra_options is JSON text; has_warp_spec adds the two
  // warp specialization fields as 2.13's HAS_WARP_SPEC would.
  static Record from_config(const TritonConfig& config,
                            std::string_view configs_hash,
                            bool found_by_coordesc, int64_t time_taken_ns,
                            std::optional<std::string> triton_cache_hash,
                            std::optional<JsonText> extra_options = {},
                            bool has_warp_spec = false);

  const std::vector<std::pair<std::string, JsonText>>& fields() const {
    return fields_;
  }
  // The field's JSON text; nullopt when absent.
  std::optional<JsonText> get(std::string_view name) const;
  // Typed views; nullopt when absent or of another JSON type.
  std::optional<std::string> configs_hash() const;
  std::optional<int64_t> time_taken_ms() const;
  std::optional<int64_t> time_saved_ns() const;
  std::optional<std::string> triton_cache_hash() const;
  bool found_by_coordesc() const;
  // The config kwargs as "K=V, ..." with num_warps/num_stages, for listings.
  std::string describe_config() const;

 private:
  std::vector<std::pair<std::string, JsonText>> fields_;
};

struct SelectOptions {
  bool coordinate_descent_tuning = false;  // inductor_meta's.
  bool has_warp_spec = false;              // triton_compat.HAS_WARP_SPEC.
};

struct Selection {
  TritonConfig config;
  // The matching candidate's index; nullopt when rebuilt from the record.
  std::optional<size_t> candidate;
  bool found_by_coordesc = false;  // Rebuilt as a coordinate-descent result.
  std::optional<JsonText> extra_options;
};

// _load_cached_autotuning: nullopt when the record's configs_hash is not
// `configs_hash`. Otherwise, unless coordinate descent is on and the record
// was found by it, the one candidate whose kwargs, num_warps and num_stages
// equal the record's (Python ==: 1 == 1.0 == true); with none or several,
// the config is rebuilt from the record's remaining fields. A record that
// must be rebuilt but lacks an integral num_warps/num_stages is kDataLoss.
Result<std::optional<Selection>> select(
    const Record& record, std::string_view configs_hash,
    std::span<const TritonConfig> candidates,
    const SelectOptions& options = {});

// ---- Lookup and save -------------------------------------------------------

class Bundler;

// One kernel's caches (AutotuneCache): `local` holds records under
// kLocalNamespace/artifact_key, `remote` under remote_cache_id/prepared_key.
// Either may be null (disabled); remote is used only with a remote cache id.
struct KernelCache {
  KernelKeys keys;
  Backend* local = nullptr;
  Backend* remote = nullptr;
  Bundler* bundler = nullptr;  // Collects local hits and saves when set.
};

struct Found {
  Record record;
  bool from_remote = false;
};

// AutotuneCache._read: the local record (a local hit is also given to the
// bundler; an empty object falls through), else the remote one. A corrupt
// local entry is a miss, as LocalCache treats it; a corrupt remote one is
// kDataLoss. Backend errors are returned.
Result<std::optional<Found>> read(const KernelCache& cache);

// AutotuneCache.save: writes the record locally (and to the bundler) and
// remotely, overwriting.
Result<void> save(const KernelCache& cache, const Record& record);

// ---- Bundles ---------------------------------------------------------------

// A bundle's value: {basename of the local file: record}, in order.
using BundleEntries = std::vector<std::pair<std::string, Record>>;
Result<BundleEntries> parse_bundle(std::string_view json);
std::string bundle_to_json(const BundleEntries& entries);

// What a bundle hit wrote into the local cache.
struct Expanded {
  size_t records = 0;
  // Sum of the records' time_taken_ms: the autotuning the hit avoided.
  int64_t time_taken_ms = 0;
  // Sum of time_saved_ns fields, which is what PyTorch adds to its
  // distributed timeout (its own records carry none).
  int64_t time_saved_ns = 0;
};

// Writes every entry to `local` at bundle_entry_artifact_key (overwriting).
Result<Expanded> expand_bundle(const BundleEntries& entries, Backend& local);

// One compile's bundle (AutotuneCacheBundler). begin() looks the bundle up
// in `remote` (kBundleCacheId/bundle_key): on a hit it expands it into
// `local` and collects nothing; on a miss it collects the records put()
// during the compile, and end() stores them as one entry. Backends must
// outlive the Bundler. A stored bundle that is not JSON, or whose entry is
// not an object (torch would write it anyway), is kDataLoss. Not
// thread-safe: one Bundler per compile, as torch keeps one per
// CompileContext.
class Bundler {
 public:
  static Result<Bundler> begin(Backend& remote, Backend& local,
                               std::string_view code_hash,
                               std::string_view backend_hash);

  const std::string& key() const { return key_; }
  // The hit's expansion; nullopt on a miss.
  const std::optional<Expanded>& hit() const { return hit_; }
  bool collecting() const { return !hit_.has_value() && !ended_; }

  // AutotuneCacheBundler.put: keeps the record under basename(path);
  // ignored unless collecting.
  void put(std::string_view path, const Record& record);
  // Stores the collected records, if any; true when something was stored.
  Result<bool> end();

 private:
  Bundler(Backend& remote, std::string key)
      : remote_(&remote), key_(std::move(key)) {}
  Backend* remote_;
  std::string key_;
  std::optional<Expanded> hit_;
  BundleEntries entries_;
  bool ended_ = false;
};

}  // namespace cachepack::autotune

#endif  // CACHEPACK_AUTOTUNE_H_
