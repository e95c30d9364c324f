// The registration of the backends built into cachepack's local half:
// mem://, file://, torch:// and tiered:// (register_remote_backends.h adds
// the network ones).
#ifndef CACHEPACK_REGISTER_BUILTIN_BACKENDS_H_
#define CACHEPACK_REGISTER_BUILTIN_BACKENDS_H_

#include "cachepack/backend_registry.h"
#include "cachepack/error.h"

namespace cachepack {

// Registers mem, file, torch and tiered with `registry`, each with its
// backend's kUrlForm and open_url. tiered:// opens its inner URLs through
// `registry` (its open function keeps a reference to it; the backends it
// opens do not). kAlreadyExists if one of the schemes is taken; the schemes
// before it stay registered.
Result<void> register_builtin_backends(BackendRegistry& registry);

}  // namespace cachepack

#endif  // CACHEPACK_REGISTER_BUILTIN_BACKENDS_H_
