#include "tools/bundle_input.h"

#include <iostream>

#include "cachepack/artifact_types.h"
#include "cachepack/bundle_signing.h"
#include "util/text.h"

namespace cachepack::cli {

void add_allow_older_version_flag(CLI::App* cmd, BundleReadFlags& flags) {
  cmd->add_flag("--allow-older-version", flags.allow_older_version,
                "If a bundle's newest version is damaged or followed by other "
                "bytes, read the newest intact earlier version instead of "
                "failing (reported on stderr)");
}

void add_strict_types_flag(CLI::App* cmd, bool& strict_types) {
  cmd->add_flag("--strict-types", strict_types,
                "Fail on artifacts of types cachepack does not know instead "
                "of carrying them unchanged");
}

bool registered_type(std::string_view type) {
  return ArtifactTypes::global().contains(type);
}

Result<void> require_registered(std::span<const std::string> types,
                                const std::string& file) {
  for (const std::string& type : types) {
    if (!registered_type(type)) {
      return make_error(ErrorCode::kUnimplemented, ErrorReason::kUnknownType,
                        "artifact type '" + printable(type) +
                            "' is not registered (--strict-types)",
                        ErrorLocation{.file = file});
    }
  }
  return {};
}

Result<bundle::ReaderOptions> bundle_read_options(const BundleReadFlags& flags,
                                                  BundleUse use) {
  bundle::ReaderOptions options;
  for (const std::string& file : flags.trusted_key_files) {
    CP_ASSIGN_OR_RETURN(auto key, bundle::load_public_key(file));
    options.trusted_keys.push_back(key);
  }
  options.allow_older_version = flags.allow_older_version;
  options.verify_structure = use == BundleUse::kEverything;
  return options;
}

Result<bundle::BundleReader> open_bundle(const std::string& path,
                                         const bundle::ReaderOptions& options) {
  auto reader = bundle::BundleReader::open(path, options);
  if (reader && reader->ignored_tail() > 0) {
    std::cerr << "cachepack: warning: " << path
              << ": reading an older version (--allow-older-version): "
              << reader->ignored_tail() << " bytes after its footer at offset "
              << reader->footer_offset() << " were ignored\n";
  }
  return reader;
}

Result<bundle::BundleReader> open_bundle(const std::string& path,
                                         const BundleReadFlags& flags,
                                         BundleUse use) {
  CP_ASSIGN_OR_RETURN(auto options, bundle_read_options(flags, use));
  auto reader = open_bundle(path, options);
  if (reader && flags.strict_types) {
    CP_TRY(require_registered(reader->types(), path));
  }
  return reader;
}

}  // namespace cachepack::cli
