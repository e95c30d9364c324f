// The configuration of cachepack/runtime_config.h.
#include <cstdlib>

#include "cachepack/runtime_config.h"

namespace cachepack::runtime {

RuntimeConfig RuntimeConfig::from(
    const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  RuntimeConfig c;
  std::optional<std::string> force =
      lookup("TORCHINDUCTOR_FORCE_DISABLE_CACHES");
  c.force_disable_caches = force && *force != "0" && !force->empty();
  c.caching_module_enabled =
      lookup("TORCHINDUCTOR_ENABLE_CACHING_MODULE") == "1" &&
      !c.force_disable_caches;
  c.dump_memoizer_cache = lookup("TORCHINDUCTOR_DUMP_MEMOIZER_CACHE") == "1";
  c.cache_dump_file_path = lookup("TORCHINDUCTOR_CACHE_DUMP_FILE_PATH");
  return c;
}

RuntimeConfig RuntimeConfig::from_environment() {
  return from([](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  });
}

const RuntimeConfig& runtime_config() {
  static const RuntimeConfig config = RuntimeConfig::from_environment();
  return config;
}

}  // namespace cachepack::runtime
