// The switches torch 2.13's caching module reads from the environment
// (torch/_inductor/runtime/caching/config.py), read the same way and, as
// there (functools.cache), once per process. docs/RUNTIME.md.
#ifndef CACHEPACK_RUNTIME_CONFIG_H_
#define CACHEPACK_RUNTIME_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cachepack::runtime {

struct RuntimeConfig {
  // TORCHINDUCTOR_ENABLE_CACHING_MODULE == "1" (the OSS default is off),
  // and caches not force-disabled: IS_CACHING_MODULE_ENABLED().
  bool caching_module_enabled = false;
  // TORCHINDUCTOR_FORCE_DISABLE_CACHES as torch's config reads it: "1" on,
  // "0" or empty or unset off, any other text on.
  bool force_disable_caches = false;
  // TORCHINDUCTOR_DUMP_MEMOIZER_CACHE == "1".
  bool dump_memoizer_cache = false;
  // TORCHINDUCTOR_CACHE_DUMP_FILE_PATH, as given.
  std::optional<std::string> cache_dump_file_path;

  // From a lookup (name -> value or nullopt), now.
  static RuntimeConfig from(
      const std::function<std::optional<std::string>(std::string_view)>&
          lookup);
  // From the process environment, now.
  static RuntimeConfig from_environment();
};

// from_environment() at the first call; the same values ever after.
const RuntimeConfig& runtime_config();

}  // namespace cachepack::runtime

#endif  // CACHEPACK_RUNTIME_CONFIG_H_
