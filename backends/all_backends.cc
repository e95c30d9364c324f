#include "cachepack/all_backends.h"

#include "cachepack/register_builtin_backends.h"
#include "cachepack/register_remote_backends.h"

namespace cachepack {

Result<std::unique_ptr<BackendRegistry>> registry_with_all_backends() {
  auto registry = std::make_unique<BackendRegistry>();
  CP_TRY(register_builtin_backends(*registry));
  CP_TRY(register_remote_backends(*registry));
  return registry;
}

}  // namespace cachepack
