// The CLI: every subcommand on one CLI11 app, and how a command's outcome
// becomes the exit code.
#include "tools/cli.h"

#include <cstdio>
#include <iostream>

#include "cachepack/bundle_writer.h"
#include "tools/cli_output.h"
#include "tools/commands.h"

namespace cachepack::cli {

int exit_code_for(const Error& error) {
  // Only a backend's (its URL in the error): a busy local file is kUnavailable
  // too, but that is the operation failing, exit 1.
  bool retry_later = error.code() == ErrorCode::kUnavailable ||
                     error.code() == ErrorCode::kDeadlineExceeded;
  return retry_later && !error.where().url.empty() ? kExitUnavailable
                                                   : kExitFailed;
}

int report(const Error& error) {
  if (is_closed_stdout(error)) return kExitOk;
  std::cerr << "cachepack: " << error.to_string() << "\n";
  return exit_code_for(error);
}

std::function<void()> run(int& exit_code, CommandBody body) {
  return [&exit_code, body = std::move(body)] {
    Result<int> outcome = body();
    exit_code = outcome ? *outcome : report(outcome.error());
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
  add_env_command(app, exit_code);
  add_explain_command(app, exit_code);
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
