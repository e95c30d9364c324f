#include "cachepack/register_builtin_backends.h"

#include "backends/disk_backend.h"
#include "backends/memory_backend.h"
#include "backends/tiered_backend.h"
#include "backends/torch_dir_backend.h"

namespace cachepack {

Result<void> register_builtin_backends(BackendRegistry& registry) {
  CP_TRY(registry.register_scheme("mem", MemoryBackend::kUrlForm,
                                  &MemoryBackend::open_url));
  CP_TRY(registry.register_scheme("file", DiskBackend::kUrlForm,
                                  &DiskBackend::open_url));
  CP_TRY(registry.register_scheme("torch", TorchDirBackend::kUrlForm,
                                  &TorchDirBackend::open_url));
  CP_TRY(registry.register_scheme(
      "tiered", TieredBackend::kUrlForm, [&registry](const BackendUrl& url) {
        return TieredBackend::open_url(url, registry);
      }));
  return {};
}

}  // namespace cachepack
