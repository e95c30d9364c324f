// The flags of the commands that write a bundle (convert, append, merge):
// compression, dictionaries, signing and metadata.
#ifndef CACHEPACK_TOOLS_PACK_FLAGS_H_
#define CACHEPACK_TOOLS_PACK_FLAGS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cachepack/bundle_signing.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/error.h"
#include "cachepack/megacache.h"

namespace cachepack::cli {

// How a bundle is compressed: --level, --threads, --chunk-size and
// --solid-block, shared by every command that writes one.
struct CompressionFlags {
  int level = 3;
  int threads = 1;
  uint64_t chunk_size = bundle::kDefaultChunkSize;
  uint64_t solid_block = bundle::kDefaultSolidBlockSize;

  bool operator==(const CompressionFlags&) const = default;
  void apply_to(bundle::WriterOptions& o) const;
};

void add_compression_flags(CLI::App* cmd, CompressionFlags& f);

// kInvalidArgument when `f` asks for anything but the defaults and `out` is
// a Mega-Cache blob, which is never compressed.
Result<void> refuse_compression_for_blob(const CompressionFlags& f,
                                         const std::string& out);

struct PackFlags {
  CompressionFlags compression;
  bool dict = false;
  std::string dict_kind = "raw";
  std::string sign_key;
  std::vector<std::string> meta;
  std::string env_file;
  bool timestamp = false;
  bool lenient_base64 = false;
  bool strict_types = false;

  megacache::ReadOptions blob_options() const {
    megacache::ReadOptions o;
    if (lenient_base64) o.base64 = megacache::Base64Mode::kLenient;
    o.strict_types = strict_types;
    return o;
  }
};

// Adds the compression flags, --dict, --dict-kind, --sign, --meta,
// --lenient-base64, --strict-types, --env and --timestamp.
void add_pack_flags(CLI::App* cmd, PackFlags& f);

// The writer options `f` asks for; a signing key it loads is kept in `key`,
// which must outlive the writer.
Result<bundle::WriterOptions> writer_options(
    const PackFlags& f, std::unique_ptr<bundle::SigningKey>& key);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_PACK_FLAGS_H_
