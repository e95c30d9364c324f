#include "tools/environment_flags.h"

namespace cachepack::cli {

void add_record_env_flag(CLI::App* cmd, std::string& file) {
  cmd->add_option("--env", file,
                  "Record the environment the artifacts were made in: a JSON "
                  "object (torch_version, gpu_name, ...; see cachepack env) "
                  "put over this machine's")
      ->type_name("FILE");
}

void add_target_env_flag(CLI::App* cmd, std::string& file) {
  cmd->add_option("--env", file,
                  "The environment the artifacts would be used in: a JSON "
                  "object put over this machine's (default: this machine's)")
      ->type_name("FILE");
}

Result<Environment> environment_here(const std::string& file) {
  Environment native = current_native_environment();
  if (file.empty()) return native;
  CP_ASSIGN_OR_RETURN(auto given, read_environment_file(file));
  return merge_environments(native, given);
}

Result<std::optional<Environment>> environment_to_record(
    const std::string& file) {
  if (file.empty()) return std::optional<Environment>();
  CP_ASSIGN_OR_RETURN(auto env, environment_here(file));
  return std::optional<Environment>(std::move(env));
}

Result<void> refuse_env_for_blob(const std::string& file,
                                 const std::string& out) {
  if (file.empty()) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "--env: a PyTorch Mega-Cache blob has no place to record "
                    "an environment; write a bundle instead (an OUT ending in "
                    ".cpk)",
                    ErrorLocation{.file = out});
}

}  // namespace cachepack::cli
