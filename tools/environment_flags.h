// The CLI's --env FILE: a JSON environment (cachepack/environment.h) put
// over what cachepack knows of this machine by itself, so that the Python
// package (or a person) adds the torch, Python and GPU fields and the file
// wins where both know a field.
#ifndef CACHEPACK_TOOLS_ENVIRONMENT_FLAGS_H_
#define CACHEPACK_TOOLS_ENVIRONMENT_FLAGS_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cachepack/environment.h"
#include "cachepack/error.h"

namespace cachepack::cli {

// Adds --env FILE to a command that writes a bundle: the environment its
// artifacts were made in, recorded in the bundle.
void add_record_env_flag(CLI::App* cmd, std::string& file);

// Adds --env FILE to a command that compares with where a bundle would be
// used.
void add_target_env_flag(CLI::App* cmd, std::string& file);

// current_native_environment() with the file's fields over it; the native
// environment alone when `file` is empty.
Result<Environment> environment_here(const std::string& file);

// What a writer records: environment_here(file), or nothing when no --env
// was given. Without --env nothing is guessed: the machine that converts
// or packs a cache is often not the one that made it, and bundles stay
// byte-reproducible across machines.
Result<std::optional<Environment>> environment_to_record(
    const std::string& file);

// kInvalidArgument for --env with an output that cannot hold it (a
// Mega-Cache blob), so that it is not dropped silently.
Result<void> refuse_env_for_blob(const std::string& file,
                                 const std::string& out);

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_ENVIRONMENT_FLAGS_H_
