#include "tests/server_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/file.h"

namespace cachepack::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

bool executable_exists(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/cachepack-server-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

uint16_t pick_free_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  if (fd.get() < 0) return 0;
  sockaddr_in addr = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return 0;
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

bool ChildProcess::start(const std::vector<std::string>& argv,
                         const fs::path& log, std::string* error) {
  stop();
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int log_fd =
      ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "cannot open " + log.string() + ": " + std::strerror(errno);
    return false;
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    ::close(log_fd);
    return false;
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return true;
}

void ChildProcess::signal_and_reap(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  auto until = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(5ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool ChildProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

bool ChildProcess::wait_exit(std::chrono::milliseconds timeout, int* status) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < until) {
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) == pid_) {
      pid_ = -1;
      *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  kill_hard();
  return false;
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);  // A paused process cannot act on SIGTERM.
  signal_and_reap(SIGTERM, 5000ms);
}

void ChildProcess::kill_hard() { signal_and_reap(SIGKILL, 5000ms); }

void ChildProcess::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void ChildProcess::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

bool wait_for_reply(ChildProcess& process, uint16_t port,
                    const std::string& probe,
                    const std::vector<std::string>& ready_prefixes,
                    std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until && process.alive()) {
    Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
    timeval tv{0, 200000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
            0 &&
        ::send(fd.get(), probe.data(), probe.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(probe.size())) {
      char buf[64];
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n > 0) {
        std::string_view reply(buf, static_cast<size_t>(n));
        for (const auto& p : ready_prefixes) {
          if (reply.starts_with(p)) return true;
        }
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::unique_ptr<RedisServer> RedisServer::start(
    std::string* error, std::vector<std::string> extra_args) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  if (server->dir_.path().empty()) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  server->extra_args_ = std::move(extra_args);
  server->port_ = pick_free_port();
  if (server->port_ == 0 || !server->launch(error)) return nullptr;
  return server;
}

bool RedisServer::launch(std::string* error) {
  std::vector<std::string> argv = {kRedisServer,
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir().string(),
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--daemonize",
                                   "no"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  if (!process_.start(argv, dir() / "redis.log", error)) return false;
  // A password-protected server answers PING with NOAUTH: up all the same.
  if (!wait_for_reply(process_, port_, "PING\r\n", {"+PONG", "-NOAUTH"}, 10s)) {
    *error = "redis-server did not answer PING on port " +
             std::to_string(port_) + "; log:\n" + log();
    process_.stop();
    return false;
  }
  return true;
}

bool RedisServer::restart(std::string* error) {
  process_.stop();
  return launch(error);
}

std::string RedisServer::url(const std::string& suffix) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + suffix;
}

std::string RedisServer::log() const { return read_file(dir() / "redis.log"); }

std::unique_ptr<NginxServer> NginxServer::start(std::string* error,
                                                NginxOptions options) {
  std::unique_ptr<NginxServer> server(new NginxServer());
  const fs::path& dir = server->dir_.path();
  if (dir.empty()) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  std::error_code ec;
  fs::create_directories(server->data_root(), ec);
  fs::create_directories(dir / "tmp", ec);
  server->port_ = pick_free_port();
  if (server->port_ == 0) {
    *error = "no free port";
    return nullptr;
  }
  if (options.tls) {
    ChildProcess openssl;
    std::vector<std::string> argv = {"/usr/bin/openssl",
                                     "req",
                                     "-x509",
                                     "-newkey",
                                     "rsa:2048",
                                     "-nodes",
                                     "-keyout",
                                     (dir / "key.pem").string(),
                                     "-out",
                                     server->cert_path().string(),
                                     "-days",
                                     "1",
                                     "-subj",
                                     "/CN=127.0.0.1",
                                     "-addext",
                                     "subjectAltName=IP:127.0.0.1"};
    int status = -1;
    if (!openssl.start(argv, dir / "openssl.log", error) ||
        !openssl.wait_exit(30s, &status) || status != 0) {
      *error = "openssl req failed: " + read_file(dir / "openssl.log");
      return nullptr;
    }
    server->tls_ = true;
  }
  if (!options.user.empty() &&
      !write_text(dir / "htpasswd",
                  // nginx reads {PLAIN} entries: no hashing tool needed.
                  options.user + ":{PLAIN}" + options.password + "\n")) {
    *error = "cannot write htpasswd";
    return nullptr;
  }

  std::string conf;
  auto line = [&conf](const std::string& text) { conf += text + "\n"; };
  auto in_dir = [&dir](const char* name) { return (dir / name).string(); };
  // master_process off: one process that neither daemonises nor switches
  // user, so SIGTERM to the pid we hold stops everything.
  line("master_process off;");
  line("daemon off;");
  line("pid " + in_dir("nginx.pid") + ";");
  line("error_log " + in_dir("error.log") + " info;");
  line("events { worker_connections 64; }");
  line("http {");
  line("  access_log " + in_dir("access.log") + ";");
  for (const char* temp :
       {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    line("  " + std::string(temp) + "_temp_path " + in_dir("tmp") + "/" + temp +
         ";");
  }
  line("  default_type application/octet-stream;");
  line("  server {");
  std::string port = std::to_string(server->port_);
  if (server->tls_) {
    line("    listen 127.0.0.1:" + port + " ssl;");
    line("    ssl_certificate " + server->cert_path().string() + ";");
    line("    ssl_certificate_key " + in_dir("key.pem") + ";");
  } else {
    line("    listen 127.0.0.1:" + port + ";");
  }
  line("    root " + server->data_root().string() + ";");
  line("    location / {");
  line("      dav_methods PUT DELETE;");
  line("      create_full_put_path on;");
  line("      client_max_body_size 0;");
  if (!options.user.empty()) {
    line("      auth_basic \"cachepack\";");
    line("      auth_basic_user_file " + in_dir("htpasswd") + ";");
  }
  if (!options.bearer_token.empty()) {
    line("      if ($http_authorization != \"Bearer " + options.bearer_token +
         "\") { return 401; }");
  }
  line("    }");
  line("    location /fail503/ { return 503; }");
  line("    location /nodelete/ {");
  line("      dav_methods PUT;");
  line("      create_full_put_path on;");
  line("    }");
  line("  }");
  line("}");
  if (!write_text(dir / "nginx.conf", conf)) {
    *error = "cannot write nginx.conf";
    return nullptr;
  }
  std::vector<std::string> argv = {kNginx,
                                   "-p",
                                   dir.string(),
                                   "-e",
                                   in_dir("error.log"),
                                   "-c",
                                   in_dir("nginx.conf")};
  if (!server->process_.start(argv, dir / "stderr.log", error)) return nullptr;
  // Plain HTTP to a TLS port still gets an "HTTP/1.1 400" answer.
  if (!wait_for_reply(server->process_, server->port_,
                      "HEAD / HTTP/1.0\r\n\r\n", {"HTTP/"}, 10s)) {
    *error =
        "nginx did not answer on port " + port + "; log:\n" + server->log();
    return nullptr;
  }
  return server;
}

std::string NginxServer::url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(port_) + path;
}

std::string NginxServer::log() const {
  return read_file(dir_.path() / "stderr.log") +
         read_file(dir_.path() / "error.log");
}

}  // namespace cachepack::testing
