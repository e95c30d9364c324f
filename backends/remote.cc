#include "backends/remote.h"

#include <mutex>

#include "backends/redis_backend.h"
#include "backends/url.h"

namespace cachepack {

void register_remote_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    // kAlreadyExists means someone chose their own implementation: keep it.
    (void)register_backend_scheme(
        "redis",
        "redis://[user:password@]host[:port][/db][?prefix=...&ttl=...]",
        open_redis_backend);
  });
}

}  // namespace cachepack
