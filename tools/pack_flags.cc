#include "tools/pack_flags.h"

#include <ctime>

#include "cachepack/environment.h"
#include "tools/bundle_input.h"
#include "tools/environment_flags.h"

namespace cachepack::cli {
namespace {

// What --dict holds back to train on: enough samples for every type of a
// typical compile cache, little next to the bundle.
constexpr uint64_t kDictionaryTrainingBytes = 16 << 20;

}  // namespace

void add_compression_flags(CLI::App* cmd, CompressionFlags& f) {
  cmd->add_option("--level", f.level, "zstd level 1..22; 0 stores raw")
      ->check(CLI::Range(0, 22));
  cmd->add_option("--threads", f.threads, "Compression threads")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--chunk-size", f.chunk_size,
                  "Entries above this many bytes are split into chunks")
      ->check(CLI::Range(bundle::kMinChunkSize, bundle::kMaxChunkSize));
  cmd->add_option("--solid-block", f.solid_block,
                  "Compress runs of small artifacts together in solid blocks "
                  "of up to SIZE bytes (default 4 MiB; 0: each on its own, "
                  "readable by cachepack before solid blocks)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            uint64_t n = std::stoull(v);
            if (n == 0 ||
                (n >= bundle::kMinChunkSize && n <= bundle::kMaxChunkSize)) {
              return "";
            }
            return "solid block size must be 0 or 4 KiB..256 MiB";
          },
          "0 or 4KiB..256MiB"));
}

void CompressionFlags::apply_to(bundle::WriterOptions& o) const {
  o.level = level;
  o.threads = threads;
  o.chunk_size = chunk_size;
  o.solid_block_size = solid_block;
}

Result<void> refuse_compression_for_blob(const CompressionFlags& f,
                                         const std::string& out) {
  if (f == CompressionFlags{}) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "--level, --threads, --chunk-size and --solid-block say "
                    "how a bundle is compressed; a PyTorch Mega-Cache blob "
                    "is not: write a bundle instead (an OUT ending in .cpk)",
                    ErrorLocation{.file = out});
}

void add_pack_flags(CLI::App* cmd, PackFlags& f) {
  add_compression_flags(cmd, f.compression);
  cmd->add_flag("--dict", f.dict,
                "Make a zstd dictionary per artifact type from the first "
                "16 MiB of artifacts and store it in the bundle");
  cmd->add_option("--dict-kind", f.dict_kind,
                  "raw (default: slices of the entries, no training cost) or "
                  "trained (ZDICT: smaller, much slower to make)")
      ->check(CLI::IsMember({"raw", "trained"}));
  cmd->add_option("--sign", f.sign_key,
                  "Sign the bundle with this Ed25519 private key (PEM)");
  cmd->add_option("--meta", f.meta,
                  "User metadata KEY=VALUE (repeatable), e.g. torch=2.5.1");
  cmd->add_flag("--lenient-base64", f.lenient_base64,
                "Blob inputs: accept base64 that PyTorch's reader accepts "
                "(keys are then stored decoded, so the blob written back "
                "uses canonical base64)");
  add_strict_types_flag(cmd, f.strict_types);
  add_record_env_flag(cmd, f.env_file);
  cmd->add_flag("--timestamp", f.timestamp,
                "Record the creation time (bundles are byte-reproducible "
                "without it)");
}

Result<bundle::WriterOptions> writer_options(
    const PackFlags& f, std::unique_ptr<bundle::SigningKey>& key) {
  bundle::WriterOptions o;
  f.compression.apply_to(o);
  for (const std::string& kv : f.meta) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--meta wants KEY=VALUE, got '" + kv + "'");
    }
    o.user_metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // After --meta, so that the reserved key always holds a valid
  // environment when --env is given.
  CP_ASSIGN_OR_RETURN(auto env, environment_to_record(f.env_file));
  if (env) record_environment(o, *env);
  if (f.timestamp) o.creation_unix_seconds = ::time(nullptr);
  if (f.dict) o.train_dictionaries_bytes = kDictionaryTrainingBytes;
  o.dictionary_kind = f.dict_kind == "trained"
                          ? bundle::DictionaryKind::kTrained
                          : bundle::DictionaryKind::kRawContent;
  if (!f.sign_key.empty()) {
    CP_ASSIGN_OR_RETURN(auto loaded, bundle::SigningKey::load_pem(f.sign_key));
    key = std::make_unique<bundle::SigningKey>(std::move(loaded));
    o.signing_keys.push_back(key.get());
  }
  return o;
}

}  // namespace cachepack::cli
