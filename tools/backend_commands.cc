// populate, pack, stats and gc: moving artifacts between Mega-Cache blobs
// and storage backends named by URL (docs/BACKENDS.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "backends/maintenance.h"
#include "cachepack/all_backends.h"
#include "cachepack/artifact_manager.h"
#include "cachepack/artifact_source.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/environment.h"
#include "cachepack/megacache.h"
#include "cachepack/pack.h"
#include "cachepack/populate.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"
#include "tools/environment_flags.h"
#include "tools/inputs.h"
#include "tools/pack_flags.h"
#include "tools/progress.h"
#include "util/file.h"
#include "util/file_lock.h"

namespace cachepack::cli {
namespace {

// Before populate: the environment a bundle recorded against the one it
// is populated for. Blocking differences refuse (nothing is written)
// unless ignored; the rest, and ignored ones, are warnings on stderr. A
// blob, or a bundle that recorded nothing, passes silently.
Result<void> check_environment(const LoadedInput& input,
                               const std::string& path,
                               const std::string& env_file, bool ignore) {
  if (input.bundle == nullptr) return {};
  auto recorded = environment_of(*input.bundle);
  if (recorded && !*recorded) return {};
  // The target's environment is read only when there is one to compare.
  Environment here;
  if (recorded) {
    CP_ASSIGN_OR_RETURN(here, environment_here(env_file));
  }
  CP_ASSIGN_OR_RETURN(
      auto warnings,
      environment_warnings(recorded, here, path, ignore, "--ignore-env"));
  for (const auto& line : warnings) {
    std::cerr << "cachepack: warning: " << line << "\n";
  }
  return {};
}

// What pack records without --env: the environment its sources agree on,
// as recorded (every source a bundle recording the same one). A cache
// directory or a blob says nothing of where its artifacts were made, so a
// mix records none, and a note says so when some source recorded one.
std::optional<std::string> shared_environment(
    size_t sources, const std::vector<LoadedInput>& inputs) {
  std::vector<std::optional<std::string>> recorded;
  for (const LoadedInput& input : inputs) {
    std::optional<std::string> text;
    if (input.bundle) {
      const auto& user = input.bundle->metadata().user;
      auto it = user.find(std::string(kEnvironmentMetadataKey));
      if (it != user.end()) text = it->second;
    }
    recorded.push_back(std::move(text));
  }
  bool agree =
      inputs.size() == sources && !recorded.empty() && recorded.front() &&
      std::all_of(recorded.begin(), recorded.end(),
                  [&](const auto& r) { return r == recorded.front(); });
  if (agree) return recorded.front();
  if (std::any_of(recorded.begin(), recorded.end(),
                  [](const auto& r) { return r.has_value(); })) {
    std::cerr << "cachepack: note: the sources do not all record one "
                 "environment, so the output records none (--env FILE "
                 "records one)\n";
  }
  return std::nullopt;
}

// One line per thing a backend skipped instead of failing on.
void print_notices(const Backend& backend) {
  for (const auto& n : backend.notices()) {
    std::cerr << "cachepack: warning: " << n << "\n";
  }
}

// "10G", "512M", "64k", "1000", "2GiB": a byte count, powers of 1024.
std::optional<uint64_t> parse_size(std::string text) {
  if (text.ends_with("iB") || text.ends_with("ib"))
    text.resize(text.size() - 2);
  else if (text.size() > 1 && (text.back() == 'B' || text.back() == 'b') &&
           std::isalpha(static_cast<unsigned char>(text[text.size() - 2]))) {
    text.pop_back();
  }
  uint64_t scale = 1;
  if (!text.empty()) {
    switch (std::toupper(static_cast<unsigned char>(text.back()))) {
      case 'K':
        scale = 1ull << 10;
        break;
      case 'M':
        scale = 1ull << 20;
        break;
      case 'G':
        scale = 1ull << 30;
        break;
      case 'T':
        scale = 1ull << 40;
        break;
      default:
        break;
    }
    if (scale != 1) text.pop_back();
  }
  if (text.empty() ||
      text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 15) {
    return std::nullopt;
  }
  uint64_t n = std::stoull(text);
  if (n > UINT64_MAX / scale) return std::nullopt;
  return n * scale;
}

// `populate --json` (docs/CLI.md).
nlohmann::json populate_json(const PopulateReport& report,
                             const std::string& url,
                             const std::string& policy) {
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [type, t] : report.by_type) {
    types[type] = {
        {"stored", t.stored},         {"skipped", t.skipped},
        {"superseded", t.superseded}, {"unsupported", t.unsupported},
        {"failed", t.failed},         {"bytes_stored", t.bytes_stored}};
  }
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& a : report.artifacts) {
    if (a.outcome != PopulateOutcome::kFailed || !a.error) continue;
    failures.push_back(
        {{"type", a.type}, {"key", a.key}, {"error", error_json(*a.error)}});
  }
  return {{"ok", report.ok()},
          {"url", url},
          {"policy", policy},
          {"stored", report.stored()},
          {"skipped", report.skipped()},
          {"failed", report.failed()},
          {"types", std::move(types)},
          {"failures", std::move(failures)}};
}

void print_counters(const BackendStats& s) {
  std::cout
      << "operations: hits " << s.hits << ", misses " << s.misses << ", puts "
      << s.puts << ", skipped " << s.puts_skipped << ", removes " << s.removes
      << ", errors " << s.errors << ", bytes in " << s.bytes_in
      << ", bytes out " << s.bytes_out << ", time "
      << std::chrono::duration_cast<std::chrono::milliseconds>(s.time).count()
      << " ms\n";
}

}  // namespace

void add_populate_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string input;
    std::string url;
    std::string policy = "skip-existing";
    unsigned threads = 1;
    bool json = false;
    ProgressFlags progress;
    std::string env_file;
    bool ignore_env = false;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "populate",
      "Write every artifact of a bundle or Mega-Cache blob into a backend");
  cmd->add_option("INPUT", args->input,
                  "cachepack bundle (.cpk) or PyTorch Mega-Cache blob")
      ->required();
  cmd->add_option("URL", args->url,
                  "Backend: mem://, file:///dir, torch:///dir, tiered://...")
      ->required();
  cmd->add_option("--policy", args->policy,
                  "skip-existing (default), overwrite, or verify (overwrite "
                  "and read back)")
      ->check(CLI::IsMember({"skip-existing", "overwrite", "verify"}));
  cmd->add_option("--threads", args->threads, "Parallel writers (default 1)")
      ->check(CLI::Range(1u, 256u));
  add_progress_flags(cmd, args->progress);
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  cmd->add_flag("--strict-types", args->read.strict_types,
                "Fail on artifacts of types cachepack does not know, or that "
                "the backend has no place for (default: carry or skip them, "
                "one line per type)");
  cmd->add_option("--trusted-key", args->read.trusted_key_files,
                  "Public key (PEM); the bundle must be signed by one of the "
                  "given keys, else nothing is written")
      ->take_all();
  add_target_env_flag(cmd, args->env_file);
  cmd->add_flag("--ignore-env", args->ignore_env,
                "Populate even where the bundle's recorded environment "
                "differs from the target's in PyTorch's cache keys (the "
                "differences are printed as warnings)");
  add_allow_older_version_flag(cmd, args->read);
  cmd->footer(
      "Examples:\n"
      "  cachepack populate model.cpk torch:///tmp/torchinductor_$USER\n"
      "  cachepack populate --trusted-key release.pem.pub model.cpk "
      "redis://cache-host:6379 --threads 8\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        auto input = load_input(args->input, args->read);
        CP_TRY(input);
        if (auto checked = check_environment(*input, args->input,
                                             args->env_file, args->ignore_env);
            !checked) {
          if (checked.error().reason() != ErrorReason::kEnvironmentMismatch) {
            CP_TRY(checked);
          }
          report(checked.error());
          std::cerr << "cachepack: nothing written; --ignore-env populates "
                       "anyway, cachepack explain shows more\n";
          return kExitFailed;
        }
        auto backend = open_url(args->url);
        CP_TRY(backend);
        PopulateOptions options{.policy = *parse_populate_policy(args->policy),
                                .threads = args->threads,
                                .strict_types = args->read.strict_types};
        ProgressLine progress("populate", args->progress.shown());
        progress.add_to_total(*input->source);
        options.progress = [&progress](const PopulateProgress& p) {
          progress.update(p.done, p.bytes_done);
        };
        auto result = populate(*input->source, **backend, options);
        CP_TRY(result);
        print_notices(**backend);
        // Skipped types: one line per reason, not one per artifact. A server
        // that went away for every failed artifact fails the command as
        // unreachable (exit 3): retrying later may succeed, unlike bad data.
        std::map<std::pair<std::string, std::string>, uint64_t> unsupported;
        int failed_exit = kExitUnavailable;
        for (const auto& a : result->artifacts) {
          if (a.outcome == PopulateOutcome::kFailed &&
              report(*a.error) != kExitUnavailable) {
            failed_exit = kExitFailed;
          }
          if (a.skip_reason == SkipReason::kUnsupported) {
            ++unsupported[{a.type, a.note}];
          }
        }
        for (const auto& [what, n] : unsupported) {
          std::cerr << "cachepack: " << what.second << ": " << n
                    << " skipped\n";
        }
        if (args->json) {
          print_json(populate_json(*result, (*backend)->url(), args->policy));
        } else if (!args->progress.quiet) {
          for (const auto& [type, t] : result->by_type) {
            std::cout << type << ": " << t.stored << " stored, " << t.skipped
                      << " skipped, " << t.failed << " failed ("
                      << human(t.bytes_stored) << " written)";
            if (t.superseded != 0) {
              std::cout << "; " << t.superseded
                        << " superseded by newer artifacts with the same key";
            }
            std::cout << "\n";
          }
          std::cout << (result->ok() ? "ok: " : "FAILED: ") << result->stored()
                    << " stored, " << result->skipped() << " skipped, "
                    << result->failed() << " failed into " << (*backend)->url()
                    << " (policy " << args->policy << ")\n";
        }
        return result->ok() ? kExitOk : failed_exit;
      },
      &args->json));
}

void add_pack_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::vector<std::string> sources;
    std::string out;
    std::string env_file;
    bool json = false;
    CompressionFlags compression;
    BundleReadFlags read;
    ProgressFlags progress;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "pack",
      "Export artifacts from backends, PyTorch cache dirs, bundles and blobs "
      "into one bundle (OUT ending in .cpk) or Mega-Cache blob");
  // CLI11 cannot put a required positional after a greedy one, so SOURCE...
  // OUT is one list whose last element is the output.
  cmd->add_option("SOURCE... OUT", args->sources,
                  "Backend URLs (torch:///dir for a PyTorch cache directory) "
                  "or bundle / Mega-Cache blob files, then the output (.cpk: "
                  "a bundle, else a Mega-Cache blob)")
      ->required()
      ->expected(2, -1);
  add_allow_older_version_flag(cmd, args->read);
  add_strict_types_flag(cmd, args->read.strict_types);
  add_record_env_flag(cmd, args->env_file);
  add_compression_flags(cmd, args->compression);
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  add_progress_flags(cmd, args->progress);
  cmd->footer(
      "Examples:\n"
      "  cachepack pack torch:///tmp/torchinductor_$USER model.cpk\n"
      "  cachepack pack torch:///tmp/torchinductor_$USER model.cpk "
      "--threads 2\n"
      "  cachepack pack redis://cache-host:6379 old.cpk everything.cpk\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        args->out = args->sources.back();
        args->sources.pop_back();
        bool to_bundle = bundle::has_bundle_extension(args->out);
        if (!to_bundle) {
          CP_TRY(refuse_env_for_blob(args->env_file, args->out));
          CP_TRY(refuse_compression_for_blob(args->compression, args->out));
        }
        CP_ASSIGN_OR_RETURN(auto env, environment_to_record(args->env_file));
        std::vector<ArtifactInput> opened;
        std::vector<PackSource> sources;
        for (const auto& source : args->sources) {
          CP_ASSIGN_OR_RETURN(auto input, open_input(source, args->read));
          opened.push_back(std::move(input));
        }
        std::vector<LoadedInput> inputs;  // The files, for their environments.
        for (auto& input : opened) {
          sources.push_back(input.pack_source());
          if (!input.backend) inputs.push_back(std::move(input.file));
        }
        // Files say how much they hold; a backend does not until listed.
        ProgressLine progress("pack", args->progress.shown());
        if (inputs.size() == opened.size()) {
          for (const auto& input : inputs) progress.add_to_total(*input.source);
        }
        // --strict-types: a type cachepack does not know stops the pack.
        struct StrictSink final : PackSink {
          PackSink& inner;
          const std::string& out;
          StrictSink(PackSink& sink, const std::string& path)
              : inner(sink), out(path) {}
          Result<void> begin_group(std::string_view type) override {
            std::string t(type);
            CP_TRY(require_registered(std::span(&t, 1), out));
            return inner.begin_group(type);
          }
          Result<void> add(std::string_view type, std::string_view key,
                           ContentSource& content) override {
            return inner.add(type, key, content);
          }
        };
        auto packed = [&](PackSink& sink) -> Result<PackStats> {
          StrictSink strict(sink, args->out);
          auto stats = args->read.strict_types ? pack(sources, strict)
                                               : pack(sources, sink);
          for (const auto& input : opened) {
            if (input.backend) print_notices(*input.backend);
          }
          return stats;
        };
        Result<PackStats> stats = PackStats{};
        uint64_t written = 0;
        if (to_bundle) {
          bundle::WriterOptions options;
          args->compression.apply_to(options);
          if (env) {
            record_environment(options, *env);
          } else if (auto shared =
                         shared_environment(args->sources.size(), inputs)) {
            options.user_metadata[std::string(kEnvironmentMetadataKey)] =
                *shared;
          }
          options.progress = [&progress](const bundle::WriteStats& s) {
            progress.update(s.added, s.original_bytes);
          };
          auto writer = bundle::BundleWriter::create(args->out, options);
          CP_TRY(writer);
          BundlePackSink sink(*writer);
          stats = packed(sink);
          CP_TRY(stats);
          auto done = writer->finish();
          CP_TRY(done);
          written = done->file_size;
        } else {
          MegacachePackSink sink;
          stats = packed(sink);
          CP_TRY(stats);
          CP_ASSIGN_OR_RETURN(ByteSpan blob, sink.finish());
          CP_TRY(write_file_replacing(args->out, blob));
          written = blob.size();
        }
        if (args->json) {
          print_json({{"ok", true},
                      {"out", args->out},
                      {"format", to_bundle ? "cachepack" : "pytorch-megacache"},
                      {"artifacts", stats->artifacts},
                      {"types", stats->types},
                      {"duplicates", stats->duplicates},
                      {"bytes", stats->bytes},
                      {"file_size", written}});
        } else if (!args->progress.quiet) {
          std::cout << "packed " << stats->artifacts << " artifacts of "
                    << stats->types << " types into " << args->out << " ("
                    << human(written) << ")\n";
        }
        return kExitOk;
      },
      &args->json));
}

void add_stats_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string url;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "stats", "Entries and bytes per artifact type held by a backend");
  cmd->add_option("URL", args->url, "Backend URL")->required();
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  cmd->footer(
      "Examples:\n"
      "  cachepack stats file:///var/cache/cachepack\n"
      "  cachepack stats redis://cache-host:6379 --json\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        auto backend = open_url(args->url);
        CP_TRY(backend);
        std::vector<NamespaceUsage> usage;
        if (auto* m = dynamic_cast<Maintainable*>(backend->get())) {
          auto u = m->usage();
          print_notices(**backend);
          CP_TRY(u);
          usage = std::move(*u);
        } else {
          // No cheap accounting: read everything once.
          auto exported = export_artifacts(**backend);
          print_notices(**backend);
          CP_TRY(exported);
          std::map<std::string, NamespaceUsage> by_ns;
          for (const auto& a : *exported) {
            auto& u = by_ns[a.type];
            u.ns = a.type;
            ++u.entries;
            u.bytes += a.content.size();
          }
          for (auto& [_, u] : by_ns) usage.push_back(std::move(u));
        }
        uint64_t entries = 0, bytes = 0;
        for (const auto& u : usage) {
          entries += u.entries;
          bytes += u.bytes;
        }
        BackendStats s = (*backend)->stats();
        if (args->json) {
          nlohmann::json doc = {{"url", (*backend)->url()},
                                {"entries", entries},
                                {"bytes", bytes},
                                {"types", nlohmann::json::object()}};
          for (const auto& u : usage) {
            doc["types"][u.ns] = {{"entries", u.entries}, {"bytes", u.bytes}};
          }
          doc["operations"] = {
              {"hits", s.hits},           {"misses", s.misses},
              {"puts", s.puts},           {"skipped", s.puts_skipped},
              {"removes", s.removes},     {"errors", s.errors},
              {"bytes_in", s.bytes_in},   {"bytes_out", s.bytes_out},
              {"time_ns", s.time.count()}};
          print_json(doc);
        } else {
          std::cout << "backend: " << (*backend)->url() << "\n";
          for (const auto& u : usage) {
            char line[128];
            std::snprintf(line, sizeof line, "%-16s %10llu entries %12s\n",
                          u.ns.c_str(),
                          static_cast<unsigned long long>(u.entries),
                          human(u.bytes).c_str());
            std::cout << line;
          }
          std::cout << "total: " << entries << " entries, " << human(bytes)
                    << "\n";
          print_counters(s);
        }
        return kExitOk;
      },
      &args->json));
}

void add_gc_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string url;
    std::string max_size;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "gc",
      "Remove crashed writers' temp files, stale entries, then least "
      "recently used entries until the backend holds at most --max-size");
  cmd->add_option("URL", args->url, "Backend URL (mem://, file://, tiered://)")
      ->required();
  cmd->add_option(
         "--max-size", args->max_size,
         "Size limit: bytes, or with a K, M, G or T suffix (1024-based)")
      ->required();
  cmd->footer(
      "Examples:\n"
      "  cachepack gc file:///var/cache/cachepack --max-size 10G\n");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    auto limit = parse_size(args->max_size);
    if (!limit) {
      std::cerr << "cachepack: --max-size: '" << args->max_size
                << "' is not a size; expected e.g. 500M, 10G or 1048576\n";
      return kExitUsage;
    }
    auto backend = open_url(args->url);
    CP_TRY(backend);
    auto* m = dynamic_cast<Maintainable*>(backend->get());
    if (m == nullptr) {
      return tl::unexpected(
          Error(ErrorCode::kUnimplemented, ErrorReason::kUnspecified,
                "gc: this backend has no size accounting in cachepack (PyTorch "
                "cache directories and remote caches evict by their own rules)",
                ErrorLocation{.url = (*backend)->url()}));
    }
    auto r = m->gc(*limit);
    print_notices(**backend);
    CP_TRY(r);
    std::cout << "gc " << (*backend)->url() << ": " << human(r->bytes_before)
              << " -> " << human(r->bytes_after) << " (limit " << human(*limit)
              << "); removed " << r->entries_removed << " entries, "
              << r->stale_removed << " stale, " << r->temps_removed
              << " temp files\n";
    return kExitOk;
  }));
}

}  // namespace cachepack::cli
