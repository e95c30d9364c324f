// The CLI's standard output. Every command prints through std::cout, which
// writes to descriptor 1 through a buffer that remembers the first failed
// write; at exit it is flushed and checked. A full disk or an I/O error on
// stdout fails the command (exit 1, a message naming stdout): `cachepack
// cat ... > /dev/full` must not report success. A pipe whose reader has
// gone (`cachepack ls big.cpk | head -1`) is not a failure: the command
// ends quietly with its own exit code, as the reader wanted no more.
#ifndef CACHEPACK_TOOLS_CLI_OUTPUT_H_
#define CACHEPACK_TOOLS_CLI_OUTPUT_H_

#include "cachepack/error.h"

namespace cachepack::cli {

// Ignores SIGPIPE (a write to a closed pipe then fails with EPIPE instead
// of killing the process) and points std::cout at the checked buffer. Call
// once, before anything is printed.
void install_stdout();

// Flushes std::cout; the first write error on stdout so far, if any. For a
// command whose output is data (cat, convert to "-"), so that it reports
// the failure rather than a summary of what it wrote.
Result<void> flush_stdout();

// Flushes std::cout and checks every write to stdout. Returns `exit_code`,
// or kExitFailed after reporting a write error other than a closed pipe.
int finish_stdout(int exit_code);

// True for a failed write to stdout because its reader closed the pipe,
// whether std::cout or a writer on descriptor 1 (convert OUT "-") saw it.
bool is_closed_stdout(const Error& error);

// The name errors give standard output.
inline constexpr char kStdoutName[] = "stdout";

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_CLI_OUTPUT_H_
