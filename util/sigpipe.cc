#include "util/sigpipe.h"

#include <pthread.h>

#include <ctime>

namespace cachepack {
namespace {

sigset_t sigpipe_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

bool sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  was_pending_ = sigpipe_pending();
  sigset_t block = sigpipe_set();
  pthread_sigmask(SIG_BLOCK, &block, &old_mask_);
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  if (!was_pending_ && sigpipe_pending()) {
    sigset_t set = sigpipe_set();
    timespec zero{0, 0};
    sigtimedwait(&set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace cachepack
