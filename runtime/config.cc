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
  auto flag = [&](std::string_view name, bool oss_default) {
    std::optional<std::string> v = lookup(name);
    return v ? *v == "1" : oss_default;
  };
  c.memo_caching_module_enabled =
      flag("TORCHINDUCTOR_ENABLE_CACHING_MODULE", false);
  c.deterministic_caching_enabled =
      flag("TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING", false);
  c.strictly_pre_populated_determinism =
      flag("TORCHINDUCTOR_STRICTLY_PRE_POPULATED_DETERMINISM", false);
  c.strictly_cached_determinism =
      flag("TORCHINDUCTOR_STRICTLY_CACHED_DETERMINISM", false);
  c.local_determinism = flag("TORCHINDUCTOR_LOCAL_DETERMINISM", true);
  c.global_determinism = flag("TORCHINDUCTOR_GLOBAL_DETERMINISM", false);
  // os.environ.get(...) is falsy when empty: no pre-population.
  c.pre_populate_deterministic_cache =
      lookup("TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE");
  if (c.pre_populate_deterministic_cache &&
      c.pre_populate_deterministic_cache->empty()) {
    c.pre_populate_deterministic_cache.reset();
  }
  c.deterministic_cache_url = lookup("CACHEPACK_DETERMINISTIC_CACHE_URL");
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
