// The whole cachepack command line as a function, so that the `cachepack`
// binary and the Python module (`python -m cachepack`) run the same CLI.
#ifndef CACHEPACK_TOOLS_CLI_H_
#define CACHEPACK_TOOLS_CLI_H_

namespace cachepack::cli {

// Parses `argv` (argv[0] is the program name), runs the subcommand and
// returns the process exit code: 0 success, 1 the operation failed (a typed
// error on stderr), 2 usage error. Takes over stdout (tools/cli_output.h).
int run_cli(int argc, char** argv);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_CLI_H_
