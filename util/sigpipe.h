// Keeps a write to a socket whose peer has gone from killing the process.
// Client libraries such as hiredis write() without MSG_NOSIGNAL, and a
// library must not change the process's signal dispositions; so SIGPIPE is
// blocked in the calling thread for the scope, and one raised inside it is
// consumed before the old mask comes back (the write itself still fails with
// EPIPE, which the caller turns into a typed error).
#ifndef CACHEPACK_UTIL_SIGPIPE_H_
#define CACHEPACK_UTIL_SIGPIPE_H_

#include <signal.h>

namespace cachepack {

class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;  // Not ours to consume.
};

}  // namespace cachepack

#endif  // CACHEPACK_UTIL_SIGPIPE_H_
