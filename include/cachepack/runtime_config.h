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

  // Generation A (fcache/dcache/icache of an older torch; spec section 3.1
  // and 3.3, cachepack/runtime_interfaces.h). Each switch is its variable ==
  // "1" when set, else torch's OSS default. TORCHINDUCTOR_ENABLE_CACHING_MODULE
  // alone: generation A's IS_CACHING_MODULE_ENABLED has no force-disable gate.
  bool memo_caching_module_enabled = false;
  // TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING (default off).
  bool deterministic_caching_enabled = false;
  // TORCHINDUCTOR_STRICTLY_PRE_POPULATED_DETERMINISM (default off).
  bool strictly_pre_populated_determinism = false;
  // TORCHINDUCTOR_STRICTLY_CACHED_DETERMINISM (default off).
  bool strictly_cached_determinism = false;
  // TORCHINDUCTOR_LOCAL_DETERMINISM (default on outside fbcode).
  bool local_determinism = true;
  // TORCHINDUCTOR_GLOBAL_DETERMINISM (default off outside fbcode).
  bool global_determinism = false;
  // TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE, as given (empty: unset).
  std::optional<std::string> pre_populate_deterministic_cache;
  // CACHEPACK_DETERMINISTIC_CACHE_URL: the backend GLOBAL mode synchronises
  // through (torch's _RemoteCacheImpl is internal to Meta).
  std::optional<std::string> deterministic_cache_url;

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
