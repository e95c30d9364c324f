#include "backends/redis_backend.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "util/sigpipe.h"
#include "util/text.h"

namespace cachepack {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

// One command as borrowed arguments (binary-safe, nothing copied until it is
// formatted). Six arguments cover SET key value NX EX ttl and SCAN; a fixed
// array keeps a 10,000-command batch free of per-command allocations.
class Command {
 public:
  static constexpr size_t kMaxArgs = 6;
  Command(std::initializer_list<std::string_view> args) {
    for (auto a : args) push_back(a);
  }
  void push_back(std::string_view a) {
    if (argc_ < kMaxArgs) args_[argc_++] = a;
  }
  std::span<const std::string_view> args() const {
    return {args_.data(), argc_};
  }

 private:
  std::array<std::string_view, kMaxArgs> args_{};
  size_t argc_ = 0;
};

// Appends `cmd` as RESP, the wire form redis reads: "*<argc>\r\n", then
// "$<len>\r\n<bytes>\r\n" per argument.
void append_resp(std::string& out, const Command& cmd) {
  out += '*';
  out += std::to_string(cmd.args().size());
  out += "\r\n";
  for (auto a : cmd.args()) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a.data(), a.size());
    out += "\r\n";
  }
}

constexpr size_t kMaxRetainedWire = 4 << 20;

size_t resp_size_bound(const Command& cmd) {
  size_t n = 16;
  for (auto a : cmd.args()) n += a.size() + 32;
  return n;
}

timeval to_timeval(milliseconds ms) {
  // hiredis treats a zero timeout as "block forever"; never pass one.
  ms = std::max(ms, milliseconds(1));
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

milliseconds bounded(milliseconds limit, const Deadline& deadline) {
  return std::min(limit, duration_cast<milliseconds>(deadline.remaining()));
}

// Namespaces end at the first ':' of a cachepack-layout key, so ':' (and '%'
// to keep the escape reversible, and control bytes for readable keys) are
// percent-escaped; the key itself is stored raw.
std::string escape_ns(std::string_view ns) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : ns) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ':' || c == '%' || c < 0x20 || c == 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<std::string> unescape_ns(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned value = 0;
    auto [end, ec] =
        std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
    if (ec != std::errc() || end != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// SCAN MATCH treats *?[]\ specially; a backslash makes them literal.
std::string glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// PyTorch's layout ends the cache id at the first "::", so an id containing
// "::" or ending in ':' would make two entries share a key.
bool valid_cache_id(std::string_view id) {
  return !id.empty() && id.find("::") == std::string_view::npos &&
         id.back() != ':';
}

// The artifact types whose Mega-Cache entries PyTorch also keeps in a remote
// cache: same key, same pickled bytes, wrapped in the JSON its remote cache
// stores (torch 2.13: codecache.py FxGraphCache._save_graph,
// autograd_cache.py AOTAutogradCache.save, pgo.py put_remote_code_state).
struct PytorchRemoteType {
  std::string_view ns;
  std::string_view cache_id;
  bool time_taken_ms;  // {"data": B64, "time_taken_ms": N} or {"data": B64}.
};
constexpr std::array<PytorchRemoteType, 3> kPytorchRemoteTypes{{
    {"inductor", "fx-graph-v1", true},
    {"aot_autograd", "autograd-experimental", true},
    {"pgo", "dynamo-pgo", false},
}};

const PytorchRemoteType* remote_type_of_ns(std::string_view ns) {
  for (const auto& t : kPytorchRemoteTypes) {
    if (t.ns == ns) return &t;
  }
  return nullptr;
}

const PytorchRemoteType* remote_type_of_cache_id(std::string_view id) {
  for (const auto& t : kPytorchRemoteTypes) {
    if (t.cache_id == id) return &t;
  }
  return nullptr;
}

// What json.dumps() gives for PyTorch's dict (base64 needs no escaping). The
// compile time PyTorch records is not in a Mega-Cache artifact; its readers
// ignore the field, so 0 stands in.
std::string encode_pytorch_value(const PytorchRemoteType& type,
                                 ByteSpan content) {
  std::string out = "{\"data\": \"";
  out += base64_encode(content);
  out += type.time_taken_ms ? "\", \"time_taken_ms\": 0}" : "\"}";
  return out;
}

// PyTorch's reader: json.loads, then base64.b64decode(value["data"]).
Result<Bytes> decode_pytorch_value(std::string_view stored) {
  auto bad = [](std::string why) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "value is not PyTorch's remote-cache JSON "
                      "{\"data\": base64, ...}: " +
                          why);
  };
  auto json = nlohmann::json::parse(stored.begin(), stored.end(), nullptr,
                                    /*allow_exceptions=*/false);
  if (json.is_discarded()) return bad("not JSON");
  if (!json.is_object()) return bad("not a JSON object");
  auto data = json.find("data");
  if (data == json.end() || !data->is_string()) {
    return bad("no string field \"data\"");
  }
  auto decoded = base64_decode_lenient(data->get_ref<const std::string&>());
  if (!decoded) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidBase64,
                      "\"data\" of PyTorch's remote-cache JSON is not base64");
  }
  return to_bytes(*decoded);
}

// With layout=pytorch and no fixed cache id, the type whose namespace `ns`
// is translated to a PyTorch remote cache, else nullptr.
const PytorchRemoteType* translated(const RedisOptions& o,
                                    std::string_view ns) {
  if (o.layout != RedisLayout::kPytorch || o.cache_id) return nullptr;
  return remote_type_of_ns(ns);
}

// A namespace spelled as one of those cache ids would alias the type's
// entries without their encoding.
bool reserved_ns(const RedisOptions& o, std::string_view ns) {
  return o.layout == RedisLayout::kPytorch && !o.cache_id &&
         remote_type_of_cache_id(ns) != nullptr;
}

}  // namespace

struct RedisBackend::Connection {
  ContextPtr ctx;
};

Result<RedisOptions> redis_options_from_url(const BackendUrl& url,
                                            std::string_view form) {
  auto bad_url = [&](const BackendUrl& u, std::string why) {
    return bad_backend_url(u, why, form);
  };
  RedisOptions o;
  if (url.host.empty()) return bad_url(url, "no host");
  o.host = url.host;
  if (url.port) o.port = *url.port;
  o.user = url.user;
  o.password = url.password;
  if (!o.user.empty() && o.password.empty()) {
    // Not redis-py's "secret@host" shorthand: URLs are printed with only the
    // password masked, so a password in the user field would leak.
    return bad_url(url, "user \"" + o.user +
                            "\" has no password; "
                            "write :password@ for password-only AUTH");
  }
  if (!url.path.empty() && url.path != "/") {
    CP_ASSIGN_OR_RETURN(auto db, parse_url_uint(url, "the database number",
                                                url.path.substr(1), form));
    if (db > 1000000) return bad_url(url, "database number out of range");
    o.db = static_cast<int>(db);
  }
  for (const auto& [name, value] : url.query) {
    auto as_ms = [&](std::chrono::milliseconds& field) -> Result<void> {
      CP_ASSIGN_OR_RETURN(auto v, parse_url_uint(url, name, value, form));
      field = std::chrono::milliseconds(v);
      return {};
    };
    Result<void> ok;
    if (name == "prefix") {
      o.prefix = value;
    } else if (name == "ttl") {
      CP_ASSIGN_OR_RETURN(auto v, parse_url_uint(url, name, value, form));
      if (v == 0) return bad_url(url, "ttl must be at least 1 second");
      o.ttl_seconds = v;
    } else if (name == "connect_timeout_ms") {
      ok = as_ms(o.connect_timeout);
    } else if (name == "timeout_ms") {
      ok = as_ms(o.command_timeout);
    } else if (name == "backoff_ms") {
      ok = as_ms(o.backoff);
    } else if (name == "max_backoff_ms") {
      ok = as_ms(o.max_backoff);
    } else if (name == "pipeline") {
      CP_ASSIGN_OR_RETURN(auto v, parse_url_uint(url, name, value, form));
      if (v == 0) return bad_url(url, "pipeline must be at least 1");
      o.pipeline_depth = v;
    } else if (name == "layout") {
      if (value == "cachepack") {
        o.layout = RedisLayout::kCachepack;
      } else if (value == "pytorch") {
        o.layout = RedisLayout::kPytorch;
      } else {
        return bad_url(url, "layout must be cachepack or pytorch");
      }
    } else if (name == "cache_id") {
      if (!valid_cache_id(value)) {
        return bad_url(url,
                       "cache_id must be non-empty, without \"::\" and "
                       "not end in ':'");
      }
      o.cache_id = value;
    } else {
      return bad_url(url, "unknown parameter \"" + name + "\"");
    }
    CP_TRY(ok);
  }
  if (o.cache_id && o.layout != RedisLayout::kPytorch) {
    return bad_url(url, "cache_id needs layout=pytorch");
  }
  if (o.max_backoff < o.backoff) o.max_backoff = o.backoff;
  return o;
}

Result<std::unique_ptr<Backend>> RedisBackend::open_url(const BackendUrl& url) {
  CP_ASSIGN_OR_RETURN(auto options, redis_options_from_url(url, kUrlForm));
  return std::make_unique<RedisBackend>(std::move(options), url.text);
}

RedisBackend::RedisBackend(RedisOptions options, std::string url_text)
    : options_(std::move(options)),
      url_text_(std::move(url_text)),
      prefix_(options_.prefix.value_or(
          options_.layout == RedisLayout::kCachepack ? "cachepack:" : "")),
      current_backoff_(options_.backoff) {}

RedisBackend::~RedisBackend() = default;

RedisConnectionStats RedisBackend::connection_stats() const {
  std::lock_guard lock(mutex_);
  return conn_stats_;
}

Result<std::string> RedisBackend::redis_key(std::string_view ns,
                                            std::string_view key) const {
  if (options_.layout == RedisLayout::kCachepack) {
    std::string out = prefix_ + escape_ns(ns);
    out += ':';
    out += key;
    return out;
  }
  if (reserved_ns(options_, ns)) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
        "namespace \"" + std::string(ns) +
            "\" is the PyTorch cache id of type \"" +
            std::string(remote_type_of_cache_id(ns)->ns) +
            "\"; use that type as the namespace (layout=pytorch encodes its "
            "values as PyTorch does)",
        ErrorLocation{.url = url_text_});
  }
  std::string_view id = options_.cache_id ? *options_.cache_id : ns;
  if (const auto* t = translated(options_, ns)) id = t->cache_id;
  if (!valid_cache_id(id)) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                      "namespace \"" + std::string(ns) +
                          "\" cannot be a PyTorch cache id (empty, contains "
                          "\"::\" or ends in ':')",
                      ErrorLocation{.url = url_text_});
  }
  std::string out = prefix_ + "pt2:";
  out += id;
  out += "::";
  out += key;
  out += ":c1";
  return out;
}

std::optional<std::pair<std::string, std::string>>
RedisBackend::parse_redis_key(std::string_view k) const {
  if (!k.starts_with(prefix_)) return std::nullopt;
  k.remove_prefix(prefix_.size());
  if (options_.layout == RedisLayout::kCachepack) {
    size_t colon = k.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto ns = unescape_ns(k.substr(0, colon));
    if (!ns) return std::nullopt;
    return std::make_pair(*ns, std::string(k.substr(colon + 1)));
  }
  if (!k.starts_with("pt2:") || !k.ends_with(":c1")) return std::nullopt;
  k.remove_prefix(4);
  k.remove_suffix(3);
  size_t sep = k.find("::");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string_view id = k.substr(0, sep);
  if (!options_.cache_id) {
    if (const auto* t = remote_type_of_cache_id(id)) id = t->ns;
  }
  return std::make_pair(std::string(id), std::string(k.substr(sep + 2)));
}

std::string RedisBackend::ns_pattern(std::string_view ns) const {
  if (options_.layout == RedisLayout::kCachepack) {
    return glob_escape(prefix_ + escape_ns(ns) + ":") + "*";
  }
  std::string id(options_.cache_id ? *options_.cache_id : ns);
  if (const auto* t = translated(options_, ns)) id = t->cache_id;
  return glob_escape(prefix_ + "pt2:" + id + "::") + "*:c1";
}

void RedisBackend::drop_connection() {
  if (!conn_) return;
  conn_.reset();
  ++conn_stats_.disconnects;
  // A connection that worked may just have been closed by the server (idle
  // timeout, failover): the next operation may try at once; only failed
  // connects start the back-off.
  next_attempt_ = Clock::now();
}

Result<void> RedisBackend::ensure_connected(std::string_view op,
                                            Deadline deadline) {
  ScopedSigpipeBlock no_sigpipe;  // AUTH/SELECT write to a fresh socket.
  if (conn_ && conn_->ctx && conn_->ctx->err == 0) return {};
  if (conn_) drop_connection();
  auto now = Clock::now();
  if (now < next_attempt_ && last_connect_error_) {
    ++conn_stats_.fast_failures;
    auto wait = duration_cast<milliseconds>(next_attempt_ - now).count();
    Error e = *last_connect_error_;
    return make_error(e.code(), e.reason(),
                      std::string(op) + ": " + e.message() +
                          " (not retrying for another " + std::to_string(wait) +
                          " ms)",
                      e.where());
  }
  std::string where = options_.host + ":" + std::to_string(options_.port);
  auto fail = [&](ErrorCode code, std::string why) -> tl::unexpected<Error> {
    if (code == ErrorCode::kUnavailable && deadline.expired()) {
      code = ErrorCode::kDeadlineExceeded;
    }
    auto e = backend_error(code, "connect", "redis " + where + ": " + why);
    ++conn_stats_.connect_failures;
    last_connect_error_ = e.value();
    next_attempt_ = Clock::now() + current_backoff_;
    current_backoff_ = std::min(current_backoff_ * 2, options_.max_backoff);
    return make_error(e.value().code(), e.value().reason(),
                      std::string(op) + ": " + e.value().message(),
                      e.value().where());
  };
  ContextPtr ctx(redisConnectWithTimeout(
      options_.host.c_str(), options_.port,
      to_timeval(bounded(options_.connect_timeout, deadline))));
  if (!ctx) return fail(ErrorCode::kResourceExhausted, "out of memory");
  if (ctx->err) return fail(ErrorCode::kUnavailable, ctx->errstr);
  redisSetTimeout(ctx.get(),
                  to_timeval(bounded(options_.command_timeout, deadline)));

  auto command = [&](const Command& cmd) -> std::pair<ReplyPtr, std::string> {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto a : cmd.args()) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
        ctx.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!reply) return {nullptr, ctx->errstr};
    return {std::move(reply), ""};
  };
  if (!options_.password.empty()) {
    Command auth{"AUTH"};
    if (!options_.user.empty()) auth.push_back(options_.user);
    auth.push_back(options_.password);
    auto [reply, io] = command(auth);
    if (!reply) return fail(ErrorCode::kUnavailable, "AUTH: " + io);
    if (reply->type == REDIS_REPLY_ERROR) {
      return fail(ErrorCode::kPermissionDenied,
                  "AUTH refused: " + std::string(reply->str, reply->len));
    }
  }
  if (options_.db != 0) {
    std::string db = std::to_string(options_.db);
    auto [reply, io] = command({"SELECT", db});
    if (!reply) return fail(ErrorCode::kUnavailable, "SELECT: " + io);
    if (reply->type == REDIS_REPLY_ERROR) {
      ErrorCode code =
          std::string_view(reply->str, reply->len).starts_with("NOAUTH")
              ? ErrorCode::kPermissionDenied
              : ErrorCode::kInvalidArgument;
      return fail(code, "SELECT " + db +
                            " refused: " + std::string(reply->str, reply->len));
    }
  }
  conn_ = std::make_unique<Connection>();
  conn_->ctx = std::move(ctx);
  ++conn_stats_.connects;
  current_backoff_ = options_.backoff;
  last_connect_error_.reset();
  return {};
}

// Sends commands as pipelined round trips over the backend's connection and
// collects one reply per command. A broken connection fails every command
// still waiting for a reply with the same error, without reconnecting in the
// middle of a batch.
class RedisBackend::Pipeline {
 public:
  Pipeline(RedisBackend& backend, std::string_view op, Deadline deadline)
      : b_(backend), op_(op), deadline_(deadline) {}

  std::vector<Result<ReplyPtr>> run(std::span<const Command> commands) {
    ScopedSigpipeBlock no_sigpipe;  // A dead server must not kill us.
    std::vector<Result<ReplyPtr>> out;
    out.reserve(commands.size());
    size_t depth = b_.options_.pipeline_depth;
    for (size_t start = 0; start < commands.size(); start += depth) {
      size_t end = std::min(commands.size(), start + depth);
      if (broken_) {
        for (size_t i = start; i < end; ++i) out.push_back(error());
        continue;
      }
      round_trip(commands.subspan(start, end - start), out);
    }
    return out;
  }

 private:
  tl::unexpected<Error> error() const { return tl::unexpected(*broken_); }

  void round_trip(std::span<const Command> commands,
                  std::vector<Result<ReplyPtr>>& out) {
    if (deadline_.expired()) {
      broken_ = b_.backend_error(ErrorCode::kDeadlineExceeded, op_,
                                 "deadline expired")
                    .value();
      for (size_t i = 0; i < commands.size(); ++i) out.push_back(error());
      return;
    }
    if (auto c = b_.ensure_connected(op_, deadline_); !c) {
      broken_ = c.error();
      for (size_t i = 0; i < commands.size(); ++i) out.push_back(error());
      return;
    }
    redisContext* ctx = b_.conn_->ctx.get();
    auto limit = bounded(b_.options_.command_timeout, deadline_);
    redisSetTimeout(ctx, to_timeval(limit));
    // One formatted buffer per round trip: hiredis copies it once into its
    // output buffer instead of formatting and copying every command.
    size_t bound = 0;
    for (const auto& cmd : commands) bound += resp_size_bound(cmd);
    std::string& wire = b_.wire_;
    wire.clear();
    wire.reserve(bound);
    for (const auto& cmd : commands) append_resp(wire, cmd);
    bool appended =
        redisAppendFormattedCommand(ctx, wire.data(), wire.size()) == REDIS_OK;
    // Keep a modest buffer warm between round trips, not a huge one.
    if (wire.capacity() > kMaxRetainedWire) std::string().swap(wire);
    if (!appended) {
      fail_rest(ctx, limit, 0, commands.size(), out);
      return;
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      void* reply = nullptr;
      errno = 0;
      if (redisGetReply(ctx, &reply) != REDIS_OK || reply == nullptr) {
        fail_rest(ctx, limit, i, commands.size(), out);
        return;
      }
      out.push_back(ReplyPtr(static_cast<redisReply*>(reply)));
    }
  }

  void fail_rest(redisContext* ctx, milliseconds limit, size_t from, size_t to,
                 std::vector<Result<ReplyPtr>>& out) {
    int saved_errno = errno;
    std::string what = ctx->errstr[0] ? ctx->errstr : "unknown I/O error";
    ErrorCode code = ErrorCode::kUnavailable;
    if (ctx->err == REDIS_ERR_EOF) {
      what = "server closed the connection";
    } else if (ctx->err == REDIS_ERR_IO &&
               (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
                what.find("temporarily unavailable") != std::string::npos)) {
      what = "no reply within " + std::to_string(limit.count()) + " ms";
      // The socket timeout was the caller's deadline, not timeout_ms.
      if (limit < b_.options_.command_timeout || deadline_.expired()) {
        code = ErrorCode::kDeadlineExceeded;
      }
    } else if (ctx->err == REDIS_ERR_OOM) {
      code = ErrorCode::kResourceExhausted;
    }
    // The stream position is unknown after any I/O error: never reuse it.
    b_.drop_connection();
    broken_ =
        b_.backend_error(code, op_,
                         "redis " + b_.options_.host + ":" +
                             std::to_string(b_.options_.port) + ": " + what)
            .value();
    for (size_t i = from; i < to; ++i) out.push_back(error());
  }

  RedisBackend& b_;
  std::string_view op_;
  Deadline deadline_;
  std::optional<Error> broken_;
};

namespace {

// An error reply (as opposed to a broken connection) as a typed error.
ErrorCode reply_error_code(std::string_view msg) {
  if (msg.starts_with("NOAUTH") || msg.starts_with("WRONGPASS") ||
      msg.starts_with("NOPERM")) {
    return ErrorCode::kPermissionDenied;
  }
  if (msg.starts_with("LOADING") || msg.starts_with("BUSY") ||
      msg.starts_with("MASTERDOWN") || msg.starts_with("TRYAGAIN") ||
      msg.starts_with("CLUSTERDOWN")) {
    return ErrorCode::kUnavailable;
  }
  if (msg.starts_with("OOM")) return ErrorCode::kResourceExhausted;
  if (msg.starts_with("READONLY")) return ErrorCode::kPermissionDenied;
  if (msg.starts_with("WRONGTYPE")) return ErrorCode::kDataLoss;
  return ErrorCode::kInternal;
}

std::string_view text(const redisReply* r) { return {r->str, r->len}; }

}  // namespace

Result<std::optional<Bytes>> RedisBackend::do_get(std::string_view ns,
                                                  std::string_view key,
                                                  Deadline deadline) {
  KeyRef k{ns, key};
  return std::move(do_get_many(std::span(&k, 1), deadline).front());
}

Result<bool> RedisBackend::do_put(std::string_view ns, std::string_view key,
                                  ByteSpan value, PutMode mode,
                                  Deadline deadline) {
  PutRequest r{ns, key, value};
  return std::move(do_put_many(std::span(&r, 1), mode, deadline).front());
}

std::vector<Result<std::optional<Bytes>>> RedisBackend::do_get_many(
    std::span<const KeyRef> keys, Deadline deadline) {
  return get_many_impl(keys, deadline, /*asking=*/false);
}

std::vector<Result<std::optional<Bytes>>> RedisBackend::get_many_asking(
    std::span<const KeyRef> keys, Deadline deadline) {
  return get_many_impl(keys, deadline, /*asking=*/true);
}

std::vector<Result<bool>> RedisBackend::do_put_many(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline) {
  return put_many_impl(requests, mode, deadline, /*asking=*/false);
}

std::vector<Result<bool>> RedisBackend::put_many_asking(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline) {
  return put_many_impl(requests, mode, deadline, /*asking=*/true);
}

std::vector<Result<std::optional<Bytes>>> RedisBackend::get_many_impl(
    std::span<const KeyRef> keys, Deadline deadline, bool asking) {
  std::vector<Result<std::optional<Bytes>>> out(keys.size(), std::nullopt);
  std::vector<std::string> redis_keys;
  std::vector<size_t> index;  // Command i answers keys[index[i]].
  redis_keys.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto k = redis_key(keys[i].ns, keys[i].key);
    if (!k) {
      out[i] = tl::unexpected(k.error());
      continue;
    }
    redis_keys.push_back(std::move(*k));
    index.push_back(i);
  }
  std::vector<Command> commands;
  commands.reserve(redis_keys.size());
  for (const auto& k : redis_keys) {
    // Redis Cluster: ASKING makes the next command run on a slot being
    // imported (after an ASK redirection).
    if (asking) commands.push_back({"ASKING"});
    commands.push_back({"GET", k});
  }

  std::lock_guard lock(mutex_);
  auto replies = Pipeline(*this, "get", deadline).run(commands);
  const size_t step = asking ? 2 : 1;
  for (size_t c = 0; c < redis_keys.size(); ++c) {
    auto& slot = out[index[c]];
    std::string_view key = keys[index[c]].key;
    auto& reply = replies[c * step + step - 1];
    if (!reply) {
      slot =
          tl::unexpected(std::move(reply).error().with_key(std::string(key)));
      continue;
    }
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_NIL) {
      slot = std::nullopt;
    } else if (r->type == REDIS_REPLY_STRING) {
      if (translated(options_, keys[index[c]].ns)) {
        auto decoded = decode_pytorch_value(text(r));
        if (decoded) {
          slot = std::move(*decoded);
        } else {
          Error e = std::move(decoded).error();
          slot = backend_error(
              e.code(), "get",
              "redis key " + redis_keys[c] + ": " + e.message(), key);
        }
        continue;
      }
      auto* p = reinterpret_cast<const std::byte*>(r->str);
      slot = Bytes(p, p + r->len);
    } else if (r->type == REDIS_REPLY_ERROR) {
      slot = backend_error(reply_error_code(text(r)), "get",
                           "redis replied " + std::string(text(r)), key);
    } else {
      slot = backend_error(ErrorCode::kDataLoss, "get",
                           "redis value is not a string (reply type " +
                               std::to_string(r->type) + ")",
                           key);
    }
  }
  return out;
}

std::vector<Result<bool>> RedisBackend::put_many_impl(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline,
    bool asking) {
  std::vector<Result<bool>> out(requests.size(), false);
  std::vector<std::string> redis_keys;
  std::vector<size_t> index;
  redis_keys.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto k = redis_key(requests[i].ns, requests[i].key);
    if (!k) {
      out[i] = tl::unexpected(k.error());
      continue;
    }
    redis_keys.push_back(std::move(*k));
    index.push_back(i);
  }
  std::string ttl =
      options_.ttl_seconds ? std::to_string(*options_.ttl_seconds) : "";
  // Values of translated types, wrapped as PyTorch stores them; reserved up
  // front so the commands' views stay valid.
  std::vector<std::string> encoded;
  encoded.reserve(redis_keys.size());
  std::vector<Command> commands;
  commands.reserve(redis_keys.size());
  for (size_t c = 0; c < redis_keys.size(); ++c) {
    const PutRequest& req = requests[index[c]];
    std::string_view value = as_chars(req.value);
    if (const auto* t = translated(options_, req.ns)) {
      encoded.push_back(encode_pytorch_value(*t, req.value));
      value = encoded.back();
    }
    Command cmd{"SET", redis_keys[c], value};
    if (mode == PutMode::kInsertIfAbsent) cmd.push_back("NX");
    if (options_.ttl_seconds) {
      cmd.push_back("EX");
      cmd.push_back(ttl);
    }
    if (asking) commands.push_back({"ASKING"});
    commands.push_back(std::move(cmd));
  }

  std::lock_guard lock(mutex_);
  auto replies = Pipeline(*this, "put", deadline).run(commands);
  const size_t step = asking ? 2 : 1;
  for (size_t c = 0; c < redis_keys.size(); ++c) {
    auto& slot = out[index[c]];
    std::string_view key = requests[index[c]].key;
    auto& reply = replies[c * step + step - 1];
    if (!reply) {
      slot =
          tl::unexpected(std::move(reply).error().with_key(std::string(key)));
      continue;
    }
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_STATUS) {
      slot = true;
    } else if (r->type == REDIS_REPLY_NIL) {
      slot = false;  // NX found an entry.
    } else if (r->type == REDIS_REPLY_ERROR) {
      slot = backend_error(reply_error_code(text(r)), "put",
                           "redis replied " + std::string(text(r)), key);
    } else {
      slot = backend_error(ErrorCode::kInternal, "put",
                           "unexpected reply type " + std::to_string(r->type),
                           key);
    }
  }
  return out;
}

Result<bool> RedisBackend::do_contains(std::string_view ns,
                                       std::string_view key,
                                       Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto k, redis_key(ns, key));
  Command cmd{"EXISTS", k};
  std::lock_guard lock(mutex_);
  auto replies = Pipeline(*this, "contains", deadline).run(std::span(&cmd, 1));
  if (!replies[0]) {
    return tl::unexpected(
        std::move(replies[0]).error().with_key(std::string(key)));
  }
  const redisReply* r = replies[0]->get();
  if (r->type == REDIS_REPLY_ERROR) {
    return backend_error(reply_error_code(text(r)), "contains",
                         "redis replied " + std::string(text(r)), key);
  }
  return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
}

Result<bool> RedisBackend::do_remove(std::string_view ns, std::string_view key,
                                     Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto k, redis_key(ns, key));
  Command cmd{"DEL", k};
  std::lock_guard lock(mutex_);
  auto replies = Pipeline(*this, "remove", deadline).run(std::span(&cmd, 1));
  if (!replies[0]) {
    return tl::unexpected(
        std::move(replies[0]).error().with_key(std::string(key)));
  }
  const redisReply* r = replies[0]->get();
  if (r->type == REDIS_REPLY_ERROR) {
    return backend_error(reply_error_code(text(r)), "remove",
                         "redis replied " + std::string(text(r)), key);
  }
  return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
}

Result<std::vector<std::pair<std::string, std::string>>> RedisBackend::scan(
    std::string_view op, const std::string& pattern, Deadline deadline) {
  std::set<std::pair<std::string, std::string>> found;  // SCAN may repeat.
  std::string cursor = "0";
  std::lock_guard lock(mutex_);
  do {
    Command cmd{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
    auto replies = Pipeline(*this, op, deadline).run(std::span(&cmd, 1));
    CP_ASSIGN_OR_RETURN(auto reply, std::move(replies[0]));
    const redisReply* r = reply.get();
    if (r->type == REDIS_REPLY_ERROR) {
      return backend_error(reply_error_code(text(r)), op,
                           "redis replied " + std::string(text(r)), "");
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
      return backend_error(ErrorCode::kInternal, op,
                           "malformed SCAN reply from redis");
    }
    cursor.assign(r->element[0]->str, r->element[0]->len);
    const redisReply* keys = r->element[1];
    for (size_t i = 0; i < keys->elements; ++i) {
      const redisReply* k = keys->element[i];
      if (k->type != REDIS_REPLY_STRING) continue;
      if (auto parsed = parse_redis_key(std::string_view(k->str, k->len))) {
        found.insert(std::move(*parsed));
      }
    }
  } while (cursor != "0");
  return std::vector<std::pair<std::string, std::string>>(found.begin(),
                                                          found.end());
}

Result<std::vector<std::string>> RedisBackend::do_list(std::string_view ns,
                                                       Deadline deadline) {
  if (options_.layout == RedisLayout::kPytorch && !options_.cache_id &&
      (!valid_cache_id(ns) || reserved_ns(options_, ns))) {
    return std::vector<std::string>{};  // No key can be stored under it.
  }
  CP_ASSIGN_OR_RETURN(auto entries, scan("list", ns_pattern(ns), deadline));
  std::vector<std::string> keys;
  for (auto& [entry_ns, key] : entries) {
    // With a fixed cache id every namespace shares one key space.
    if (options_.cache_id || entry_ns == ns) keys.push_back(std::move(key));
  }
  return keys;
}

Result<std::vector<std::string>> RedisBackend::do_namespaces(
    Deadline deadline) {
  std::string pattern = options_.layout == RedisLayout::kCachepack
                            ? glob_escape(prefix_) + "*"
                            : glob_escape(prefix_ + "pt2:") + "*:c1";
  CP_ASSIGN_OR_RETURN(auto entries, scan("namespaces", pattern, deadline));
  std::set<std::string> names;
  for (auto& [entry_ns, key] : entries) {
    if (options_.cache_id && entry_ns != *options_.cache_id) continue;
    names.insert(std::move(entry_ns));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace cachepack
