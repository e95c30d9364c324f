// ls, verify and sample: reading and making PyTorch Mega-Cache blobs.
#include <array>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cachepack/artifact_manager.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/hash.h"
#include "cachepack/megacache.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"
#include "tools/sample.h"
#include "util/file.h"
#include "util/file_lock.h"
#include "util/text.h"

namespace cachepack::cli {
namespace {

struct ReadFlags {
  bool lenient_base64 = false;

  megacache::ReadOptions options(bool strict_types) const {
    megacache::ReadOptions o;
    o.base64 = lenient_base64 ? megacache::Base64Mode::kLenient
                              : megacache::Base64Mode::kStrict;
    o.strict_types = strict_types;
    return o;
  }
};

void add_read_flags(CLI::App* cmd, ReadFlags& flags, BundleReadFlags& bundle) {
  cmd->add_flag("--lenient-base64", flags.lenient_base64,
                "Accept base64 that PyTorch's reader accepts (non-alphabet "
                "characters skipped) instead of canonical base64 only");
  add_strict_types_flag(cmd, bundle.strict_types);
}

// One artifact of `ls --json`.
nlohmann::json listed_json(const std::string& type, const std::string& key,
                           uint64_t size, const std::string& sha256) {
  return {{"type", type},
          {"key", key},
          {"size", size},
          {"sha256", sha256},
          {"registered", registered_type(type)}};
}

// One line of `ls`: type, key, size, SHA-256, and "unregistered" for a type
// cachepack does not know (carried unchanged).
void print_listed(const std::string& type, const std::string& key,
                  uint64_t size, const std::string& sha256) {
  std::cout << type << "\t" << printable(key) << "\t" << size << "\t" << sha256
            << (registered_type(type) ? "" : "\tunregistered") << "\n";
}

// The types cachepack does not know among `artifacts`, sorted.
template <typename Artifacts>
std::vector<std::string> unregistered_types(const Artifacts& artifacts) {
  std::set<std::string> names;
  for (const auto& a : artifacts) {
    if (!registered_type(a.type)) names.insert(a.type);
  }
  return {names.begin(), names.end()};
}

// "; 2 artifacts of types cachepack does not know, carried unchanged:
// triton_runtime", or nothing.
template <typename Artifacts>
std::string unregistered_note(const Artifacts& artifacts) {
  std::set<std::string> names;
  size_t count = 0;
  for (const auto& a : artifacts) {
    if (registered_type(a.type)) continue;
    names.insert(a.type);
    ++count;
  }
  if (count == 0) return "";
  std::string out = "; " + std::to_string(count) +
                    " artifacts of types cachepack does not know, carried "
                    "unchanged:";
  for (const auto& n : names) out += " " + printable(n);
  return out;
}

// Maps and parses a blob; on failure the error names the file.
struct OpenedBlob {
  MappedFile file;
  megacache::Blob blob;
};

Result<OpenedBlob> open_blob(const std::string& path,
                             const megacache::ReadOptions& options) {
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  CP_ASSIGN_OR_RETURN(auto blob,
                      in_file(megacache::parse(file.bytes(), options), path));
  return OpenedBlob{std::move(file), std::move(blob)};
}

// `ls` of a bundle: the same lines and JSON shape as for a blob, with
// "format": "cachepack". Keys need not be UTF-8 in a bundle, so JSON
// replaces invalid sequences instead of throwing.
Result<int> list_bundle_file(const std::string& path, bool json,
                             const BundleReadFlags& flags) {
  CP_ASSIGN_OR_RETURN(auto reader, open_bundle(path, flags, BundleUse::kIndex));
  CP_ASSIGN_OR_RETURN(auto listed, bundle::list_bundle(reader));
  if (json) {
    nlohmann::json artifacts = nlohmann::json::array();
    for (const auto& a : listed) {
      artifacts.push_back(listed_json(a.type, a.key, a.size, a.sha256));
    }
    nlohmann::json out = {{"format", "cachepack"},
                          {"artifacts", std::move(artifacts)}};
    print_json(out);
  } else {
    for (const auto& a : listed) print_listed(a.type, a.key, a.size, a.sha256);
  }
  return kExitOk;
}

}  // namespace

void add_ls_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    bool json = false;
    ReadFlags read;
    BundleReadFlags bundle;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "ls", "List artifacts in stored order: type, key, size, SHA-256");
  cmd->add_option("FILE", args->path, "Mega-Cache blob or cachepack bundle")
      ->required();
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  add_read_flags(cmd, args->read, args->bundle);
  add_allow_older_version_flag(cmd, args->bundle);
  cmd->footer(
      "Examples:\n"
      "  cachepack ls megacache.bin\n"
      "  cachepack ls model.cpk --json | jq .artifacts[0]\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        if (bundle::is_bundle_file(args->path)) {
          return list_bundle_file(args->path, args->json, args->bundle);
        }
        auto opened = open_blob(args->path,
                                args->read.options(args->bundle.strict_types));
        CP_TRY(opened);
        if (args->json) {
          nlohmann::json listed = nlohmann::json::array();
          for (const auto& a : opened->blob.artifacts()) {
            listed.push_back(listed_json(a.type, a.key, a.content.size(),
                                         sha256_hex(a.content)));
          }
          nlohmann::json out = {{"format", "pytorch-megacache"},
                                {"artifacts", std::move(listed)}};
          print_json(out);
        } else {
          for (const auto& a : opened->blob.artifacts()) {
            print_listed(a.type, a.key, a.content.size(),
                         sha256_hex(a.content));
          }
        }
        return kExitOk;
      },
      &args->json));
}

void add_verify_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    bool canonical_keys = false;
    bool json = false;
    BundleReadFlags bundle;
    ReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check a blob or bundle; exit 0 with a summary, 1 with the error");
  cmd->add_option("FILE", args->path, "Mega-Cache blob or cachepack bundle")
      ->required();
  cmd->add_option("--trusted-key", args->bundle.trusted_key_files,
                  "Bundles only: require a valid signature by this Ed25519 "
                  "public key (PEM; repeatable)");
  cmd->add_flag("--canonical-keys", args->canonical_keys,
                "Also require every key to have the exact form PyTorch "
                "produces for its type");
  add_read_flags(cmd, args->read, args->bundle);
  add_allow_older_version_flag(cmd, args->bundle);
  cmd->add_flag("--json", args->json,
                "One JSON object on stdout, {\"ok\": false, \"error\": ...} "
                "on failure");
  cmd->footer(
      "Examples:\n"
      "  cachepack verify megacache.bin\n"
      "  cachepack verify --trusted-key release.pem.pub model.cpk --json\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        if (bundle::is_bundle_file(args->path)) {
          auto reader =
              open_bundle(args->path, args->bundle, BundleUse::kEverything);
          CP_TRY(reader);
          auto summary = bundle::verify_bundle(*reader, args->canonical_keys);
          CP_TRY(summary);
          CP_ASSIGN_OR_RETURN(auto listed, bundle::list_bundle(*reader));
          if (args->json) {
            print_json({{"ok", true},
                        {"file", args->path},
                        {"format", "cachepack"},
                        {"summary", *summary},
                        {"artifacts", listed.size()},
                        {"signatures", reader->signatures().size()},
                        {"unregistered_types", unregistered_types(listed)}});
          } else {
            std::cout << "ok: " << args->path << ": cachepack, " << *summary
                      << unregistered_note(listed) << "\n";
          }
          return kExitOk;
        }
        if (!args->bundle.trusted_key_files.empty()) {
          return make_error(ErrorCode::kPermissionDenied,
                            ErrorReason::kSignature,
                            "a Mega-Cache blob carries no signature; "
                            "convert it to a signed bundle",
                            ErrorLocation{.file = args->path});
        }
        auto opened = open_blob(args->path,
                                args->read.options(args->bundle.strict_types));
        CP_TRY(opened);
        const auto& blob = opened->blob;
        if (args->canonical_keys) {
          for (const auto& a : blob.artifacts()) {
            if (!registered_type(a.type)) continue;  // No rules known.
            CP_TRY(in_file(
                at_offset(ArtifactTypes::global().check(
                              a.type, a.key, a.content, CheckLevel::kCanonical),
                          a.content_offset),
                args->path));
          }
        }
        std::set<std::string> types;
        for (const auto& g : blob.groups) types.insert(g.type);
        std::string crc = to_hex(std::array<std::byte, 4>{
            std::byte(blob.crc >> 24), std::byte(blob.crc >> 16),
            std::byte(blob.crc >> 8), std::byte(blob.crc)});
        if (args->json) {
          print_json(
              {{"ok", true},
               {"file", args->path},
               {"format", "pytorch-megacache"},
               {"artifacts", blob.artifact_count()},
               {"groups", blob.groups.size()},
               {"types", types.size()},
               {"bytes", blob.size},
               {"crc32", crc},
               {"unregistered_types", unregistered_types(blob.artifacts())}});
          return kExitOk;
        }
        std::cout << "ok: " << args->path << ": pytorch-megacache, "
                  << blob.artifact_count() << " artifacts in "
                  << blob.groups.size() << " groups of " << types.size()
                  << " types, " << blob.size << " bytes, crc32 " << crc
                  << unregistered_note(blob.artifacts()) << "\n";
        return kExitOk;
      },
      &args->json));
}

void add_sample_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    int graphs = 4;
    uint64_t seed = 1;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "sample",
      "Write a sample Mega-Cache blob with artifacts of PyTorch's types");
  cmd->add_option("OUT", args->path, "Where to write the blob")->required();
  cmd->add_option("--graphs", args->graphs, "Compiled graphs to simulate")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", args->seed, "Random seed (same seed, same bytes)");
  cmd->footer(
      "Examples:\n"
      "  cachepack sample demo.bin --graphs 8 --seed 7\n");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    ArtifactManager manager;
    for (const auto& a : sample_artifacts(args->graphs, args->seed)) {
      CP_TRY(manager.record(a.type, a.key, a.content));
    }
    CP_ASSIGN_OR_RETURN(auto saved, manager.serialize());
    if (!saved) return make_error(ErrorCode::kInternal, "nothing was recorded");
    CP_TRY(write_file_replacing(args->path, saved->bytes));
    std::cout << "wrote " << args->path << ": " << saved->info.total()
              << " artifacts, " << saved->bytes.size() << " bytes\n";
    return kExitOk;
  }));
}

}  // namespace cachepack::cli
