#include "backends/http_backend.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <thread>

#include "cachepack/hash.h"
#include "util/sigpipe.h"
#include "util/text.h"

namespace cachepack {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr std::string_view kAcMagic = "cachepack-ac/1";
// An ac record is five short lines; anything much larger is not ours.
constexpr uint64_t kMaxAcRecord = 64 * 1024;

tl::unexpected<Error> bad_url(const BackendUrl& url, std::string why) {
  return bad_backend_url(url, why, HttpBackend::kUrlForm);
}

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t first = 0;
  while (first < s.size() && space(s[first])) ++first;
  return s.substr(first);
}

// Re-escapes a decoded base path for the request URL.
std::string percent_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : path) {
    auto c = static_cast<unsigned char>(ch);
    bool safe = std::isalnum(c) || c == '/' || c == '-' || c == '_' ||
                c == '.' || c == '~';
    if (safe) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

long bounded_ms(milliseconds limit, const Deadline& deadline) {
  auto ms = std::min(limit, duration_cast<milliseconds>(deadline.remaining()));
  return std::max<long>(1, static_cast<long>(ms.count()));
}

std::string_view method_name(int m) {
  static constexpr std::string_view kNames[] = {"GET", "HEAD", "PUT", "DELETE"};
  return kNames[m];
}

struct UploadCursor {
  ByteSpan data;
  size_t pos = 0;
};

size_t read_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* cursor = static_cast<UploadCursor*>(user);
  size_t n = std::min(size * count, cursor->data.size() - cursor->pos);
  std::memcpy(buffer, cursor->data.data() + cursor->pos, n);
  cursor->pos += n;
  return n;
}

struct DownloadSink {
  CURL* handle;
  Bytes* body;
  uint64_t max;
  bool overflow = false;
};

size_t write_download(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<DownloadSink*>(user);
  size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(sink->handle, CURLINFO_RESPONSE_CODE, &status);
  // Error pages (a 404's HTML) are not content: drop them unread.
  if (status < 200 || status >= 300) return n;
  if (sink->body->size() + n > sink->max) {
    sink->overflow = true;
    return 0;  // Makes curl stop with CURLE_WRITE_ERROR.
  }
  auto* p = reinterpret_cast<const std::byte*>(data);
  sink->body->insert(sink->body->end(), p, p + n);
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

// Idle curl handles; each keeps its connection cache, so a handle handed
// out again reuses its keep-alive connection.
class HttpBackend::HandlePool {
 public:
  struct Deleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
  };
  using Handle = std::unique_ptr<CURL, Deleter>;

  // Keeps at most max_idle handles: as many as a batch uses at once; more
  // would only hold sockets open.
  explicit HandlePool(size_t max_idle) : max_idle_(max_idle) {}

  // Lends a handle for one request sequence and takes it back on scope exit.
  class Lease {
   public:
    explicit Lease(HandlePool& pool) : pool_(pool), handle_(pool.take()) {}
    ~Lease() { pool_.give_back(std::move(handle_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    CURL* get() const { return handle_.get(); }

   private:
    HandlePool& pool_;
    Handle handle_;
  };

 private:
  Handle take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        Handle h = std::move(idle_.back());
        idle_.pop_back();
        return h;
      }
    }
    return Handle(curl_easy_init());
  }
  void give_back(Handle h) {
    if (!h) return;
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(h));
  }

  const size_t max_idle_;
  std::mutex mutex_;
  std::vector<Handle> idle_;
};

Result<HttpOptions> http_options_from_url(const BackendUrl& url) {
  HttpOptions o;
  if (url.host.empty()) return bad_url(url, "no host");
  std::string host =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  std::string path = url.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  o.base_url = url.scheme + "://" + host +
               (url.port ? ":" + std::to_string(*url.port) : "") +
               percent_encode_path(path);
  o.user = url.user;
  o.password = url.password;
  for (const auto& [name, value] : url.query) {
    if (name == "bearer_token_file") {
      std::ifstream in(value, std::ios::binary);
      if (!in) {
        return make_error(ErrorCode::kNotFound, "bearer_token_file \"" + value +
                                                    "\" of backend URL \"" +
                                                    url.text +
                                                    "\" cannot be read");
      }
      std::stringstream s;
      s << in.rdbuf();
      o.bearer_token = trim(s.str());
    } else if (name == "bearer_token_env") {
      const char* token = std::getenv(value.c_str());
      if (token == nullptr || *token == '\0') {
        return make_error(ErrorCode::kNotFound,
                          "environment variable " + value +
                              " named by bearer_token_env of backend URL \"" +
                              url.text + "\" is not set");
      }
      o.bearer_token = trim(token);
    } else if (name == "insecure") {
      if (value != "0" && value != "1") {
        return bad_url(url, "insecure must be 0 or 1");
      }
      o.verify_tls = value == "0";
    } else if (name == "ca_file") {
      o.ca_file = value;
    } else if (name == "connect_timeout_ms" || name == "timeout_ms" ||
               name == "retry_backoff_ms" || name == "retries" ||
               name == "parallel") {
      CP_ASSIGN_OR_RETURN(
          auto v, parse_url_uint(url, name, value, HttpBackend::kUrlForm));
      if (name == "connect_timeout_ms") o.connect_timeout = milliseconds(v);
      if (name == "timeout_ms") o.timeout = milliseconds(v);
      if (name == "retry_backoff_ms") o.retry_backoff = milliseconds(v);
      if (name == "parallel") {
        if (v < 1 || v > 64) return bad_url(url, "parallel must be 1 to 64");
        o.parallel = v;
      }
      if (name == "retries") {
        if (v > 10) return bad_url(url, "retries must be at most 10");
        o.retries = static_cast<int>(v);
      }
    } else {
      return bad_url(url, "unknown parameter \"" + name + "\"");
    }
  }
  if (o.bearer_token.find_first_of("\r\n") != std::string::npos) {
    return bad_url(url, "the bearer token contains a line break");
  }
  return o;
}

Result<std::unique_ptr<Backend>> HttpBackend::open_url(const BackendUrl& url) {
  CP_ASSIGN_OR_RETURN(auto options, http_options_from_url(url));
  return std::make_unique<HttpBackend>(std::move(options), url.text);
}

std::string encode_ac_record(const AcRecord& r) {
  std::string out(kAcMagic);
  out += "\nns " + base64_encode(as_bytes(r.ns));
  out += "\nkey " + base64_encode(as_bytes(r.key));
  out += "\nsha256 " + r.sha256_hex;
  out += "\nsize " + std::to_string(r.size) + "\n";
  return out;
}

Result<AcRecord> decode_ac_record(std::string_view text) {
  auto fail = [](std::string why) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidContent,
                      "ac record: " + why);
  };
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return fail("last line not terminated");
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  if (lines.size() != 5 || lines[0] != kAcMagic) {
    return fail("not a cachepack-ac/1 record of five lines");
  }
  auto field = [&](size_t i, std::string_view name) -> std::string_view {
    std::string_view line = lines[i];
    if (!line.starts_with(name) || line.size() <= name.size() ||
        line[name.size()] != ' ') {
      return std::string_view(nullptr, 0);
    }
    return line.substr(name.size() + 1);
  };
  AcRecord r;
  auto ns = base64_decode_strict(field(1, "ns"));
  auto key = base64_decode_strict(field(2, "key"));
  if (!lines[1].starts_with("ns ") || !ns) return fail("bad ns line");
  if (!lines[2].starts_with("key ") || !key) return fail("bad key line");
  r.ns = std::move(*ns);
  r.key = std::move(*key);
  std::string_view sha = field(3, "sha256");
  if (sha.size() != 64 || !is_lower_hex(sha)) return fail("bad sha256 line");
  r.sha256_hex = std::string(sha);
  std::string_view size = field(4, "size");
  auto [end, ec] =
      std::from_chars(size.data(), size.data() + size.size(), r.size);
  if (size.empty() || ec != std::errc() || end != size.data() + size.size()) {
    return fail("bad size line");
  }
  return r;
}

std::string ac_digest(std::string_view ns, std::string_view key) {
  Sha256 h;
  h.update(as_bytes(kAcMagic));
  h.update(as_bytes("\n"));
  std::byte len[8];
  encode_fixed64_be(len, ns.size());
  h.update(len);
  h.update(as_bytes(ns));
  encode_fixed64_be(len, key.size());
  h.update(len);
  h.update(as_bytes(key));
  return to_hex(h.finish());
}

HttpBackend::HttpBackend(HttpOptions options, std::string url_text)
    : options_(std::move(options)), url_text_(std::move(url_text)) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  handles_ = std::make_unique<HandlePool>(options_.parallel);
}

HttpBackend::~HttpBackend() = default;

tl::unexpected<Error> HttpBackend::unexpected_status(
    std::string_view op, std::string_view method, const std::string& path,
    long status, std::string_view key) const {
  ErrorCode code = ErrorCode::kInternal;
  if (status == 400 || status == 414) code = ErrorCode::kInvalidArgument;
  if (status == 413 || status == 507) code = ErrorCode::kResourceExhausted;
  if (status == 405 || status == 501) code = ErrorCode::kUnimplemented;
  return backend_error(code, op,
                       std::string(method) + " " + options_.base_url + path +
                           ": unexpected HTTP " + std::to_string(status),
                       key);
}

Result<HttpBackend::Response> HttpBackend::attempt(
    void* curl, std::string_view op, Method method, const std::string& url,
    ByteSpan upload, uint64_t max_body, Deadline deadline, std::string_view key,
    bool* retryable) {
  *retryable = false;
  CURL* h = static_cast<CURL*>(curl);
  std::string_view verb = method_name(static_cast<int>(method));
  if (h == nullptr) {
    return backend_error(ErrorCode::kResourceExhausted, op,
                         "curl_easy_init failed", key);
  }
  // Reset options but keep the connection cache: keep-alive across calls.
  curl_easy_reset(h);
  Response response;
  DownloadSink sink{h, &response.body, max_body};
  UploadCursor cursor{upload, 0};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  // Large PUTs would otherwise wait for "100 Continue" first.
  add_header("Expect:");
  if (!options_.bearer_token.empty()) {
    add_header("Authorization: Bearer " + options_.bearer_token);
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   bounded_ms(options_.connect_timeout, deadline));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   bounded_ms(options_.timeout, deadline));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_download);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  if (!options_.user.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
  }
  if (!options_.verify_tls) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  switch (method) {
    case Method::kGet:
      break;
    case Method::kHead:
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
      break;
    case Method::kPut:
      add_header("Content-Type: application/octet-stream");
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
      curl_easy_setopt(h, CURLOPT_READDATA, &cursor);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(upload.size()));
      break;
    case Method::kDelete:
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
      break;
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  // Whether a timeout would be the caller's deadline rather than ours.
  bool deadline_binds = deadline.remaining() < options_.timeout;
  // CURLOPT_NOSIGNAL (needed with threads) also stops curl from ignoring
  // SIGPIPE itself; a TLS write to a closed peer must not kill us.
  ScopedSigpipeBlock no_sigpipe;
  CURLcode rc = curl_easy_perform(h);
  std::string what = std::string(verb) + " " + url;
  if (rc != CURLE_OK) {
    ErrorCode code = ErrorCode::kUnavailable;
    std::string why = curl_easy_strerror(rc);
    switch (rc) {
      case CURLE_WRITE_ERROR:
        if (sink.overflow) {
          return backend_error(ErrorCode::kDataLoss, op,
                               what + ": response body larger than the " +
                                   std::to_string(max_body) + " bytes expected",
                               key);
        }
        break;
      case CURLE_OPERATION_TIMEDOUT:
        if (deadline_binds || deadline.expired()) {
          return backend_error(ErrorCode::kDeadlineExceeded, op,
                               what + ": deadline expired (" + why + ")", key);
        }
        *retryable = true;
        break;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        return backend_error(ErrorCode::kPermissionDenied, op,
                             what + ": TLS verification failed (" + why +
                                 "); pass ca_file= or insecure=1",
                             key);
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        code = ErrorCode::kInvalidArgument;
        break;
      case CURLE_OUT_OF_MEMORY:
        code = ErrorCode::kResourceExhausted;
        break;
      default:  // Connection refused, reset, DNS, TLS handshake...
        *retryable = true;
        break;
    }
    return backend_error(code, op, what + ": " + why, key);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status == 401 || response.status == 403) {
    return backend_error(ErrorCode::kPermissionDenied, op,
                         what + ": HTTP " + std::to_string(response.status) +
                             " (check the credentials in the URL or the "
                             "bearer token)",
                         key);
  }
  if (response.status >= 500 && response.status != 501 &&
      response.status != 507) {
    *retryable = true;
    return backend_error(ErrorCode::kUnavailable, op,
                         what + ": HTTP " + std::to_string(response.status),
                         key);
  }
  return response;
}

Result<HttpBackend::Response> HttpBackend::request(
    std::string_view op, Method method, const std::string& path,
    ByteSpan upload, uint64_t max_body, Deadline deadline,
    std::string_view key) {
  std::string url = options_.base_url + path;
  HandlePool::Lease handle(*handles_);
  milliseconds backoff = options_.retry_backoff;
  for (int attempt_no = 0;; ++attempt_no) {
    bool retryable = false;
    auto r = attempt(handle.get(), op, method, url, upload, max_body, deadline,
                     key, &retryable);
    if (r || !retryable || attempt_no >= options_.retries) return r;
    auto wait = std::min<Clock::duration>(backoff, deadline.remaining());
    if (wait < backoff) return r;  // The deadline would pass while waiting.
    std::this_thread::sleep_for(wait);
    backoff *= 2;
  }
}

Result<std::optional<Bytes>> HttpBackend::do_get(std::string_view ns,
                                                 std::string_view key,
                                                 Deadline deadline) {
  std::string ac_path = "/ac/" + ac_digest(ns, key);
  CP_ASSIGN_OR_RETURN(auto ac, request("get", Method::kGet, ac_path, {},
                                       kMaxAcRecord, deadline, key));
  if (ac.status == 404) return std::nullopt;
  if (ac.status != 200) {
    return unexpected_status("get", "GET", ac_path, ac.status, key);
  }
  auto record = decode_ac_record(as_chars(ac.body));
  if (!record || record->ns != ns || record->key != key) {
    return backend_error(ErrorCode::kDataLoss, "get",
                         "GET " + options_.base_url + ac_path + ": " +
                             (record ? "record names another (ns, key)"
                                     : record.error().message()),
                         key);
  }
  std::string cas_path = "/cas/" + record->sha256_hex;
  CP_ASSIGN_OR_RETURN(auto cas, request("get", Method::kGet, cas_path, {},
                                        record->size, deadline, key));
  // Bazel servers evict cas and ac independently: a dangling record is a miss.
  if (cas.status == 404) return std::nullopt;
  if (cas.status != 200) {
    return unexpected_status("get", "GET", cas_path, cas.status, key);
  }
  std::string actual = sha256_hex(cas.body);
  if (cas.body.size() != record->size || actual != record->sha256_hex) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
        "get: GET " + options_.base_url + cas_path + ": content has " +
            std::to_string(cas.body.size()) + " bytes with sha256 " + actual +
            ", the ac record promised " + std::to_string(record->size) +
            " bytes with sha256 " + record->sha256_hex,
        ErrorLocation{.url = url_text_, .key = std::string(key)});
  }
  return std::move(cas.body);
}

Result<bool> HttpBackend::do_put(std::string_view ns, std::string_view key,
                                 ByteSpan value, PutMode mode,
                                 Deadline deadline) {
  std::string digest = ac_digest(ns, key);
  std::string ac_path = "/ac/" + digest;
  std::lock_guard lock(put_locks_[std::stoul(digest.substr(0, 2), nullptr, 16) %
                                  put_locks_.size()]);
  if (mode == PutMode::kInsertIfAbsent) {
    CP_ASSIGN_OR_RETURN(auto head, request("put", Method::kHead, ac_path, {}, 0,
                                           deadline, key));
    if (head.status == 200) return false;
    if (head.status != 404) {
      return unexpected_status("put", "HEAD", ac_path, head.status, key);
    }
  }
  AcRecord record{std::string(ns), std::string(key), sha256_hex(value),
                  value.size()};
  std::string cas_path = "/cas/" + record.sha256_hex;
  CP_ASSIGN_OR_RETURN(
      auto head, request("put", Method::kHead, cas_path, {}, 0, deadline, key));
  if (head.status != 200) {
    CP_ASSIGN_OR_RETURN(auto put, request("put", Method::kPut, cas_path, value,
                                          kMaxAcRecord, deadline, key));
    if (put.status != 200 && put.status != 201 && put.status != 204) {
      return unexpected_status("put", "PUT", cas_path, put.status, key);
    }
  }
  // The record goes last: a reader never finds a record without content.
  std::string text = encode_ac_record(record);
  CP_ASSIGN_OR_RETURN(auto put,
                      request("put", Method::kPut, ac_path, as_bytes(text),
                              kMaxAcRecord, deadline, key));
  if (put.status != 200 && put.status != 201 && put.status != 204) {
    return unexpected_status("put", "PUT", ac_path, put.status, key);
  }
  return true;
}

Result<bool> HttpBackend::do_contains(std::string_view ns, std::string_view key,
                                      Deadline deadline) {
  std::string ac_path = "/ac/" + ac_digest(ns, key);
  CP_ASSIGN_OR_RETURN(auto head, request("contains", Method::kHead, ac_path, {},
                                         0, deadline, key));
  if (head.status == 200) return true;
  if (head.status == 404) return false;
  return unexpected_status("contains", "HEAD", ac_path, head.status, key);
}

Result<bool> HttpBackend::do_remove(std::string_view ns, std::string_view key,
                                    Deadline deadline) {
  std::string ac_path = "/ac/" + ac_digest(ns, key);
  CP_ASSIGN_OR_RETURN(auto del, request("remove", Method::kDelete, ac_path, {},
                                        kMaxAcRecord, deadline, key));
  if (del.status == 200 || del.status == 202 || del.status == 204) {
    return true;
  }
  if (del.status == 404) return false;
  if (del.status == 405 || del.status == 501) {
    return backend_error(ErrorCode::kUnimplemented, "remove",
                         "DELETE " + options_.base_url + ac_path +
                             ": the server does not allow DELETE (HTTP " +
                             std::to_string(del.status) + ")",
                         key);
  }
  return unexpected_status("remove", "DELETE", ac_path, del.status, key);
}

void HttpBackend::for_each_parallel(
    size_t n, const std::function<std::string(size_t)>& group_of,
    const std::function<void(size_t)>& run) {
  // Groups in order of first appearance; each holds its indices in order.
  std::map<std::string, size_t> group_index;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < n; ++i) {
    auto [it, fresh] = group_index.try_emplace(group_of(i), groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t g; (g = next++) < groups.size();) {
      for (size_t i : groups[g]) run(i);
    }
  };
  size_t threads = std::min(options_.parallel, groups.size());
  std::vector<std::jthread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // No more threads: fewer workers, same results.
    }
  }
  worker();  // The calling thread works too.
}

std::vector<Result<std::optional<Bytes>>> HttpBackend::do_get_many(
    std::span<const KeyRef> keys, Deadline deadline) {
  std::vector<Result<std::optional<Bytes>>> out(keys.size(), std::nullopt);
  for_each_parallel(
      keys.size(), [&](size_t i) { return ac_digest(keys[i].ns, keys[i].key); },
      [&](size_t i) { out[i] = do_get(keys[i].ns, keys[i].key, deadline); });
  return out;
}

std::vector<Result<bool>> HttpBackend::do_put_many(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline) {
  std::vector<Result<bool>> out(requests.size(), false);
  for_each_parallel(
      requests.size(),
      [&](size_t i) { return ac_digest(requests[i].ns, requests[i].key); },
      [&](size_t i) {
        const PutRequest& r = requests[i];
        out[i] = do_put(r.ns, r.key, r.value, mode, deadline);
      });
  return out;
}

Result<std::vector<std::string>> HttpBackend::do_list(std::string_view ns,
                                                      Deadline deadline) {
  return backend_error(ErrorCode::kUnimplemented, "list",
                       "the Bazel remote-cache HTTP protocol cannot list "
                       "keys; export from a backend that can (file://, "
                       "redis://) or name the keys");
}

Result<std::vector<std::string>> HttpBackend::do_namespaces(Deadline deadline) {
  return backend_error(ErrorCode::kUnimplemented, "namespaces",
                       "the Bazel remote-cache HTTP protocol cannot list "
                       "namespaces");
}

}  // namespace cachepack
