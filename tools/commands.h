// The cachepack CLI's subcommands. Each add_*_command adds one subcommand to
// the app; its callback stores the process exit code in `exit_code`:
// 0 success, 1 the operation failed (typed error on stderr), 2 usage error.
#ifndef CACHEPACK_TOOLS_COMMANDS_H_
#define CACHEPACK_TOOLS_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "util/error.h"

namespace cachepack::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Prints "cachepack: <error>" on stderr and returns kExitFailed. A write to
// stdout whose reader closed the pipe is not a failure (tools/cli_output.h):
// nothing is printed and the result is kExitOk.
int report(const Error& error);

// Mega-Cache commands (tools/megacache_commands.cc).
void add_ls_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_sample_command(CLI::App& app, int& exit_code);

// Bundle commands (tools/bundle_commands.cc). ls and verify above also
// accept bundles (serializer/bundle_tools.h).
void add_convert_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_cat_command(CLI::App& app, int& exit_code);
void add_keygen_command(CLI::App& app, int& exit_code);
void add_sign_command(CLI::App& app, int& exit_code);
void add_append_command(CLI::App& app, int& exit_code);
// Backend commands (tools/backend_commands.cc).
void add_populate_command(CLI::App& app, int& exit_code);
void add_pack_command(CLI::App& app, int& exit_code);
void add_stats_command(CLI::App& app, int& exit_code);
void add_gc_command(CLI::App& app, int& exit_code);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_COMMANDS_H_
