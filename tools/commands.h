// The cachepack CLI's subcommands. Each add_*_command adds one subcommand to
// the app. A command's body returns a Result: a typed error (printed on
// stderr, exit 1, or 3 when a backend was unreachable or too slow) or the
// exit code it chose; run() maps it to `exit_code`: 0 success, 1 the
// operation failed, 2 usage error, 3 unavailable (retry later). The work itself
// lives in the library; a body parses flags, calls it and prints.
#ifndef CACHEPACK_TOOLS_COMMANDS_H_
#define CACHEPACK_TOOLS_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cachepack/error.h"

namespace cachepack::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;

// The exit code an error calls for: kExitUnavailable for a server that is
// down or a deadline that expired, kExitFailed for anything else.
int exit_code_of(const Error& error);

// Prints "cachepack: <error>" on stderr and returns exit_code_of(error). A
// write to stdout whose reader closed the pipe is not a failure
// (tools/cli_output.h): nothing is printed and the result is kExitOk.
int report(const Error& error);

// Prints `doc` on stdout as one line of JSON; bytes that are not UTF-8 (keys
// are opaque) become U+FFFD instead of failing.
void print_json(const nlohmann::json& doc);

// An error as `--json` output shows it (docs/CLI.md): {"code", "reason",
// "message", and "file", "url", "offset", "key" where known}.
nlohmann::json error_json(const Error& error);

// A command's body: a typed error, or its exit code (kExitOk; kExitFailed
// when it already reported a partial failure, as populate does per artifact).
using CommandBody = std::function<Result<int>()>;

// The CLI11 callback that runs `body` and stores its exit code. With
// `json` pointing at a set --json flag, an error is also printed on stdout
// as {"ok": false, "error": error_json(...)}, so a script reading stdout
// always gets one JSON object.
std::function<void()> run(int& exit_code, CommandBody body,
                          const bool* json = nullptr);

// Mega-Cache commands (tools/megacache_commands.cc).
void add_ls_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_sample_command(CLI::App& app, int& exit_code);

// Bundle commands (tools/bundle_commands.cc). ls and verify above also
// accept bundles (cachepack/bundle_listing.h).
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
// Comparing and combining caches (tools/compare_commands.cc).
void add_diff_command(CLI::App& app, int& exit_code);
void add_merge_command(CLI::App& app, int& exit_code);
// Shipping bundles through a backend (tools/ship_commands.cc).
void add_push_command(CLI::App& app, int& exit_code);
void add_pull_command(CLI::App& app, int& exit_code);
// Environment commands (tools/environment_commands.cc).
void add_env_command(CLI::App& app, int& exit_code);
void add_explain_command(CLI::App& app, int& exit_code);
// PyTorch's autotune cache (tools/autotune_commands.cc).
void add_autotune_command(CLI::App& app, int& exit_code);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_COMMANDS_H_
