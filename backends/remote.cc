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
    (void)register_backend_scheme("redis", std::string(RedisBackend::kUrlForm),
                                  &RedisBackend::open_url);
    for (const char* scheme : {"http", "https"}) {
      (void)register_backend_scheme(scheme, std::string(HttpBackend::kUrlForm),
                                    &HttpBackend::open_url);
    }
  });
}

}  // namespace cachepack
