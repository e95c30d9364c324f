#include "backends/redis_cluster_backend.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <future>
#include <set>

#include "util/sigpipe.h"

namespace cachepack {
namespace {

constexpr size_t kSlots = 16384;
// Redirections followed per entry before giving up (a reshard moves a slot
// once; more means the cluster is unsettled).
constexpr int kMaxRounds = 6;

using std::chrono::duration_cast;
using std::chrono::milliseconds;

uint16_t crc16_xmodem(std::string_view s) {
  uint16_t crc = 0;
  for (char ch : s) {
    crc ^= static_cast<uint16_t>(static_cast<unsigned char>(ch) << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

struct Redirect {
  bool ask = false;
  uint16_t slot = 0;
  std::string addr;  // host:port
};

// RedisBackend reports a MOVED/ASK error reply as "redis replied MOVED
// <slot> <host>:<port>".
std::optional<Redirect> redirect_of(const Error& e) {
  const std::string& m = e.message();
  for (auto [tag, ask] :
       {std::pair{std::string_view("redis replied MOVED "), false},
        std::pair{std::string_view("redis replied ASK "), true}}) {
    size_t at = m.find(tag);
    if (at == std::string::npos) continue;
    std::string_view rest = std::string_view(m).substr(at + tag.size());
    size_t space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    unsigned slot = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + space, slot);
    if (ec != std::errc() || slot >= kSlots) return std::nullopt;
    std::string_view addr = rest.substr(space + 1);
    addr = addr.substr(0, addr.find_first_of(" \r\n"));
    if (addr.empty() || addr.find(':') == std::string_view::npos) {
      return std::nullopt;
    }
    return Redirect{ask, static_cast<uint16_t>(slot), std::string(addr)};
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, uint16_t>> split_addr(
    std::string_view addr, uint16_t default_port) {
  size_t colon = addr.rfind(':');
  std::string host(addr.substr(0, colon));
  if (host.empty()) return std::nullopt;
  if (colon == std::string_view::npos) return std::pair{host, default_port};
  std::string_view digits = addr.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc() ||
      end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return std::pair{host, static_cast<uint16_t>(port)};
}

timeval to_timeval(milliseconds ms) {
  ms = std::max(ms, milliseconds(1));
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};

// CLUSTER SLOTS from one node: (first, last, "host:port" of the master).
Result<std::vector<std::tuple<size_t, size_t, std::string>>> fetch_slots(
    const std::string& host, uint16_t port, const RedisOptions& o,
    Deadline deadline) {
  ScopedSigpipeBlock no_sigpipe;
  std::string where = host + ":" + std::to_string(port);
  auto fail = [&](std::string why) {
    return make_error(deadline.expired() ? ErrorCode::kDeadlineExceeded
                                         : ErrorCode::kUnavailable,
                      "CLUSTER SLOTS from " + where + ": " + why);
  };
  auto bound = [&](milliseconds limit) {
    return std::min(limit, duration_cast<milliseconds>(deadline.remaining()));
  };
  std::unique_ptr<redisContext, ContextDeleter> ctx(redisConnectWithTimeout(
      host.c_str(), port, to_timeval(bound(o.connect_timeout))));
  if (!ctx) return fail("out of memory");
  if (ctx->err) return fail(ctx->errstr);
  redisSetTimeout(ctx.get(), to_timeval(bound(o.command_timeout)));
  auto command = [&](std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return std::unique_ptr<redisReply, ReplyDeleter>(static_cast<redisReply*>(
        redisCommandArgv(ctx.get(), static_cast<int>(argv.size()), argv.data(),
                         lens.data())));
  };
  if (!o.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!o.user.empty()) auth.push_back(o.user);
    auth.push_back(o.password);
    auto r = command(auth);
    if (!r) return fail(ctx->errstr);
    if (r->type == REDIS_REPLY_ERROR) {
      return make_error(
          ErrorCode::kPermissionDenied,
          "AUTH refused by " + where + ": " + std::string(r->str, r->len));
    }
  }
  auto r = command({"CLUSTER", "SLOTS"});
  if (!r) return fail(ctx->errstr);
  if (r->type == REDIS_REPLY_ERROR) {
    return fail("replied " + std::string(r->str, r->len));
  }
  if (r->type != REDIS_REPLY_ARRAY) return fail("not an array");
  std::vector<std::tuple<size_t, size_t, std::string>> out;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER ||
        e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY ||
        e->element[2]->elements < 2 ||
        e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
        e->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
      return fail("malformed reply");
    }
    long long first = e->element[0]->integer, last = e->element[1]->integer;
    if (first < 0 || last < first || last >= static_cast<long long>(kSlots)) {
      return fail("slot range out of bounds");
    }
    const redisReply* master = e->element[2];
    std::string mhost(master->element[0]->str, master->element[0]->len);
    if (mhost.empty()) mhost = host;  // "Unknown endpoint": the node asked.
    out.emplace_back(static_cast<size_t>(first), static_cast<size_t>(last),
                     mhost + ":" + std::to_string(master->element[1]->integer));
  }
  return out;
}

}  // namespace

uint16_t redis_cluster_slot(std::string_view key) {
  if (size_t open = key.find('{'); open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16_xmodem(key) & (kSlots - 1);
}

RedisClusterBackend::RedisClusterBackend(
    RedisOptions options, std::vector<std::pair<std::string, uint16_t>> seeds,
    std::string url_text)
    : options_(std::move(options)),
      seeds_(std::move(seeds)),
      url_text_(std::move(url_text)),
      keyer_(options_, url_text_),
      slot_owner_(kSlots) {}

RedisClusterBackend::~RedisClusterBackend() = default;

Result<std::unique_ptr<Backend>> RedisClusterBackend::open_url(
    const BackendUrl& url) {
  CP_ASSIGN_OR_RETURN(auto options, redis_options_from_url(url, kUrlForm));
  if (options.db != 0) {
    return bad_backend_url(url, "a Redis Cluster has only database 0",
                           kUrlForm);
  }
  std::string hosts = url.host;
  if (url.port) hosts += ":" + std::to_string(*url.port);
  std::vector<std::pair<std::string, uint16_t>> seeds;
  size_t start = 0;
  while (start <= hosts.size()) {
    size_t comma = hosts.find(',', start);
    std::string_view one = std::string_view(hosts).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    auto seed = split_addr(one, 6379);
    if (!seed) {
      return bad_backend_url(
          url, "seed \"" + std::string(one) + "\" is not host:port", kUrlForm);
    }
    seeds.push_back(std::move(*seed));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return std::make_unique<RedisClusterBackend>(std::move(options),
                                               std::move(seeds), url.text);
}

RedisClusterStats RedisClusterBackend::cluster_stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

RedisBackend& RedisClusterBackend::node(const std::string& addr) {
  std::lock_guard lock(mutex_);
  auto& slot = nodes_[addr];
  if (!slot) {
    RedisOptions o = options_;
    auto hp = split_addr(addr, 6379);
    if (hp) {
      o.host = hp->first;
      o.port = hp->second;
    }
    slot = std::make_unique<RedisBackend>(std::move(o), "redis://" + addr);
  }
  return *slot;
}

std::vector<std::string> RedisClusterBackend::masters() {
  std::lock_guard lock(mutex_);
  std::set<std::string> out;
  for (const auto& a : slot_owner_) {
    if (!a.empty()) out.insert(a);
  }
  return {out.begin(), out.end()};
}

Result<void> RedisClusterBackend::refresh(Deadline deadline) {
  std::vector<std::pair<std::string, uint16_t>> candidates;
  for (const auto& m : masters()) {
    if (auto hp = split_addr(m, 6379)) candidates.push_back(*hp);
  }
  for (const auto& s : seeds_) {
    if (std::find(candidates.begin(), candidates.end(), s) ==
        candidates.end()) {
      candidates.push_back(s);
    }
  }
  std::optional<Error> last;
  for (const auto& [host, port] : candidates) {
    if (deadline.expired()) break;
    auto slots = fetch_slots(host, port, options_, deadline);
    if (!slots) {
      if (slots.error().code() == ErrorCode::kPermissionDenied) {
        return backend_error(ErrorCode::kPermissionDenied, "topology",
                             slots.error().message());
      }
      last = slots.error();
      continue;
    }
    std::lock_guard lock(mutex_);
    std::fill(slot_owner_.begin(), slot_owner_.end(), std::string());
    for (const auto& [first, last_slot, addr] : *slots) {
      for (size_t s = first; s <= last_slot; ++s) slot_owner_[s] = addr;
    }
    have_topology_ = true;
    ++stats_.topology_refreshes;
    return {};
  }
  ErrorCode code = deadline.expired() ? ErrorCode::kDeadlineExceeded
                                      : ErrorCode::kUnavailable;
  return backend_error(code, "topology",
                       "no cluster node answered: " +
                           (last ? last->message() : "deadline expired"));
}

Result<void> RedisClusterBackend::ensure_topology(Deadline deadline) {
  {
    std::lock_guard lock(mutex_);
    if (have_topology_) return {};
  }
  return refresh(deadline);
}

// Sends each entry to the master of its slot (or where an ASK pointed),
// one batch per node, the nodes in parallel; follows MOVED (after a
// topology refresh) and ASK, and retries an entry whose node failed when
// the refreshed map gives its slot to another master (a failover).
template <typename Out, typename Call>
std::vector<Out> RedisClusterBackend::routed(
    std::string_view op, const std::vector<std::string>& redis_keys,
    std::vector<Out> out, Deadline deadline, Call call) {
  std::vector<size_t> pending;
  for (size_t i = 0; i < redis_keys.size(); ++i) {
    if (!redis_keys[i].empty()) pending.push_back(i);
  }
  std::map<size_t, std::string> ask_to;
  for (int round = 0; !pending.empty(); ++round) {
    if (round == kMaxRounds) {
      for (size_t i : pending) {
        out[i] = backend_error(ErrorCode::kUnavailable, op,
                               "still redirected after " +
                                   std::to_string(kMaxRounds) +
                                   " attempts (cluster resharding?)");
      }
      break;
    }
    if (auto t = ensure_topology(deadline); !t) {
      for (size_t i : pending) out[i] = tl::unexpected(t.error());
      break;
    }
    // (node, asking) -> entries.
    std::map<std::pair<std::string, bool>, std::vector<size_t>> groups;
    {
      std::lock_guard lock(mutex_);
      for (size_t i : pending) {
        auto ask = ask_to.find(i);
        if (ask != ask_to.end()) {
          groups[{ask->second, true}].push_back(i);
          continue;
        }
        uint16_t slot = redis_cluster_slot(redis_keys[i]);
        if (slot_owner_[slot].empty()) {
          out[i] = backend_error(
              ErrorCode::kUnavailable, op,
              "no master serves hash slot " + std::to_string(slot));
          continue;
        }
        groups[{slot_owner_[slot], false}].push_back(i);
      }
    }
    ask_to.clear();
    std::vector<std::future<std::vector<Out>>> running;
    for (auto& [target, entries] : groups) {
      RedisBackend& n = node(target.first);
      bool asking = target.second;
      const std::vector<size_t>& idx = entries;
      auto job = [&n, &idx, asking, &call] { return call(n, idx, asking); };
      running.push_back(groups.size() == 1
                            ? std::async(std::launch::deferred, job)
                            : std::async(std::launch::async, job));
    }
    std::vector<size_t> next;
    std::vector<std::pair<size_t, std::string>> node_failed;
    bool need_refresh = false;
    size_t g = 0;
    for (auto& [target, entries] : groups) {
      auto results = running[g++].get();
      for (size_t j = 0; j < entries.size(); ++j) {
        size_t i = entries[j];
        auto& r = results[j];
        if (!r) {
          if (auto rd = redirect_of(r.error())) {
            std::lock_guard lock(mutex_);
            if (rd->ask) {
              ask_to[i] = rd->addr;
              ++stats_.ask;
            } else {
              slot_owner_[rd->slot] = rd->addr;
              ++stats_.moved;
              need_refresh = true;
            }
            next.push_back(i);
            continue;
          }
          if (r.error().code() == ErrorCode::kUnavailable ||
              r.error().code() == ErrorCode::kDeadlineExceeded) {
            node_failed.emplace_back(i, target.first);
            need_refresh = true;
          }
        }
        out[i] = std::move(r);
      }
    }
    if (need_refresh && !deadline.expired() && refresh(deadline)) {
      std::lock_guard lock(mutex_);
      for (const auto& [i, addr] : node_failed) {
        const std::string& owner =
            slot_owner_[redis_cluster_slot(redis_keys[i])];
        if (!owner.empty() && owner != addr) next.push_back(i);
      }
    }
    std::sort(next.begin(), next.end());
    pending = std::move(next);
  }
  return out;
}

std::vector<Result<std::optional<Bytes>>> RedisClusterBackend::do_get_many(
    std::span<const KeyRef> keys, Deadline deadline) {
  std::vector<Result<std::optional<Bytes>>> out(keys.size(), std::nullopt);
  std::vector<std::string> redis_keys(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto k = keyer_.redis_key(keys[i].ns, keys[i].key);
    if (k) {
      redis_keys[i] = std::move(*k);
    } else {
      out[i] = tl::unexpected(k.error());
    }
  }
  return routed(
      "get", redis_keys, std::move(out), deadline,
      [&](RedisBackend& n, const std::vector<size_t>& idx, bool asking) {
        std::vector<KeyRef> sub;
        sub.reserve(idx.size());
        for (size_t i : idx) sub.push_back(keys[i]);
        return asking ? n.get_many_asking(sub, deadline)
                      : n.get_many(sub, deadline);
      });
}

std::vector<Result<bool>> RedisClusterBackend::do_put_many(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline) {
  std::vector<Result<bool>> out(requests.size(), false);
  std::vector<std::string> redis_keys(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto k = keyer_.redis_key(requests[i].ns, requests[i].key);
    if (k) {
      redis_keys[i] = std::move(*k);
    } else {
      out[i] = tl::unexpected(k.error());
    }
  }
  return routed(
      "put", redis_keys, std::move(out), deadline,
      [&](RedisBackend& n, const std::vector<size_t>& idx, bool asking) {
        std::vector<PutRequest> sub;
        sub.reserve(idx.size());
        for (size_t i : idx) sub.push_back(requests[i]);
        return asking ? n.put_many_asking(sub, mode, deadline)
                      : n.put_many(sub, mode, deadline);
      });
}

Result<std::optional<Bytes>> RedisClusterBackend::do_get(std::string_view ns,
                                                         std::string_view key,
                                                         Deadline deadline) {
  KeyRef k{ns, key};
  return std::move(do_get_many(std::span(&k, 1), deadline).front());
}

Result<bool> RedisClusterBackend::do_put(std::string_view ns,
                                         std::string_view key, ByteSpan value,
                                         PutMode mode, Deadline deadline) {
  PutRequest r{ns, key, value};
  return std::move(do_put_many(std::span(&r, 1), mode, deadline).front());
}

Result<bool> RedisClusterBackend::do_contains(std::string_view ns,
                                              std::string_view key,
                                              Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto k, keyer_.redis_key(ns, key));
  std::vector<std::string> redis_keys{std::move(k)};
  std::vector<Result<bool>> out(1, false);
  KeyRef ref{ns, key};
  out = routed(
      "contains", redis_keys, std::move(out), deadline,
      [&](RedisBackend& n, const std::vector<size_t>&, bool asking) {
        if (!asking) {
          return std::vector<Result<bool>>{n.contains(ns, key, deadline)};
        }
        auto got = n.get_many_asking(std::span(&ref, 1), deadline);
        std::vector<Result<bool>> r;
        if (got[0]) {
          r.push_back(got[0]->has_value());
        } else {
          r.push_back(tl::unexpected(got[0].error()));
        }
        return r;
      });
  return std::move(out.front());
}

Result<bool> RedisClusterBackend::do_remove(std::string_view ns,
                                            std::string_view key,
                                            Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto k, keyer_.redis_key(ns, key));
  std::vector<std::string> redis_keys{std::move(k)};
  std::vector<Result<bool>> out(1, false);
  out = routed("remove", redis_keys, std::move(out), deadline,
               [&](RedisBackend& n, const std::vector<size_t>&, bool asking) {
                 if (asking) {
                   return std::vector<Result<bool>>{backend_error(
                       ErrorCode::kUnavailable, "remove",
                       "the key's hash slot is being migrated; retry", key)};
                 }
                 return std::vector<Result<bool>>{n.remove(ns, key, deadline)};
               });
  return std::move(out.front());
}

Result<std::vector<std::string>> RedisClusterBackend::do_list(
    std::string_view ns, Deadline deadline) {
  CP_TRY(ensure_topology(deadline));
  std::set<std::string> keys;  // A migrating key may be seen on two nodes.
  for (const auto& m : masters()) {
    CP_ASSIGN_OR_RETURN(auto part, node(m).list(ns, deadline));
    keys.insert(part.begin(), part.end());
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

Result<std::vector<std::string>> RedisClusterBackend::do_namespaces(
    Deadline deadline) {
  CP_TRY(ensure_topology(deadline));
  std::set<std::string> names;
  for (const auto& m : masters()) {
    CP_ASSIGN_OR_RETURN(auto part, node(m).namespaces(deadline));
    names.insert(part.begin(), part.end());
  }
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace cachepack
