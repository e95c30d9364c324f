#include "backends/builtin.h"

#include "backends/disk_backend.h"
#include "backends/memory_backend.h"
#include "backends/tiered_backend.h"
#include "backends/torch_dir_backend.h"
#include "backends/url.h"

namespace cachepack {
namespace {

Result<void> register_all() {
  struct Entry {
    const char* scheme;
    const char* form;
    BackendFactory factory;
  };
  const Entry entries[] = {
      {"mem", "mem://[?max_bytes=N]", &MemoryBackend::open},
      {"file",
       "file:///absolute/path[?fsync=1&lock_timeout_ms=N&temp_max_age_s=N]",
       &DiskBackend::open_url},
      {"torch", "torch:///absolute/cache/dir[?fsync=1&lock_timeout_ms=N]",
       &TorchDirBackend::open_url},
      {"tiered", "tiered://?tiers=URL|URL|...[&write=all|first][&promote=0|1]",
       &TieredBackend::open_url},
  };
  for (const auto& e : entries) {
    CP_TRY(register_backend_scheme(e.scheme, e.form, e.factory));
  }
  return {};
}

}  // namespace

Result<void> register_builtin_backends() {
  static const Result<void> result = register_all();
  return result;
}

}  // namespace cachepack
