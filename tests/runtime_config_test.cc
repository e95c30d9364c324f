// The caching module's switches, read as torch 2.13's config.py reads them.
#include "cachepack/runtime_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

namespace cachepack::runtime {
namespace {

RuntimeConfig with(std::map<std::string, std::string> env) {
  return RuntimeConfig::from(
      [&](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
}

TEST(RuntimeConfig, EverythingIsOffByDefaultAsInOssTorch) {
  RuntimeConfig c = with({});
  EXPECT_FALSE(c.caching_module_enabled);
  EXPECT_FALSE(c.force_disable_caches);
  EXPECT_FALSE(c.dump_memoizer_cache);
  EXPECT_FALSE(c.cache_dump_file_path);
}

TEST(RuntimeConfig, OnlyTheTextOneEnables) {
  EXPECT_TRUE(with({{"TORCHINDUCTOR_ENABLE_CACHING_MODULE", "1"}})
                  .caching_module_enabled);
  for (const char* v : {"0", "true", "yes", ""}) {
    EXPECT_FALSE(with({{"TORCHINDUCTOR_ENABLE_CACHING_MODULE", v}})
                     .caching_module_enabled)
        << v;
    EXPECT_FALSE(
        with({{"TORCHINDUCTOR_DUMP_MEMOIZER_CACHE", v}}).dump_memoizer_cache)
        << v;
  }
  EXPECT_TRUE(
      with({{"TORCHINDUCTOR_DUMP_MEMOIZER_CACHE", "1"}}).dump_memoizer_cache);
  EXPECT_EQ(with({{"TORCHINDUCTOR_CACHE_DUMP_FILE_PATH", "/x/d.json"}})
                .cache_dump_file_path,
            "/x/d.json");
}

TEST(RuntimeConfig, ForceDisableCachesWins) {
  RuntimeConfig c = with({{"TORCHINDUCTOR_ENABLE_CACHING_MODULE", "1"},
                          {"TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1"}});
  EXPECT_TRUE(c.force_disable_caches);
  EXPECT_FALSE(c.caching_module_enabled);
  // torch's config turns any other text into a (truthy) string.
  EXPECT_TRUE(with({{"TORCHINDUCTOR_FORCE_DISABLE_CACHES", "yes"}})
                  .force_disable_caches);
  EXPECT_FALSE(
      with({{"TORCHINDUCTOR_FORCE_DISABLE_CACHES", "0"}}).force_disable_caches);
}

TEST(RuntimeConfig, TheProcessConfigIsReadOnce) {
  ::setenv("TORCHINDUCTOR_ENABLE_CACHING_MODULE", "1", 1);
  const RuntimeConfig& first = runtime_config();
  EXPECT_TRUE(first.caching_module_enabled);
  ::setenv("TORCHINDUCTOR_ENABLE_CACHING_MODULE", "0", 1);
  EXPECT_TRUE(runtime_config().caching_module_enabled);
  EXPECT_EQ(&first, &runtime_config());
  EXPECT_FALSE(RuntimeConfig::from_environment().caching_module_enabled);
}

}  // namespace
}  // namespace cachepack::runtime
