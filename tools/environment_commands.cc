// env and explain: where a cache was made, and whether a bundle's artifacts
// can hit in a given place (docs/ENVIRONMENT.md).
#include <iostream>
#include <memory>

#include "cachepack/all_backends.h"
#include "cachepack/artifact_source.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/environment.h"
#include "cachepack/explain.h"
#include "cachepack/megacache.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"
#include "tools/environment_flags.h"
#include "util/file.h"

namespace cachepack::cli {

void add_env_command(CLI::App& app, int& exit_code) {
  auto file = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "env",
      "Print this machine's environment as cachepack records it (JSON): "
      "what cachepack knows without Python");
  cmd->add_option("--env", *file,
                  "Put this JSON object's fields over it, as --env does "
                  "when a bundle is written")
      ->type_name("FILE");
  cmd->footer(
      "Examples:\n"
      "  cachepack env\n"
      "  cachepack env --json > build-env.json\n");
  cmd->callback(run(exit_code, [file]() -> Result<int> {
    CP_ASSIGN_OR_RETURN(auto env, environment_here(*file));
    std::cout << environment_to_json(env, 2) << "\n";
    return kExitOk;
  }));
}

void add_explain_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path, url, env_file;
    bool json = false;
    size_t max_keys = 10;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "explain",
      "Why a bundle would or would not warm a cache: its recorded "
      "environment against the target's, then per type the keys the target "
      "holds already and those it lacks. Writes nothing");
  cmd->add_option("BUNDLE", args->path, "cachepack bundle or Mega-Cache blob")
      ->required();
  cmd->add_option("URL", args->url,
                  "The cache to compare keys with (any backend URL); without "
                  "it, the environment and the bundle's counts only");
  add_target_env_flag(cmd, args->env_file);
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  cmd->add_option("--max-keys", args->max_keys,
                  "Keys listed per type and direction (default 10); the "
                  "rest are counted");
  add_allow_older_version_flag(cmd, args->read);
  cmd->footer(
      "Examples:\n"
      "  cachepack explain model.cpk\n"
      "  cachepack explain model.cpk --env fleet-env.json --json\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        ExplainOptions options{.max_keys = args->max_keys};
        CP_ASSIGN_OR_RETURN(options.target_environment,
                            environment_here(args->env_file));
        std::unique_ptr<Backend> target;
        if (!args->url.empty()) {
          CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
          CP_ASSIGN_OR_RETURN(target, backends->open(args->url));
          options.target = target.get();
        }
        Result<Explanation> explained = Explanation{};
        if (bundle::is_bundle_file(args->path)) {
          CP_ASSIGN_OR_RETURN(auto reader, open_bundle(args->path, args->read,
                                                       BundleUse::kIndex));
          explained = explain(reader, options);
        } else {
          // A Mega-Cache blob records no environment; its keys still compare.
          CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(args->path));
          auto blob = megacache::parse(file.bytes());
          if (!blob)
            return tl::unexpected(std::move(blob.error()).in_file(args->path));
          auto views = blob->artifacts();
          ViewArtifactSource source(views);
          explained = explain(source, std::nullopt, options);
        }
        CP_TRY(explained);
        if (args->json) {
          std::cout << explanation_to_json(*explained) << "\n";
        } else {
          std::cout << explanation_to_text(*explained);
        }
        return kExitOk;
      },
      &args->json));
}

}  // namespace cachepack::cli
