// Where a compile cache was made: the versions and hardware PyTorch puts
// into its cache keys (torch, Triton, CUDA/ROCm, GPU) or checks when it
// loads an entry, and what may matter without being in a key (OS, libc).
// A bundle records one; comparing it with the place the cache is about to
// be used says, before anything is written, why its artifacts would miss
// there (docs/ENVIRONMENT.md). A cache copied to a machine that looks the
// same and giving zero hits is the complaint this answers.
#ifndef CACHEPACK_ENVIRONMENT_H_
#define CACHEPACK_ENVIRONMENT_H_

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/error.h"

namespace cachepack {

// The bundle user-metadata key under which a bundle records its
// environment, as the JSON object environment_to_json() writes. Fixed: the
// Python package reads and writes this same key.
inline constexpr std::string_view kEnvironmentMetadataKey =
    "cachepack.environment";

// Every field is optional: absent means unknown, and an unknown field is
// never compared. An empty string is a known value meaning "none": the
// cuda_version of a CPU-only torch build, the vector_isa of a CPU that
// PyTorch generates no vector code for.
struct Environment {
  std::optional<std::string> cachepack_version;  // "0.1.0"
  std::optional<std::string> torch_version;      // torch.__version__
  std::optional<std::string> torch_git;          // torch.version.git_version
  std::optional<std::string> python_version;     // "3.11.7"
  std::optional<std::string> triton_version;
  std::optional<std::string> cuda_version;    // torch.version.cuda, "12.4"
  std::optional<std::string> rocm_version;    // torch.version.hip
  std::optional<std::string> gpu_name;        // "NVIDIA H100 80GB HBM3"
  std::optional<std::string> gpu_capability;  // "9.0"
  std::optional<std::string> cpu_arch;        // uname -m: "x86_64"
  // The vector ISA PyTorch's CPU code generation targets: "avx512",
  // "avx2", "neon", "" for none.
  std::optional<std::string> vector_isa;
  std::optional<std::string> os;    // Kernel name and release: "Linux 6.1.0"
  std::optional<std::string> libc;  // "glibc 2.36"
  // Fields this cachepack does not know, by JSON key, each value as its
  // compact JSON text ("\"ci-7\"", "3", "[1,2]"), so that any value a newer
  // writer adds is carried unchanged through read, merge and write. Never
  // compared.
  std::map<std::string, std::string> extra;

  friend bool operator==(const Environment&, const Environment&) = default;
};

// One named field, for code that walks them all.
struct EnvironmentField {
  std::string_view name;   // The JSON key: "torch_version".
  std::string_view label;  // How messages name it: "torch".
  std::optional<std::string> Environment::*member;
};

// The named fields in their JSON order.
std::span<const EnvironmentField> environment_fields();

// One JSON object: the known fields in environment_fields() order, then
// the extra ones by key; unknown fields are left out. The same environment
// always gives the same text (bundles stay deterministic). indent < 0
// writes one line. An extra value that is not valid JSON text is written
// as a JSON string.
std::string environment_to_json(const Environment& env, int indent = -1);

// Parses one JSON object. A null value leaves its field unknown; any other
// value of a known field must be a string. Errors are kInvalidArgument /
// kInvalidJson saying what is wrong (a syntax error with its line, column
// and byte offset; a top level that is not an object; a field of another
// type, by name), with `source` as the file.
Result<Environment> environment_from_json(std::string_view json,
                                          std::string_view source = {});

// Reads and parses a JSON file (the CLI's --env FILE): errors as above, or
// the file's own (kNotFound...), naming `path`.
Result<Environment> read_environment_file(const std::string& path);

// What this process knows without Python: cachepack_version, cpu_arch and
// os from uname(2), libc from gnu_get_libc_version(). The torch, Python and
// GPU fields stay unknown; the Python package fills them.
Environment current_native_environment();

// `base` with every known field of `over` put over it; extra fields are
// merged the same way (`over` wins).
Environment merge_environments(const Environment& base,
                               const Environment& over);

// How much a difference in one field matters.
enum class EnvironmentSeverity {
  kBlocks,  // PyTorch's cache keys or load checks differ: artifacts miss.
  kWarns,   // Not in PyTorch's keys; may not matter.
};

// "blocks", "warns".
std::string_view to_string(EnvironmentSeverity severity);

// The severity of a difference in the field named `field` (a JSON key);
// kWarns for a name that is not a known field.
EnvironmentSeverity severity_of(std::string_view field);

struct EnvironmentDifference {
  std::string field;     // JSON key: "torch_version".
  std::string recorded;  // Where the artifacts were made.
  std::string target;    // Where they would be used.
  EnvironmentSeverity severity = EnvironmentSeverity::kWarns;

  // One line: "made with torch 2.13.0+cpu; here 2.14.1: no artifact can
  // hit". An empty value reads as none: "made without CUDA; here 12.4".
  std::string message() const;

  friend bool operator==(const EnvironmentDifference&,
                         const EnvironmentDifference&) = default;
};

// The fields known on both sides whose values differ, in field order. A
// field unknown on either side is not a difference (see
// uncompared_fields()); extra fields are never compared.
std::vector<EnvironmentDifference> compare_environments(
    const Environment& recorded, const Environment& target);

// Fields known on exactly one side, which could therefore not be compared.
struct UncomparedField {
  enum class Side {
    kNotRecorded,  // Unknown in the recorded environment.
    kUnknownHere,  // Unknown in the target environment.
  };
  std::string field;
  Side side = Side::kNotRecorded;
  std::string value;  // The side that is known.
  EnvironmentSeverity severity = EnvironmentSeverity::kWarns;

  // "torch_version not recorded (here 2.14.1)", "gpu_name unknown here
  // (made with NVIDIA H100)".
  std::string message() const;
};

// In field order.
std::vector<UncomparedField> uncompared_fields(const Environment& recorded,
                                               const Environment& target);

// The check before populating: the warnings (kWarns differences) when
// nothing blocks, else kInvalidArgument / kEnvironmentMismatch whose
// message names every blocking difference, one per line, with `source` as
// the file.
Result<std::vector<EnvironmentDifference>> require_compatible_environment(
    const Environment& recorded, const Environment& target,
    std::string_view source = {});

// The check before using a bundle's artifacts, with its override: the
// environment the bundle recorded (environment_of()'s result) against
// `target`. Without `ignore`, a recorded environment that cannot be read or
// differs in a blocking field is the error, as above. With it, those become
// warnings marked "(<override_name>)", the flag or argument the caller
// offers. Returns the warning lines; none when nothing was recorded.
Result<std::vector<std::string>> environment_warnings(
    const Result<std::optional<Environment>>& recorded,
    const Environment& target, std::string_view source, bool ignore,
    std::string_view override_name);

// The environment a bundle recorded under kEnvironmentMetadataKey; empty
// when it has none (Mega-Cache conversions without --env, bundles older
// than this field). A recorded value that is not a valid environment is
// kDataLoss / kInvalidJson naming the bundle.
Result<std::optional<Environment>> environment_of(
    const bundle::BundleReader& reader);

// Makes a writer record `env` (as environment_to_json(env)) under
// kEnvironmentMetadataKey. An append replaces the environment recorded
// before.
void record_environment(bundle::WriterOptions& options, const Environment& env);

}  // namespace cachepack

#endif  // CACHEPACK_ENVIRONMENT_H_
