#include "util/sigpipe.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace cachepack {
namespace {

TEST(ScopedSigpipeBlock, WriteToAClosedPeerFailsWithEpipeInsteadOfKillingUs) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  close(fds[1]);
  {
    ScopedSigpipeBlock guard;
    errno = 0;
    // Without the guard SIGPIPE's default action ends the test binary here.
    EXPECT_EQ(write(fds[0], "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
  }
  // The signal was consumed, not left pending for the old mask to deliver.
  sigset_t pending;
  sigemptyset(&pending);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
  close(fds[0]);
}

}  // namespace
}  // namespace cachepack
