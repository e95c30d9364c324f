#include "cachepack/register_remote_backends.h"

#include "backends/http_backend.h"
#include "backends/redis_backend.h"
#include "backends/redis_cluster_backend.h"

namespace cachepack {

Result<void> register_remote_backends(BackendRegistry& registry) {
  CP_TRY(registry.register_scheme("redis", RedisBackend::kUrlForm,
                                  &RedisBackend::open_url));
  CP_TRY(registry.register_scheme("redis+cluster",
                                  RedisClusterBackend::kUrlForm,
                                  &RedisClusterBackend::open_url));
  for (const char* scheme : {"http", "https"}) {
    CP_TRY(registry.register_scheme(scheme, HttpBackend::kUrlForm,
                                    &HttpBackend::open_url));
  }
  return {};
}

}  // namespace cachepack
