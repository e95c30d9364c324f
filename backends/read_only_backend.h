// `?readonly=1` on any backend URL (BackendRegistry::open): the backend
// opened from the rest of the URL, behind a wrapper whose reads pass through
// and whose writes (put, put_stream, remove, batches, MultiValued::add_stream,
// Maintainable::gc) fail with kPermissionDenied naming the URL, before
// anything reaches the backend.
#ifndef CACHEPACK_BACKENDS_READ_ONLY_BACKEND_H_
#define CACHEPACK_BACKENDS_READ_ONLY_BACKEND_H_

#include <memory>
#include <string>

#include "backends/maintenance.h"
#include "backends/multi_value.h"
#include "cachepack/backend.h"

namespace cachepack {

// The optional capabilities of `inner` stay visible: a MultiValued backend
// reads all its values, a Maintainable one reports its usage.
std::unique_ptr<Backend> make_read_only(std::unique_ptr<Backend> inner);

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_READ_ONLY_BACKEND_H_
