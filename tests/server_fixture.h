// Real servers for backend tests: redis-server and nginx (WebDAV PUT) started
// on a free 127.0.0.1 port inside a fresh temp dir, stopped and cleaned up by
// their destructors. Nothing here ever touches a non-loopback address.
#ifndef CACHEPACK_TESTS_SERVER_FIXTURE_H_
#define CACHEPACK_TESTS_SERVER_FIXTURE_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cachepack::testing {

inline constexpr char kRedisServer[] = "/usr/bin/redis-server";
inline constexpr char kNginx[] = "/usr/sbin/nginx";

bool executable_exists(const std::string& path);

// A directory from mkdtemp under $TEST_TMPDIR (or /tmp), removed with its
// contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A port nobody listened on a moment ago (bind 127.0.0.1:0, read it, close).
uint16_t pick_free_port();

// A child process killed (SIGTERM, then SIGKILL after 5 s) and reaped on
// destruction; it also dies with the test process (PR_SET_PDEATHSIG).
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Runs argv[0] with stdout and stderr appended to `log`. False with a
  // message in *error when fork/exec failed.
  bool start(const std::vector<std::string>& argv,
             const std::filesystem::path& log, std::string* error);
  bool running() const { return pid_ > 0; }
  // False once the process has exited (and reaps it).
  bool alive();
  // Waits for the process to exit by itself; true with its exit status when
  // it did within `timeout` (otherwise it is killed).
  bool wait_exit(std::chrono::milliseconds timeout, int* status);
  // Graceful stop; returns once the process is reaped.
  void stop();
  // SIGKILL, as a crash would.
  void kill_hard();
  void pause();   // SIGSTOP: the process keeps its sockets but never answers.
  void resume();  // SIGCONT.

 private:
  void signal_and_reap(int sig, std::chrono::milliseconds grace);
  pid_t pid_ = -1;
};

// Sends `probe` to 127.0.0.1:port until a reply starting with one of
// `ready_prefixes` arrives, `timeout` passes or `process` exits.
bool wait_for_reply(ChildProcess& process, uint16_t port,
                    const std::string& probe,
                    const std::vector<std::string>& ready_prefixes,
                    std::chrono::milliseconds timeout);

class RedisServer {
 public:
  // extra_args are appended to the command line (e.g. "--requirepass", "pw").
  // nullptr with *error set when the server did not come up.
  static std::unique_ptr<RedisServer> start(
      std::string* error, std::vector<std::string> extra_args = {});

  uint16_t port() const { return port_; }
  // "redis://127.0.0.1:<port>" + suffix.
  std::string url(const std::string& suffix = "") const;
  const std::filesystem::path& dir() const { return dir_.path(); }

  void stop() { process_.stop(); }
  void kill_hard() { process_.kill_hard(); }
  void pause() { process_.pause(); }
  void resume() { process_.resume(); }
  // Starts again on the same port and directory.
  bool restart(std::string* error);
  std::string log() const;

 private:
  RedisServer() = default;
  bool launch(std::string* error);

  TempDir dir_;
  uint16_t port_ = 0;
  std::vector<std::string> extra_args_;
  ChildProcess process_;
};

struct NginxOptions {
  // When set, every request needs HTTP basic auth with these credentials.
  std::string user;
  std::string password;
  // When set, every request needs "Authorization: Bearer <token>".
  std::string bearer_token;
  // Serve https with a fresh self-signed certificate for 127.0.0.1 (made with
  // /usr/bin/openssl), found at cert_path().
  bool tls = false;
};

// nginx serving <dir>/data with WebDAV PUT and DELETE, as a Bazel HTTP cache.
// Two extra locations help fault tests: /fail503/ answers every request with
// 503, and /nodelete/ accepts PUT but refuses DELETE with 405.
class NginxServer {
 public:
  static std::unique_ptr<NginxServer> start(std::string* error,
                                            NginxOptions options = {});

  uint16_t port() const { return port_; }
  // "http(s)://127.0.0.1:<port>" + path.
  std::string url(const std::string& path = "") const;
  // The self-signed certificate of a tls server (a CA bundle of one).
  std::filesystem::path cert_path() const { return dir_.path() / "cert.pem"; }
  // The document root: <base>/cas/<hash> is data_root()/"<base>/cas/<hash>".
  std::filesystem::path data_root() const { return dir_.path() / "data"; }

  void stop() { process_.stop(); }
  std::string log() const;

 private:
  NginxServer() = default;

  TempDir dir_;
  uint16_t port_ = 0;
  bool tls_ = false;
  ChildProcess process_;
};

}  // namespace cachepack::testing

#endif  // CACHEPACK_TESTS_SERVER_FIXTURE_H_
