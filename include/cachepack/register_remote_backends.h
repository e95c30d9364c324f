// The registration of the network backends: redis://, redis+cluster:// and
// http(s)://, so a URL naming a remote cache opens like a local one
// (docs/REMOTE.md).
#ifndef CACHEPACK_REGISTER_REMOTE_BACKENDS_H_
#define CACHEPACK_REGISTER_REMOTE_BACKENDS_H_

#include "cachepack/backend_registry.h"
#include "cachepack/error.h"

namespace cachepack {

// Registers redis, redis+cluster, http and https with `registry`, each with its
// backend's kUrlForm and open_url. kAlreadyExists if one of the schemes is
// taken (register your own implementation instead of calling this); the schemes
// before it stay registered.
Result<void> register_remote_backends(BackendRegistry& registry);

}  // namespace cachepack

#endif  // CACHEPACK_REGISTER_REMOTE_BACKENDS_H_
