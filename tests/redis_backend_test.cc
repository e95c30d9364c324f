// RedisBackend against a real redis-server started by the test on a free
// loopback port: layouts, modes, TTL, AUTH, pipelining, and what happens when
// the server dies, hangs and comes back.
#include "backends/redis_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <future>
#include <thread>
#include <tuple>

#include "cachepack/backend_registry.h"
#include "cachepack/populate.h"
#include "cachepack/register_remote_backends.h"
#include "cachepack/url.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::HasSubstr;

using namespace std::chrono_literals;
using testing::HasError;
using testing::IsOk;
using testing::RedisServer;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// A plain hiredis client, to check what the backend wrote without going
// through it.
class RawClient {
 public:
  RawClient(uint16_t port, const std::string& password = "") {
    ctx_ = redisConnect("127.0.0.1", port);
    if (ctx_ && !password.empty()) run({"AUTH", password});
  }
  ~RawClient() {
    if (ctx_) redisFree(ctx_);
  }
  ReplyPtr run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return ReplyPtr(static_cast<redisReply*>(redisCommandArgv(
        ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }
  // The string stored at `key`, or nullopt when it does not exist.
  std::optional<std::string> get(const std::string& key) {
    auto r = run({"GET", key});
    if (!r || r->type != REDIS_REPLY_STRING) return std::nullopt;
    return std::string(r->str, r->len);
  }
  long long integer(const std::vector<std::string>& args) {
    auto r = run(args);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
  }

 private:
  redisContext* ctx_ = nullptr;
};

Bytes value_of(std::string_view s) { return to_bytes(s); }

std::unique_ptr<RedisBackend> open_redis(const std::string& url) {
  BackendRegistry registry;
  EXPECT_THAT(register_remote_backends(registry), IsOk());
  auto b = registry.open(url);
  EXPECT_THAT(b, IsOk());
  if (!b) return nullptr;
  return std::unique_ptr<RedisBackend>(
      dynamic_cast<RedisBackend*>(b->release()));
}

class RedisBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::executable_exists(testing::kRedisServer)) {
      GTEST_SKIP() << testing::kRedisServer << " is not installed";
    }
    std::string error;
    server_ = RedisServer::start(&error);
    ASSERT_TRUE(server_) << error;
  }

  // Query string shared by most tests: short timeouts so faults show fast.
  std::string url(const std::string& query = "") const {
    return server_->url("?connect_timeout_ms=500&timeout_ms=1000" + query);
  }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisBackendTest, PutThenGetReturnsTheSameBinaryBytes) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  std::string key("k\0ey:with/odd*chars", 19);
  Bytes value = value_of(std::string("\0\1\2payload\xff", 11));
  auto put = b->put("fx_graph", key, value, PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());
  EXPECT_TRUE(*put);
  auto got = b->get("fx_graph", key);
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, value);
  EXPECT_EQ(b->stats().hits, 1u);
  EXPECT_EQ(b->stats().bytes_in, value.size());
  EXPECT_EQ(b->stats().bytes_out, value.size());
}

TEST_F(RedisBackendTest, GetOfAbsentKeyIsAMissNotAnError) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  auto got = b->get("fx_graph", "absent");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(b->stats().misses, 1u);
  EXPECT_EQ(b->stats().errors, 0u);
}

TEST_F(RedisBackendTest, InsertIfAbsentKeepsTheFirstValue) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(
      b->put("ns", "k", value_of("first"), PutMode::kInsertIfAbsent).value());
  auto second = b->put("ns", "k", value_of("second"), PutMode::kInsertIfAbsent);
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
  EXPECT_EQ(b->get("ns", "k").value().value(), value_of("first"));
  EXPECT_EQ(b->stats().puts, 1u);
  EXPECT_EQ(b->stats().puts_skipped, 1u);
}

TEST_F(RedisBackendTest, OverwriteReplacesTheValue) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", value_of("first"), PutMode::kOverwrite));
  auto second = b->put("ns", "k", value_of("second"), PutMode::kOverwrite);
  ASSERT_TRUE(second);
  EXPECT_TRUE(*second);
  EXPECT_EQ(b->get("ns", "k").value().value(), value_of("second"));
}

TEST_F(RedisBackendTest, ContainsAndRemoveSeeOnlyTheirOwnNamespace) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("a", "k", value_of("v"), PutMode::kOverwrite));
  EXPECT_TRUE(b->contains("a", "k").value());
  EXPECT_FALSE(b->contains("b", "k").value());
  EXPECT_FALSE(b->remove("b", "k").value());
  EXPECT_TRUE(b->remove("a", "k").value());
  EXPECT_FALSE(b->contains("a", "k").value());
  EXPECT_FALSE(b->remove("a", "k").value());
  EXPECT_EQ(b->stats().removes, 1u);
}

TEST_F(RedisBackendTest, ListAndNamespacesRecoverNamesWithColonsAndBytes) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  std::string odd_ns = "ns:with%colon";
  std::string odd_key("key:\0*?[x]", 10);
  ASSERT_TRUE(b->put(odd_ns, odd_key, value_of("1"), PutMode::kOverwrite));
  ASSERT_TRUE(b->put(odd_ns, "plain", value_of("2"), PutMode::kOverwrite));
  ASSERT_TRUE(b->put("ns", "other", value_of("3"), PutMode::kOverwrite));
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.run({"SET", "not-ours", "x"}));

  auto keys = b->list(odd_ns);
  ASSERT_THAT(keys, IsOk());
  std::sort(keys->begin(), keys->end());
  EXPECT_EQ(*keys, (std::vector<std::string>{odd_key, "plain"}));
  auto names = b->namespaces();
  ASSERT_THAT(names, IsOk());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"ns", odd_ns}));
}

TEST_F(RedisBackendTest, ListWalksEverySCANPage) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  std::vector<std::string> keys;
  std::vector<PutRequest> requests;
  Bytes v = value_of("v");
  for (int i = 0; i < 2500; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) requests.push_back({"ns", k, v});
  for (const auto& r : b->put_many(requests, PutMode::kOverwrite)) {
    ASSERT_TRUE(r);
  }
  auto listed = b->list("ns");
  ASSERT_TRUE(listed);
  std::sort(listed->begin(), listed->end());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(*listed, keys);
}

TEST_F(RedisBackendTest, DefaultLayoutIsPrefixEscapedNamespaceColonKey) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("a:b", "k:1", value_of("v"), PutMode::kOverwrite));
  RawClient raw(server_->port());
  EXPECT_EQ(raw.get("cachepack:a%3Ab:k:1"), "v");
  EXPECT_EQ(b->redis_key("a:b", "k:1").value(), "cachepack:a%3Ab:k:1");

  auto custom = open_redis(url("&prefix=team1/"));
  ASSERT_TRUE(custom);
  ASSERT_TRUE(custom->put("ns", "k", value_of("w"), PutMode::kOverwrite));
  EXPECT_EQ(raw.get("team1/ns:k"), "w");
  EXPECT_EQ(custom->list("ns").value(), std::vector<std::string>{"k"});
  EXPECT_FALSE(b->contains("ns", "k").value());
}

TEST_F(RedisBackendTest, PytorchLayoutWritesTheKeysRemoteCacheReads) {
  auto b = open_redis(url("&layout=pytorch"));
  ASSERT_TRUE(b);
  // A namespace without a PyTorch twin is the cache id, values as given
  // (the per-kernel autotune caches, whose values are plain JSON).
  std::string id(64, 'a');
  ASSERT_TRUE(b->put(id, "k:tag", value_of("{\"num_warps\": 4}"),
                     PutMode::kInsertIfAbsent));
  RawClient raw(server_->port());
  EXPECT_EQ(raw.get("pt2:" + id + "::k:tag:c1"), "{\"num_warps\": 4}");
  EXPECT_EQ(b->list(id).value(), std::vector<std::string>{"k:tag"});
  EXPECT_EQ(b->namespaces().value(), std::vector<std::string>{id});

  // A fixed cache id maps every namespace onto one PyTorch cache, values
  // as given.
  auto fixed =
      open_redis(url("&layout=pytorch&cache_id=autograd-experimental"));
  ASSERT_TRUE(fixed);
  ASSERT_TRUE(
      fixed->put("aot_autograd", "k2", value_of("v"), PutMode::kOverwrite));
  EXPECT_EQ(raw.get("pt2:autograd-experimental::k2:c1"), "v");
  EXPECT_EQ(fixed->list("anything").value(), std::vector<std::string>{"k2"});

  // An id PyTorch's layout cannot represent unambiguously is refused.
  auto bad = b->put("a::b", "k", value_of("v"), PutMode::kOverwrite);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

// The bytes torch 2.13 writes: FxGraphCache._save_graph and
// AOTAutogradCache.save put json.dumps({"data": b64encode(pickle),
// "time_taken_ms": N}), put_remote_code_state json.dumps({"data": ...}).
TEST_F(RedisBackendTest, PytorchLayoutStoresTorchsRemoteCacheJson) {
  auto b = open_redis(url("&layout=pytorch"));
  ASSERT_TRUE(b);
  RawClient raw(server_->port());
  std::string fx = "fabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrs";
  ASSERT_TRUE(
      b->put("inductor", fx, value_of("\x80\x04pickle"), PutMode::kOverwrite));
  EXPECT_EQ(raw.get("pt2:fx-graph-v1::" + fx + ":c1"),
            "{\"data\": \"gARwaWNrbGU=\", \"time_taken_ms\": 0}");
  ASSERT_TRUE(
      b->put("aot_autograd", "aK", value_of("ab"), PutMode::kOverwrite));
  EXPECT_EQ(raw.get("pt2:autograd-experimental::aK:c1"),
            "{\"data\": \"YWI=\", \"time_taken_ms\": 0}");
  ASSERT_TRUE(b->put("pgo", "mast:job:0", value_of("x"), PutMode::kOverwrite));
  EXPECT_EQ(raw.get("pt2:dynamo-pgo::mast:job:0:c1"), "{\"data\": \"eA==\"}");

  // What PyTorch wrote reads back as the artifact: time_taken_ms and any
  // other field ignored, as PyTorch's readers do.
  raw.run({"SET", "pt2:fx-graph-v1::fother:c1",
           "{\"time_taken_ms\": 1234, \"data\": \"cGlja2xl\"}"});
  EXPECT_EQ(b->get("inductor", "fother").value(), value_of("pickle"));
  EXPECT_EQ(b->get("inductor", fx).value(), value_of("\x80\x04pickle"));
  EXPECT_EQ(b->get("pgo", "mast:job:0").value(), value_of("x"));
  auto many = b->get_many(std::vector<KeyRef>{
      {"inductor", fx}, {"aot_autograd", "aK"}, {"inductor", "absent"}});
  ASSERT_EQ(many.size(), 3u);
  EXPECT_EQ(many[0].value(), value_of("\x80\x04pickle"));
  EXPECT_EQ(many[1].value(), value_of("ab"));
  EXPECT_EQ(many[2].value(), std::nullopt);

  // Listing names the types, not the cache ids.
  auto keys = b->list("inductor").value();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{fx, "fother"}));
  EXPECT_EQ(b->namespaces().value(),
            (std::vector<std::string>{"aot_autograd", "inductor", "pgo"}));

  // The cache ids themselves are not namespaces: they would alias the
  // types' entries without the encoding.
  auto alias = b->put("fx-graph-v1", "k", value_of("v"), PutMode::kOverwrite);
  ASSERT_FALSE(alias);
  EXPECT_EQ(alias.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(alias.error().message(), HasSubstr("inductor"));
  EXPECT_EQ(b->list("fx-graph-v1").value(), std::vector<std::string>{});
}

TEST_F(RedisBackendTest, PytorchLayoutValueThatIsNotTorchsJsonIsDataLoss) {
  auto b = open_redis(url("&layout=pytorch"));
  ASSERT_TRUE(b);
  RawClient raw(server_->port());
  for (const char* stored : {"not json", "[1, 2]", "{\"time_taken_ms\": 1}",
                             "{\"data\": 5}", "{\"data\": \"abcde\"}"}) {
    raw.run({"SET", "pt2:fx-graph-v1::fbad:c1", stored});
    auto r = b->get("inductor", "fbad");
    ASSERT_FALSE(r) << stored;
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss) << stored;
    EXPECT_EQ(r.error().where().key, "fbad") << stored;
    EXPECT_THAT(r.error().message(), HasSubstr("pt2:fx-graph-v1::fbad:c1"));
  }
}

TEST_F(RedisBackendTest, TtlMakesEntriesExpire) {
  auto b = open_redis(url("&ttl=1"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", value_of("v"), PutMode::kInsertIfAbsent));
  RawClient raw(server_->port());
  long long ttl_ms = raw.integer({"PTTL", "cachepack:ns:k"});
  EXPECT_GT(ttl_ms, 0);
  EXPECT_LE(ttl_ms, 1000);
  bool gone = false;
  for (int i = 0; i < 60 && !gone; ++i) {
    std::this_thread::sleep_for(50ms);
    gone = !b->contains("ns", "k").value();
  }
  EXPECT_TRUE(gone);
  EXPECT_FALSE(b->get("ns", "k").value().has_value());
}

TEST_F(RedisBackendTest, SelectsTheDatabaseNamedInThePath) {
  auto b = open_redis(server_->url("/3?timeout_ms=1000"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", value_of("in db 3"), PutMode::kOverwrite));
  RawClient raw(server_->port());
  EXPECT_EQ(raw.get("cachepack:ns:k"), std::nullopt);
  ASSERT_TRUE(raw.run({"SELECT", "3"}));
  EXPECT_EQ(raw.get("cachepack:ns:k"), "in db 3");
}

TEST_F(RedisBackendTest, PipelinedBatchOfAThousand) {
  auto b = open_redis(url("&pipeline=128"));
  ASSERT_TRUE(b);
  std::vector<std::string> keys;
  std::vector<Bytes> values;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back("key-" + std::to_string(i));
    values.push_back(value_of("value-" + std::to_string(i * 7)));
  }
  std::vector<PutRequest> puts;
  for (int i = 0; i < 1000; ++i) puts.push_back({"ns", keys[i], values[i]});
  puts[10].ns = "other";  // Stored, but not where the gets below look.
  auto put_results = b->put_many(puts, PutMode::kInsertIfAbsent);
  ASSERT_EQ(put_results.size(), 1000u);
  for (const auto& r : put_results) EXPECT_TRUE(r && *r);

  std::vector<KeyRef> refs;
  for (int i = 0; i < 1000; ++i) refs.push_back({"ns", keys[i]});
  refs.push_back({"ns", "absent"});
  auto got = b->get_many(refs);
  ASSERT_EQ(got.size(), 1001u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_THAT(got[i], IsOk());
    if (i == 10) {
      EXPECT_FALSE(got[i]->has_value());
    } else {
      ASSERT_TRUE(got[i]->has_value());
      EXPECT_EQ(**got[i], values[i]);
    }
  }
  EXPECT_FALSE(got[1000]->has_value());
  EXPECT_EQ(b->stats().puts, 1000u);
  EXPECT_EQ(b->stats().hits, 999u);
  EXPECT_EQ(b->stats().misses, 2u);
  // One connection served every round trip.
  EXPECT_EQ(b->connection_stats().connects, 1u);
}

std::string url_with_userinfo(const RedisServer& server,
                              const std::string& userinfo) {
  return "redis://" + userinfo + "@127.0.0.1:" + std::to_string(server.port()) +
         "?timeout_ms=1000&backoff_ms=10";
}

TEST_F(RedisBackendTest, PasswordAuthAndWrongPasswordIsPermissionDenied) {
  std::string error;
  auto secured = RedisServer::start(&error, {"--requirepass", "s3cret"});
  ASSERT_TRUE(secured) << error;

  auto good = open_redis(url_with_userinfo(*secured, ":s3cret"));
  ASSERT_TRUE(good);
  auto put = good->put("ns", "k", value_of("v"), PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(good->get("ns", "k").value().value(), value_of("v"));

  auto wrong = open_redis(url_with_userinfo(*secured, ":nope"));
  ASSERT_TRUE(wrong);
  auto denied = wrong->get("ns", "k");
  ASSERT_FALSE(denied);
  EXPECT_THAT(denied, HasError(ErrorCode::kPermissionDenied));
  // The message names the server but never the password.
  EXPECT_EQ(denied.error().to_string().find("nope"), std::string::npos);
  EXPECT_EQ(wrong->stats().errors, 1u);

  auto none = open_redis(secured->url("?timeout_ms=1000"));
  ASSERT_TRUE(none);
  auto noauth = none->get("ns", "k");
  ASSERT_FALSE(noauth);
  EXPECT_THAT(noauth, HasError(ErrorCode::kPermissionDenied));
}

TEST_F(RedisBackendTest, AclUserAndPasswordAuthenticate) {
  std::string error;
  auto secured =
      RedisServer::start(&error, {"--user", "alice", "on", ">wonderland", "~*",
                                  "&*", "+@all", "--user", "default", "off"});
  ASSERT_TRUE(secured) << error;
  auto alice = open_redis(url_with_userinfo(*secured, "alice:wonderland"));
  ASSERT_TRUE(alice);
  auto put = alice->put("ns", "k", value_of("v"), PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());
  auto mallory = open_redis(url_with_userinfo(*secured, "alice:guess"));
  ASSERT_TRUE(mallory);
  auto denied = mallory->contains("ns", "k");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(RedisBackendTest, OpeningDoesNotConnectAndADeadServerIsUnavailable) {
  server_->stop();
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  auto start = Clock::now();
  auto got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(got.error().to_string().find("127.0.0.1"), std::string::npos);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(b->stats().errors, 1u);
  EXPECT_EQ(b->connection_stats().connect_failures, 1u);
}

TEST_F(RedisBackendTest, DuringBackOffOperationsFailWithoutConnecting) {
  server_->stop();
  auto b = open_redis(url("&backoff_ms=60000"));
  ASSERT_TRUE(b);
  ASSERT_FALSE(b->get("ns", "k"));
  for (int i = 0; i < 5; ++i) {
    auto r = b->put("ns", "k", value_of("v"), PutMode::kOverwrite);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(r.error().message(), HasSubstr("not retrying"));
  }
  EXPECT_EQ(b->connection_stats().connect_failures, 1u);
  EXPECT_EQ(b->connection_stats().fast_failures, 5u);
  EXPECT_EQ(b->stats().errors, 6u);
}

TEST_F(RedisBackendTest, ServerKilledMidBatchFailsTheRestFastAndTyped) {
  auto b = open_redis(url("&pipeline=16&backoff_ms=50"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "warmup", value_of("v"), PutMode::kOverwrite));
  // 4000 x 64 KiB = 250 MiB: far more than loopback moves before the kill.
  Bytes big(64 * 1024, std::byte{'x'});
  std::vector<std::string> keys;
  for (int i = 0; i < 4000; ++i) keys.push_back("big-" + std::to_string(i));
  std::vector<PutRequest> requests;
  for (const auto& k : keys) requests.push_back({"ns", k, big});

  auto start = Clock::now();
  auto batch = std::async(std::launch::async, [&] {
    return b->put_many(requests, PutMode::kOverwrite);
  });
  RawClient raw(server_->port());
  for (int i = 0; i < 500 && raw.integer({"DBSIZE"}) < 20; ++i) {
    std::this_thread::sleep_for(2ms);
  }
  server_->kill_hard();
  auto results = batch.get();
  auto elapsed = Clock::now() - start;

  ASSERT_EQ(results.size(), requests.size());
  size_t ok = 0, unavailable = 0;
  for (const auto& r : results) {
    if (r) {
      ++ok;
    } else {
      EXPECT_THAT(r, HasError(ErrorCode::kUnavailable));
      unavailable += r.error().code() == ErrorCode::kUnavailable;
    }
  }
  EXPECT_GT(ok, 0u);  // The kill came in the middle, not before the batch.
  EXPECT_GT(unavailable, 0u);
  EXPECT_EQ(ok + unavailable, requests.size());
  EXPECT_LT(elapsed, 10s);  // Generous: the real figure is milliseconds.
  EXPECT_EQ(b->stats().errors, unavailable);
  EXPECT_EQ(b->stats().puts, ok + 1);

  // Every later call fails the same way, fast.
  auto after = Clock::now();
  auto got = b->get("ns", "warmup");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - after, 2s);
}

TEST_F(RedisBackendTest, ReconnectsAfterTheBackOffOnceTheServerIsBack) {
  auto b = open_redis(url("&backoff_ms=100&max_backoff_ms=400"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", value_of("v"), PutMode::kOverwrite));
  server_->stop();
  auto lost = b->get("ns", "k");
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code(), ErrorCode::kUnavailable);
  auto refused = b->get("ns", "k");  // Reconnect attempt, refused.
  ASSERT_FALSE(refused);

  std::string error;
  ASSERT_TRUE(server_->restart(&error)) << error;  // Empty: --save "".
  Result<bool> put = make_error(ErrorCode::kInternal, "not tried");
  for (int i = 0; i < 100 && !put; ++i) {
    std::this_thread::sleep_for(20ms);
    put = b->put("ns", "k", value_of("again"), PutMode::kOverwrite);
  }
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(b->get("ns", "k").value().value(), value_of("again"));
  auto cs = b->connection_stats();
  EXPECT_EQ(cs.connects, 2u);
  EXPECT_EQ(cs.disconnects, 1u);
  EXPECT_GE(cs.connect_failures, 1u);
}

TEST_F(RedisBackendTest, HungServerCostsTheCommandTimeoutNotAHang) {
  auto b = open_redis(server_->url("?timeout_ms=300&backoff_ms=10"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", value_of("v"), PutMode::kOverwrite));
  server_->pause();
  auto start = Clock::now();
  auto got = b->get("ns", "k");
  auto elapsed = Clock::now() - start;
  server_->resume();
  ASSERT_FALSE(got);
  EXPECT_THAT(got, HasError(ErrorCode::kUnavailable));
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(RedisBackendTest, ACallersDeadlineShorterThanTheTimeoutWins) {
  auto b = open_redis(server_->url("?timeout_ms=5000&backoff_ms=10"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", value_of("v"), PutMode::kOverwrite));
  server_->pause();
  auto start = Clock::now();
  auto got = b->get("ns", "k", Deadline::after(200ms));
  auto elapsed = Clock::now() - start;
  server_->resume();
  ASSERT_FALSE(got);
  EXPECT_THAT(got, HasError(ErrorCode::kDeadlineExceeded));
  EXPECT_LT(elapsed, 3s);
}

TEST(RedisUrl, BadUrlsAreRejectedWithTheExpectedForm) {
  BackendRegistry registry;
  EXPECT_THAT(register_remote_backends(registry), IsOk());
  for (const char* bad : {"redis://h:1?ttl=abc", "redis://h:1?layout=flat",
                          "redis://h:1?colour=blue", "redis://h:1/notanumber",
                          "redis://h:1?cache_id=x", "redis://h:1?ttl=0",
                          "redis://:1", "redis://secret@h:1"}) {
    auto b = registry.open(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(b.error().message().find("redis://[user:password@]host"),
              std::string::npos)
        << b.error().message();
  }
}

TEST(RedisUrl, ParsesEveryOption) {
  auto url = parse_backend_url(
      "redis://u:p@example:7000/2?prefix=x:&ttl=60&connect_timeout_ms=5"
      "&timeout_ms=7&backoff_ms=9&max_backoff_ms=90&pipeline=3"
      "&layout=pytorch&cache_id=fx-graph-v1");
  ASSERT_TRUE(url);
  auto o = redis_options_from_url(*url, RedisBackend::kUrlForm);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->host, "example");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->user, "u");
  EXPECT_EQ(o->password, "p");
  EXPECT_EQ(o->db, 2);
  EXPECT_EQ(o->prefix, "x:");
  EXPECT_EQ(o->ttl_seconds, 60u);
  EXPECT_EQ(o->connect_timeout, 5ms);
  EXPECT_EQ(o->command_timeout, 7ms);
  EXPECT_EQ(o->backoff, 9ms);
  EXPECT_EQ(o->max_backoff, 90ms);
  EXPECT_EQ(o->pipeline_depth, 3u);
  EXPECT_EQ(o->layout, RedisLayout::kPytorch);
  EXPECT_EQ(o->cache_id, "fx-graph-v1");
}

std::vector<Artifact> sample_artifacts(size_t n) {
  std::vector<Artifact> out;
  const char* types[] = {"inductor", "aot_autograd", "autotune"};
  for (size_t i = 0; i < n; ++i) {
    std::string body = "content " + std::to_string(i * 31);
    body.resize(100 + i % 900, static_cast<char>('a' + i % 26));
    out.push_back({types[i % 3], "key-" + std::to_string(i), to_bytes(body)});
  }
  return out;
}

std::vector<ArtifactView> views_of(const std::vector<Artifact>& artifacts) {
  std::vector<ArtifactView> views;
  for (const auto& a : artifacts) views.push_back({a.type, a.key, a.content});
  return views;
}

// Whether `a` and `b` hold the same artifacts, in any order (an export
// lists keys in the server's order).
bool same_artifacts(std::vector<Artifact> a, std::vector<Artifact> b) {
  auto by_identity = [](const Artifact& x, const Artifact& y) {
    return std::tie(x.type, x.key) < std::tie(y.type, y.key);
  };
  std::sort(a.begin(), a.end(), by_identity);
  std::sort(b.begin(), b.end(), by_identity);
  return a == b;
}

TEST_F(RedisBackendTest, PopulateThenExportGivesBackTheArtifacts) {
  auto b = open_redis(url());
  ASSERT_TRUE(b);
  auto artifacts = sample_artifacts(600);
  auto views = views_of(artifacts);
  auto report = populate(views, *b);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->stored(), artifacts.size());
  EXPECT_TRUE(report->ok());

  auto again = populate(views, *b);  // Skip-existing: SET NX finds them all.
  ASSERT_TRUE(again);
  EXPECT_EQ(again->skipped(), artifacts.size());

  auto exported = export_artifacts(*b);
  ASSERT_THAT(exported, IsOk());
  EXPECT_TRUE(same_artifacts(std::move(*exported), std::move(artifacts)));
}

// Every type through PyTorch's layout: the translated ones (JSON in Redis)
// and the rest (as given) come back byte for byte.
TEST_F(RedisBackendTest, PytorchLayoutPopulateThenExportGivesBackEveryType) {
  auto b = open_redis(url("&layout=pytorch&pipeline=7"));
  ASSERT_TRUE(b);
  auto artifacts = sample_artifacts(300);
  const char* more[] = {"pgo", "precompile"};
  for (size_t i = 0; i < 20; ++i) {
    artifacts.push_back({more[i % 2], "extra-" + std::to_string(i),
                         to_bytes(std::string(i * 97, '\x80'))});
  }
  auto views = views_of(artifacts);
  auto report = populate(views, *b);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->stored(), artifacts.size());
  RawClient raw(server_->port());
  auto json = raw.get("pt2:fx-graph-v1::key-0:c1");
  ASSERT_TRUE(json);
  EXPECT_TRUE(json->starts_with("{\"data\": \""));
  EXPECT_EQ(raw.get("pt2:autotune::key-2:c1"),
            std::string(as_chars(artifacts[2].content)));

  auto exported = export_artifacts(*b);
  ASSERT_THAT(exported, IsOk());
  EXPECT_TRUE(same_artifacts(std::move(*exported), std::move(artifacts)));
}

// readonly=1 (handled by the registry for every scheme) over a real server:
// nothing is sent for a write.
TEST_F(RedisBackendTest, ReadonlyUrlReadsAndRefusesWrites) {
  auto rw = open_redis(url("&layout=pytorch"));
  ASSERT_TRUE(rw);
  ASSERT_TRUE(rw->put("inductor", "fk", value_of("v"), PutMode::kOverwrite));
  BackendRegistry registry;
  ASSERT_THAT(register_remote_backends(registry), IsOk());
  auto ro = registry.open(url("&layout=pytorch&readonly=1"));
  ASSERT_THAT(ro, IsOk());
  EXPECT_EQ((*ro)->get("inductor", "fk").value(), value_of("v"));
  auto put = (*ro)->put("inductor", "fk", value_of("w"), PutMode::kOverwrite);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(put.error().to_string(), HasSubstr("readonly=1"));
  EXPECT_EQ(rw->get("inductor", "fk").value(), value_of("v"));
}

TEST_F(RedisBackendTest, PopulateIntoADeadServerFailsEveryArtifactFast) {
  server_->stop();
  // A back-off longer than the test, so that one connect attempt is all
  // there is however slow the machine.
  auto b = open_redis(url("&backoff_ms=60000"));
  ASSERT_TRUE(b);
  auto artifacts = sample_artifacts(2000);
  auto views = views_of(artifacts);
  auto start = Clock::now();
  auto report = populate(views, *b);
  ASSERT_THAT(report, IsOk());
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(report->failed(), artifacts.size());
  for (const auto& r : report->artifacts) {
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code(), ErrorCode::kUnavailable);
  }
  EXPECT_EQ(b->connection_stats().connect_failures, 1u);
}

}  // namespace
}  // namespace cachepack
