// A Backend over the Bazel remote-cache HTTP protocol (libcurl), so existing
// Bazel cache servers (bazel-remote, nginx WebDAV, ...) can hold artifacts:
// contents at <base>/cas/<sha256>, the (ns, key) -> content record at
// <base>/ac/<sha256 of ns and key>. See docs/REMOTE.md for the record format.
#ifndef CACHEPACK_BACKENDS_HTTP_BACKEND_H_
#define CACHEPACK_BACKENDS_HTTP_BACKEND_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cachepack/backend.h"
#include "cachepack/url.h"

namespace cachepack {

struct HttpOptions {
  std::string base_url;  // scheme://host[:port][/path], no userinfo, no '/'.
  std::string user;      // Basic auth when non-empty.
  std::string password;
  std::string bearer_token;  // "Authorization: Bearer" when non-empty.
  bool verify_tls = true;
  std::string ca_file;  // Extra CA bundle for TLS verification.
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds timeout{60000};  // Whole request.
  // Retries after a 5xx or a connection error, waiting retry_backoff,
  // doubling each time, never past the caller's deadline.
  int retries = 2;
  std::chrono::milliseconds retry_backoff{100};
  // Requests in flight at once in get_many/put_many (HTTP/1.1 has no usable
  // pipelining, so batches go over parallel keep-alive connections).
  size_t parallel = 8;
};

// Parses a URL of HttpBackend::kUrlForm (docs/REMOTE.md); unknown parameters
// are kInvalidArgument, an unreadable token file kNotFound.
Result<HttpOptions> http_options_from_url(const BackendUrl& url);

// One parsed action-cache record.
struct AcRecord {
  std::string ns;
  std::string key;
  std::string sha256_hex;  // Of the content, 64 lowercase hex digits.
  uint64_t size = 0;
};

// The record's bytes: five '\n'-terminated lines
//   cachepack-ac/1
//   ns <base64 of ns>
//   key <base64 of key>
//   sha256 <64 lowercase hex>
//   size <decimal>
std::string encode_ac_record(const AcRecord& record);
// kDataLoss for anything encode_ac_record() would not have written.
Result<AcRecord> decode_ac_record(std::string_view text);
// Hex SHA-256 of "cachepack-ac/1\n", then ns and key each preceded by its
// length as 8 big-endian bytes: distinct (ns, key) pairs never share a name.
std::string ac_digest(std::string_view ns, std::string_view key);

// Thread-safe: concurrent calls run in parallel, each on a curl handle from a
// small pool that keeps its keep-alive connection between calls. Puts of one
// key serialise, so insert-if-absent has one winner per key in this process.
class HttpBackend final : public Backend {
 public:
  // For both schemes, http:// and https://.
  static constexpr std::string_view kUrlForm =
      "http(s)://[user:password@]host[:port][/base][?bearer_token_file=PATH"
      "&bearer_token_env=VAR&insecure=1&ca_file=PATH&connect_timeout_ms=N"
      "&timeout_ms=N&retries=N&retry_backoff_ms=N&parallel=N]";

  HttpBackend(HttpOptions options, std::string url_text);
  ~HttpBackend() override;
  // From a URL of kUrlForm; reads a bearer token file or variable, but does
  // not connect.
  static Result<std::unique_ptr<Backend>> open_url(const BackendUrl& url);

  std::string url() const override { return url_text_; }

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline deadline) override;
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan value,
                      PutMode mode, Deadline deadline) override;
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline deadline) override;
  // DELETE of the ac record; kUnimplemented when the server refuses DELETE.
  // The content stays in cas/, where other keys may share it.
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline deadline) override;
  // The Bazel protocol cannot enumerate: kUnimplemented.
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline deadline) override;
  Result<std::vector<std::string>> do_namespaces(Deadline deadline) override;
  // Batches run on up to `parallel` threads; entries with the same (ns, key)
  // stay on one thread in request order.
  std::vector<Result<std::optional<Bytes>>> do_get_many(
      std::span<const KeyRef> keys, Deadline deadline) override;
  std::vector<Result<bool>> do_put_many(std::span<const PutRequest> requests,
                                        PutMode mode,
                                        Deadline deadline) override;

 private:
  enum class Method { kGet, kHead, kPut, kDelete };
  // Calls run(i) for i in [0, n) on up to options_.parallel threads; indices
  // with equal group_of(i) run in order on one thread.
  void for_each_parallel(size_t n,
                         const std::function<std::string(size_t)>& group_of,
                         const std::function<void(size_t)>& run);
  struct Response {
    long status = 0;
    Bytes body;
  };
  class HandlePool;

  // One request with retries; 401/403 become kPermissionDenied, 5xx and
  // connection failures kUnavailable after the retries. Other statuses are
  // returned for the caller to judge. A body over max_body is kDataLoss.
  Result<Response> request(std::string_view op, Method method,
                           const std::string& path, ByteSpan upload,
                           uint64_t max_body, Deadline deadline,
                           std::string_view key);
  Result<Response> attempt(void* curl, std::string_view op, Method method,
                           const std::string& url, ByteSpan upload,
                           uint64_t max_body, Deadline deadline,
                           std::string_view key, bool* retryable);
  tl::unexpected<Error> unexpected_status(std::string_view op,
                                          std::string_view method,
                                          const std::string& path, long status,
                                          std::string_view key) const;

  const HttpOptions options_;
  const std::string url_text_;
  std::unique_ptr<HandlePool> handles_;
  std::array<std::mutex, 64> put_locks_;  // By the first byte of the digest.
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_HTTP_BACKEND_H_
