#include "tools/cli_output.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <streambuf>

#include "tools/commands.h"
#include "util/file.h"

namespace cachepack::cli {
namespace {

// A std::streambuf over descriptor 1 that keeps the first write error and
// drops everything after it.
class StdoutBuffer : public std::streambuf {
 public:
  StdoutBuffer() { setp(buffer_, buffer_ + sizeof buffer_); }

  const std::optional<Error>& error() const { return error_; }
  // The command took the error from flush_stdout() to report it itself.
  bool handed_over = false;

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }

  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n <= epptr() - pptr()) {
      std::copy(s, s + n, pptr());
      pbump(static_cast<int>(n));
      return n;
    }
    // Larger than the room left: write what is buffered, then `s` as is.
    if (!drain() || !write(s, static_cast<size_t>(n))) return 0;
    return n;
  }

  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    size_t n = static_cast<size_t>(pptr() - pbase());
    setp(buffer_, buffer_ + sizeof buffer_);
    return write(buffer_, n);
  }

  bool write(const char* data, size_t n) {
    if (error_) return false;
    auto ok = write_all(STDOUT_FILENO,
                        ByteSpan(reinterpret_cast<const std::byte*>(data), n),
                        kStdoutName);
    if (!ok) error_ = ok.error();
    return ok.has_value();
  }

  char buffer_[1 << 16];
  std::optional<Error> error_;
};

// Never destroyed: static destructors flush std::cout after main returns.
StdoutBuffer& stdout_buffer() {
  static StdoutBuffer* buffer = new StdoutBuffer;
  return *buffer;
}

}  // namespace

void install_stdout() {
  ::signal(SIGPIPE, SIG_IGN);
  std::cout.rdbuf(&stdout_buffer());
}

bool is_closed_stdout(const Error& error) {
  return error.reason() == ErrorReason::kBrokenPipe &&
         error.where().file == kStdoutName;
}

Result<void> flush_stdout() {
  std::cout.flush();
  StdoutBuffer& buffer = stdout_buffer();
  if (!buffer.error()) return {};
  buffer.handed_over = true;
  return tl::unexpected(*buffer.error());
}

int finish_stdout(int exit_code) {
  std::cout.flush();
  StdoutBuffer& buffer = stdout_buffer();
  if (buffer.handed_over) return exit_code;
  std::optional<Error> error = buffer.error();
  // Nothing should print through C stdio, but a library might.
  if (!error && (std::fflush(stdout) != 0 || std::ferror(stdout))) {
    error = io_error("write", kStdoutName, errno).value();
  }
  if (!error || is_closed_stdout(*error)) return exit_code;
  report(*error);
  return kExitFailed;
}

}  // namespace cachepack::cli
