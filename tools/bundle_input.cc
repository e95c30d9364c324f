#include "tools/bundle_input.h"

#include <iostream>

#include "serializer/bundle_signing.h"

namespace cachepack::cli {

void add_allow_older_version_flag(CLI::App* cmd, BundleReadFlags& flags) {
  cmd->add_flag("--allow-older-version", flags.allow_older_version,
                "If a bundle's newest version is damaged or followed by other "
                "bytes, read the newest intact earlier version instead of "
                "failing (reported on stderr)");
}

Result<bundle::ReaderOptions> bundle_read_options(const BundleReadFlags& flags,
                                                  BundleUse use) {
  bundle::ReaderOptions options;
  for (const std::string& file : flags.trusted_key_files) {
    auto key = bundle::load_public_key(file);
    if (!key) return tl::unexpected(key.error());
    options.trusted_keys.push_back(*key);
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
  auto options = bundle_read_options(flags, use);
  if (!options) return tl::unexpected(options.error());
  return open_bundle(path, *options);
}

}  // namespace cachepack::cli
