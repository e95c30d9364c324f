// ls, verify and sample: reading and making PyTorch Mega-Cache blobs.
#include <array>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "registry/artifact_manager.h"
#include "serializer/megacache.h"
#include "tools/commands.h"
#include "tools/sample.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/text.h"

namespace cachepack::cli {
namespace {

struct ReadFlags {
  bool lenient_base64 = false;
  bool any_type = false;

  megacache::ReadOptions options() const {
    megacache::ReadOptions o;
    o.base64 = lenient_base64 ? megacache::Base64Mode::kLenient
                              : megacache::Base64Mode::kStrict;
    if (any_type) o.types = nullptr;
    return o;
  }
};

void add_read_flags(CLI::App* cmd, ReadFlags& flags) {
  cmd->add_flag("--lenient-base64", flags.lenient_base64,
                "Accept base64 that PyTorch's reader accepts (non-alphabet "
                "characters skipped) instead of canonical base64 only");
  cmd->add_flag("--any-type", flags.any_type,
                "Accept artifact types that are not registered");
}

// Maps and parses a blob; on failure the error names the file.
struct OpenedBlob {
  MappedFile file;
  megacache::Blob blob;
};

Result<OpenedBlob> open_blob(const std::string& path,
                             const megacache::ReadOptions& options) {
  auto file = MappedFile::open(path);
  if (!file) return tl::unexpected(file.error());
  auto blob = megacache::parse(file->bytes(), options);
  if (!blob) return tl::unexpected(std::move(blob.error()).in_file(path));
  return OpenedBlob{std::move(*file), std::move(*blob)};
}

}  // namespace

void add_ls_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    bool json = false;
    ReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "ls", "List artifacts in stored order: type, key, size, SHA-256");
  cmd->add_option("FILE", args->path, "Mega-Cache blob")->required();
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  add_read_flags(cmd, args->read);
  cmd->callback([args, &exit_code] {
    auto opened = open_blob(args->path, args->read.options());
    if (!opened) {
      exit_code = report(opened.error());
      return;
    }
    if (args->json) {
      nlohmann::json listed = nlohmann::json::array();
      for (const auto& a : opened->blob.artifacts()) {
        listed.push_back({{"type", a.type},
                          {"key", a.key},
                          {"size", a.content.size()},
                          {"sha256", sha256_hex(a.content)}});
      }
      nlohmann::json out = {{"format", "pytorch-megacache"},
                            {"artifacts", std::move(listed)}};
      std::cout << out.dump() << "\n";
    } else {
      for (const auto& a : opened->blob.artifacts()) {
        std::cout << a.type << "\t" << printable(a.key) << "\t"
                  << a.content.size() << "\t" << sha256_hex(a.content) << "\n";
      }
    }
    exit_code = kExitOk;
  });
}

void add_verify_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    bool canonical_keys = false;
    ReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check a blob; exit 0 with a summary, 1 with the error");
  cmd->add_option("FILE", args->path, "Mega-Cache blob")->required();
  cmd->add_flag("--canonical-keys", args->canonical_keys,
                "Also require every key to have the exact form PyTorch "
                "produces for its type");
  add_read_flags(cmd, args->read);
  cmd->callback([args, &exit_code] {
    auto opened = open_blob(args->path, args->read.options());
    if (!opened) {
      exit_code = report(opened.error());
      return;
    }
    const auto& blob = opened->blob;
    if (args->canonical_keys) {
      for (const auto& a : blob.artifacts()) {
        auto ok = TypeRegistry::global().check(a.type, a.key, a.content,
                                               CheckLevel::kCanonical);
        if (!ok) {
          exit_code = report(std::move(ok.error())
                                 .in_file(args->path)
                                 .at_offset(a.content_offset));
          return;
        }
      }
    }
    std::set<std::string> types;
    for (const auto& g : blob.groups) types.insert(g.type);
    std::cout << "ok: " << args->path << ": pytorch-megacache, "
              << blob.artifact_count() << " artifacts in " << blob.groups.size()
              << " groups of " << types.size() << " types, " << blob.size
              << " bytes, crc32 "
              << to_hex(std::array<std::byte, 4>{
                     std::byte(blob.crc >> 24), std::byte(blob.crc >> 16),
                     std::byte(blob.crc >> 8), std::byte(blob.crc)})
              << "\n";
    exit_code = kExitOk;
  });
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
      "Write a sample Mega-Cache blob with artifacts of all six PyTorch types");
  cmd->add_option("OUT", args->path, "Where to write the blob")->required();
  cmd->add_option("--graphs", args->graphs, "Compiled graphs to simulate")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", args->seed, "Random seed (same seed, same bytes)");
  cmd->callback([args, &exit_code] {
    ArtifactManager manager;
    for (const auto& a : sample_artifacts(args->graphs, args->seed)) {
      if (auto r = manager.record(a.type, a.key, a.content); !r) {
        exit_code = report(r.error());
        return;
      }
    }
    auto saved = manager.serialize();
    if (!saved || !*saved) {
      exit_code =
          report(saved ? Error(ErrorCode::kInternal, ErrorReason::kUnspecified,
                               "nothing was recorded")
                       : saved.error());
      return;
    }
    if (auto w = write_file_atomic(args->path, (*saved)->bytes); !w) {
      exit_code = report(w.error());
      return;
    }
    std::cout << "wrote " << args->path << ": " << (*saved)->info.total()
              << " artifacts, " << (*saved)->bytes.size() << " bytes\n";
    exit_code = kExitOk;
  });
}

}  // namespace cachepack::cli
