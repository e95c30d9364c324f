// Registers the network backends (redis://, http://, https://) with
// open_backend(), so a URL naming a remote cache opens like a local one.
#ifndef CACHEPACK_BACKENDS_REMOTE_H_
#define CACHEPACK_BACKENDS_REMOTE_H_

namespace cachepack {

// Idempotent and thread-safe: call it from main() (or a test) before
// open_backend(). A scheme some other code already registered is left as is.
void register_remote_backends();

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_REMOTE_H_
