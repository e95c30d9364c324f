// How the CLI's reading commands open a bundle, so that they all follow one
// rule (docs/BUNDLE.md, "Damaged bundles and older versions"): a bundle whose
// newest version is damaged or followed by other bytes is an error, unless
// the user asked for the newest intact earlier version with
// --allow-older-version, which is then reported on stderr.
#ifndef CACHEPACK_TOOLS_BUNDLE_INPUT_H_
#define CACHEPACK_TOOLS_BUNDLE_INPUT_H_

#include <CLI/CLI.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/bundle_reader.h"
#include "cachepack/error.h"

namespace cachepack::cli {

// What a reading command was told about the bundles it reads.
struct BundleReadFlags {
  std::vector<std::string> trusted_key_files;  // Ed25519 public keys (PEM).
  bool allow_older_version = false;
  bool strict_types = false;  // Unregistered types are an error.
};

// Adds --allow-older-version to a reading command.
void add_allow_older_version_flag(CLI::App* cmd, BundleReadFlags& flags);

// Adds --strict-types. Without it, artifacts of types cachepack does not
// know (PyTorch adds types in any release) are carried unchanged and
// marked unregistered; with it they are an error.
void add_strict_types_flag(CLI::App* cmd, bool& strict_types);

// Whether cachepack knows `type` (ArtifactTypes::global()).
bool registered_type(std::string_view type);

// kUnimplemented / kUnknownType naming the first of `types` that is not
// registered, in `file`.
Result<void> require_registered(std::span<const std::string> types,
                                const std::string& file);

// What the command does with the bundle once open.
enum class BundleUse {
  // Reads the index or a few entries (ls, inspect, cat).
  kIndex,
  // Reads, installs or rewrites every entry (verify, populate, convert,
  // pack): the whole structure is checked before anything is read or
  // written, as `verify` checks it (ReaderOptions::verify_structure).
  kEverything,
};

// The reader options for `flags` and `use`: trusted keys loaded from their
// files (a key file that does not load is an error), an older version only
// when asked for. With trusted keys every entry's SHA-256 is also checked as
// it is read.
Result<bundle::ReaderOptions> bundle_read_options(const BundleReadFlags& flags,
                                                  BundleUse use);

// Opens `path` with `options`; when an earlier version was opened
// (allow_older_version), says so on stderr with the number of bytes
// ignored.
Result<bundle::BundleReader> open_bundle(const std::string& path,
                                         const bundle::ReaderOptions& options);

// Both of the above; with flags.strict_types, every type in the bundle
// must be registered.
Result<bundle::BundleReader> open_bundle(const std::string& path,
                                         const BundleReadFlags& flags,
                                         BundleUse use);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_BUNDLE_INPUT_H_
