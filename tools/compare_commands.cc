// diff and merge: comparing and combining caches (docs/CLI.md).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cachepack/bundle_writer.h"
#include "cachepack/diff.h"
#include "cachepack/merge.h"
#include "cachepack/pack.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"
#include "tools/inputs.h"
#include "tools/pack_flags.h"
#include "tools/progress.h"
#include "util/file_lock.h"
#include "util/text.h"

namespace cachepack::cli {
namespace {

uint64_t count_keys(const ContentDigests& digests) {
  uint64_t n = 0;
  for (const auto& [_, by_key] : digests) n += by_key.size();
  return n;
}

nlohmann::json diff_json(const std::string& a, const std::string& b,
                         const std::vector<TypeDifference>& differences) {
  nlohmann::json types = nlohmann::json::array();
  for (const auto& d : differences) {
    types.push_back({{"type", d.type},
                     {"only_in_a", d.only_in_a},
                     {"only_in_b", d.only_in_b},
                     {"changed", d.changed}});
  }
  return {{"a", a},
          {"b", b},
          {"equal", differences.empty()},
          {"types", std::move(types)}};
}

void print_diff(const std::vector<TypeDifference>& differences) {
  for (const auto& d : differences) {
    std::cout << d.type << ": " << d.only_in_a.size() << " only in A, "
              << d.only_in_b.size() << " only in B, " << d.changed.size()
              << " changed\n";
    for (const auto& key : d.only_in_a)
      std::cout << "- " << printable(key) << "\n";
    for (const auto& key : d.only_in_b)
      std::cout << "+ " << printable(key) << "\n";
    for (const auto& key : d.changed)
      std::cout << "~ " << printable(key) << "\n";
  }
}

}  // namespace

void add_diff_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string a, b;
    bool json = false;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "diff",
      "Compare two caches by content: per type, keys only in A, only in B, "
      "and changed; exit 0 when equal, 1 when they differ");
  cmd->add_option("A", args->a, "Bundle, Mega-Cache blob or backend URL")
      ->required();
  cmd->add_option("B", args->b, "Bundle, Mega-Cache blob or backend URL")
      ->required();
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  add_allow_older_version_flag(cmd, args->read);
  cmd->footer(
      "Examples:\n"
      "  cachepack diff yesterday.cpk today.cpk\n"
      "  cachepack diff build.cpk redis://cache-host:6379 --json\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        ContentDigests digests[2];
        const std::string* names[2] = {&args->a, &args->b};
        for (int side = 0; side < 2; ++side) {
          CP_ASSIGN_OR_RETURN(auto input, open_input(*names[side], args->read));
          CP_ASSIGN_OR_RETURN(digests[side],
                              digest_contents(input.pack_source()));
        }
        auto differences = diff_contents(digests[0], digests[1]);
        if (args->json) {
          print_json(diff_json(args->a, args->b, differences));
        } else if (differences.empty()) {
          std::cout << "same: " << count_keys(digests[0]) << " keys of "
                    << digests[0].size() << " types hold the same contents\n";
        } else {
          print_diff(differences);
        }
        return differences.empty() ? kExitOk : kExitFailed;
      },
      &args->json));
}

void add_merge_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string out;
    std::vector<std::string> inputs;
    std::string on_conflict = "error";
    bool json = false;
    PackFlags pack;
    BundleReadFlags read;
    ProgressFlags progress;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "merge",
      "Combine bundles and Mega-Cache blobs into one bundle (OUT ending in "
      ".cpk) or blob; a key two inputs hold with different contents follows "
      "--on-conflict");
  cmd->add_option("OUT", args->out, "Output: .cpk for a bundle, else a blob")
      ->required();
  cmd->add_option("IN", args->inputs, "Bundles or Mega-Cache blobs")
      ->required();
  cmd->add_option("--on-conflict", args->on_conflict,
                  "error (default: refuse, naming the type and key), first "
                  "or last (keep the first or last input's contents)")
      ->check(CLI::IsMember({"error", "first", "last"}));
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  add_pack_flags(cmd, args->pack);
  add_allow_older_version_flag(cmd, args->read);
  add_progress_flags(cmd, args->progress);
  cmd->footer(
      "Examples:\n"
      "  cachepack merge all.cpk resnet.cpk bert.cpk\n"
      "  cachepack merge --on-conflict last fleet.cpk old.cpk new.bin\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        args->read.strict_types = args->pack.strict_types;
        std::vector<LoadedInput> loaded;
        std::vector<MergeInput> inputs;
        for (const auto& name : args->inputs) {
          CP_ASSIGN_OR_RETURN(auto input, load_input(name, args->read));
          loaded.push_back(std::move(input));
        }
        for (size_t i = 0; i < loaded.size(); ++i) {
          inputs.push_back({args->inputs[i], loaded[i].source.get()});
        }
        ProgressLine progress("merge", args->progress.shown());
        for (const auto& input : inputs)
          progress.add_to_total(*input.artifacts);
        auto policy = *parse_conflict_policy(args->on_conflict);
        MergeStats stats;
        uint64_t written = 0;
        if (bundle::has_bundle_extension(args->out)) {
          std::unique_ptr<bundle::SigningKey> key;
          CP_ASSIGN_OR_RETURN(auto options, writer_options(args->pack, key));
          options.progress = [&](const bundle::WriteStats& s) {
            progress.update(s.added, s.original_bytes);
          };
          CP_ASSIGN_OR_RETURN(auto writer,
                              bundle::BundleWriter::create(args->out, options));
          BundlePackSink sink(writer);
          CP_ASSIGN_OR_RETURN(stats, merge(inputs, policy, sink));
          CP_ASSIGN_OR_RETURN(auto done, writer.finish());
          written = done.file_size;
        } else {
          if (!args->pack.sign_key.empty()) {
            return make_error(ErrorCode::kInvalidArgument,
                              "--sign: a Mega-Cache blob cannot be signed; "
                              "name OUT .cpk to write a bundle",
                              ErrorLocation{.file = args->out});
          }
          MegacachePackSink sink;
          CP_ASSIGN_OR_RETURN(stats, merge(inputs, policy, sink));
          CP_ASSIGN_OR_RETURN(ByteSpan blob, sink.finish());
          CP_TRY(write_file_replacing(args->out, blob));
          written = blob.size();
        }
        if (args->json) {
          print_json({{"ok", true},
                      {"out", args->out},
                      {"inputs", args->inputs.size()},
                      {"artifacts", stats.packed.artifacts},
                      {"types", stats.packed.types},
                      {"duplicates", stats.packed.duplicates},
                      {"conflicts", stats.conflicts},
                      {"dropped", stats.dropped},
                      {"bytes", stats.packed.bytes},
                      {"file_size", written}});
        } else if (!args->progress.quiet) {
          std::cout << "merged " << args->inputs.size() << " inputs into "
                    << args->out << ": " << stats.packed.artifacts
                    << " artifacts of " << stats.packed.types << " types ("
                    << human(written) << "), " << stats.packed.duplicates
                    << " duplicates dropped, " << stats.conflicts
                    << " conflicts resolved (" << args->on_conflict << ")\n";
        }
        return kExitOk;
      },
      &args->json));
}

}  // namespace cachepack::cli
