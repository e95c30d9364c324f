// One line for a caller that wants every backend cachepack ships:
//   CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
//   CP_ASSIGN_OR_RETURN(auto backend, backends->open(url));
#ifndef CACHEPACK_ALL_BACKENDS_H_
#define CACHEPACK_ALL_BACKENDS_H_

#include <memory>

#include "cachepack/backend_registry.h"
#include "cachepack/error.h"

namespace cachepack {

// A new registry holding the built-in schemes (mem, file, torch, tiered)
// and the remote ones (redis, http, https). More may be registered with it.
Result<std::unique_ptr<BackendRegistry>> registry_with_all_backends();

}  // namespace cachepack

#endif  // CACHEPACK_ALL_BACKENDS_H_
