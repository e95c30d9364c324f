#include "backends/remote.h"

#include <mutex>

#include "backends/http_backend.h"
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
    for (const char* scheme : {"http", "https"}) {
      (void)register_backend_scheme(
          scheme,
          std::string(scheme) +
              "://[user:password@]host[:port][/base][?bearer_token_file=..."
              "&insecure=1&ca_file=...]",
          open_http_backend);
    }
  });
}

}  // namespace cachepack
