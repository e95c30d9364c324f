// Registers the URL schemes of the backends built into cachepack's local
// half: mem://, file://, torch:// and tiered://. Remote schemes (redis,
// http, https) register themselves in their own files.
#ifndef CACHEPACK_BACKENDS_BUILTIN_H_
#define CACHEPACK_BACKENDS_BUILTIN_H_

#include "util/error.h"

namespace cachepack {

// Idempotent and thread-safe: the first call registers, later calls return
// the first call's result. Call it before open_backend().
Result<void> register_builtin_backends();

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_BUILTIN_H_
