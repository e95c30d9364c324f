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
    std::string_view form;
    BackendFactory factory;
  };
  const Entry entries[] = {
      {"mem", MemoryBackend::kUrlForm, &MemoryBackend::open_url},
      {"file", DiskBackend::kUrlForm, &DiskBackend::open_url},
      {"torch", TorchDirBackend::kUrlForm, &TorchDirBackend::open_url},
      {"tiered", TieredBackend::kUrlForm, &TieredBackend::open_url},
  };
  for (const auto& e : entries) {
    CP_TRY(register_backend_scheme(e.scheme, std::string(e.form), e.factory));
  }
  return {};
}

}  // namespace

Result<void> register_builtin_backends() {
  static const Result<void> result = register_all();
  return result;
}

}  // namespace cachepack
