// The CLI: every subcommand on one CLI11 app, and how a command's outcome
// becomes the exit code.
#include "tools/cli.h"

#include <cstdio>
#include <iostream>

#include "cachepack/bundle_writer.h"
#include "tools/cli_output.h"
#include "tools/commands.h"

namespace cachepack::cli {

int exit_code_of(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitFailed;
  }
}

int report(const Error& error) {
  if (is_closed_stdout(error)) return kExitOk;
  std::cerr << "cachepack: " << error.to_string() << "\n";
  return exit_code_of(error);
}

void print_json(const nlohmann::json& doc) {
  std::cout << doc.dump(-1, ' ', false,
                        nlohmann::json::error_handler_t::replace)
            << "\n";
}

nlohmann::json error_json(const Error& error) {
  const ErrorLocation& where = error.where();
  nlohmann::json j = {{"code", identifier(error.code())},
                      {"reason", identifier(error.reason())},
                      {"message", error.message()}};
  if (!where.file.empty()) j["file"] = where.file;
  if (!where.url.empty()) j["url"] = where.url;
  if (where.offset) j["offset"] = *where.offset;
  if (where.key) j["key"] = *where.key;
  return j;
}

std::function<void()> run(int& exit_code, CommandBody body, const bool* json) {
  return [&exit_code, body = std::move(body), json] {
    Result<int> outcome = body();
    if (outcome) {
      exit_code = *outcome;
      return;
    }
    exit_code = report(outcome.error());
    if (json != nullptr && *json && !is_closed_stdout(outcome.error())) {
      print_json({{"ok", false}, {"error", error_json(outcome.error())}});
    }
  };
}

int run_cli(int argc, char** argv) {
  install_stdout();
  CLI::App app{"cachepack: package, inspect and move compile-cache artifacts"};
  app.require_subcommand(1);
  // The version bundles record as their producer's (and `env` reports).
  app.set_version_flag("--version",
                       "cachepack " + std::string(bundle::kProducerVersion));
  int exit_code = kExitOk;
  add_ls_command(app, exit_code);
  add_verify_command(app, exit_code);
  add_sample_command(app, exit_code);
  add_convert_command(app, exit_code);
  add_inspect_command(app, exit_code);
  add_cat_command(app, exit_code);
  add_keygen_command(app, exit_code);
  add_sign_command(app, exit_code);
  add_append_command(app, exit_code);
  add_populate_command(app, exit_code);
  add_pack_command(app, exit_code);
  add_stats_command(app, exit_code);
  add_gc_command(app, exit_code);
  add_diff_command(app, exit_code);
  add_merge_command(app, exit_code);
  add_push_command(app, exit_code);
  add_pull_command(app, exit_code);
  add_env_command(app, exit_code);
  add_explain_command(app, exit_code);
  add_autotune_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return finish_stdout(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return finish_stdout(app.exit(e));
  } catch (const CLI::CallForVersion& e) {
    return finish_stdout(app.exit(e));
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return finish_stdout(kExitUsage);
  }
  return finish_stdout(exit_code);
}

}  // namespace cachepack::cli
