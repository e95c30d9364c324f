// RedisClusterBackend against a real Redis Cluster started by the test: three
// `redis-server --cluster-enabled yes` masters on loopback joined with
// `redis-cli --cluster create`. Routing across all slots, a reshard while
// batches run, and a master killed in the middle.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "backends/redis_cluster_backend.h"
#include "cachepack/backend_registry.h"
#include "cachepack/register_remote_backends.h"
#include "tests/redis_cluster_fixture.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::RedisServer;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// One plain connection to one node, to look behind the backend.
class Node {
 public:
  explicit Node(uint16_t port) : ctx_(redisConnect("127.0.0.1", port)) {}
  ~Node() {
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
  std::string text(const std::vector<std::string>& args) {
    auto r = run(args);
    return r && r->str ? std::string(r->str, r->len) : "";
  }
  long long integer(const std::vector<std::string>& args) {
    auto r = run(args);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }

 private:
  redisContext* ctx_;
};

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/redis-server") ||
        !std::filesystem::exists(testing::kRedisCli)) {
      GTEST_SKIP() << "redis-server or redis-cli missing (tools/setup.sh)";
    }
    std::string error;
    cluster_ = testing::RedisCluster::start(&error);
    ASSERT_TRUE(cluster_) << error;
  }

  std::string url(const std::string& query = "") const {
    return cluster_->url("connect_timeout_ms=500&timeout_ms=2000" + query);
  }

  std::unique_ptr<RedisClusterBackend> open(const std::string& query = "") {
    BackendRegistry registry;
    EXPECT_THAT(register_remote_backends(registry), IsOk());
    auto b = registry.open(url(query));
    EXPECT_THAT(b, IsOk());
    if (!b) return nullptr;
    return std::unique_ptr<RedisClusterBackend>(
        dynamic_cast<RedisClusterBackend*>(b->release()));
  }

  RedisServer& server(size_t i) { return cluster_->server(i); }
  std::string id(size_t i) { return cluster_->id(i); }

  std::unique_ptr<testing::RedisCluster> cluster_;
};

struct Entries {
  std::vector<std::string> keys, values;
  std::vector<PutRequest> puts() const {
    std::vector<PutRequest> out;
    for (size_t i = 0; i < keys.size(); ++i) {
      out.push_back({"inductor", keys[i], as_bytes(values[i])});
    }
    return out;
  }
  std::vector<KeyRef> refs() const {
    std::vector<KeyRef> out;
    for (const auto& k : keys) out.push_back({"inductor", k});
    return out;
  }
  static ByteSpan as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
  }
};

Entries make_entries(const std::string& tag, size_t n) {
  Entries e;
  for (size_t i = 0; i < n; ++i) {
    e.keys.push_back(tag + "-" + std::to_string(i));
    e.values.push_back("value of " + tag + " " + std::to_string(i * 7919));
  }
  return e;
}

TEST(RedisClusterSlot, IsCrc16OfTheKeyOrItsHashTag) {
  // Vectors from the Redis Cluster specification.
  EXPECT_EQ(redis_cluster_slot("123456789"), 0x31C3 & 16383);
  EXPECT_EQ(redis_cluster_slot("foo"), 12182);
  EXPECT_EQ(redis_cluster_slot("{user1000}.following"),
            redis_cluster_slot("{user1000}.followers"));
  EXPECT_EQ(redis_cluster_slot("{user1000}.following"),
            redis_cluster_slot("user1000"));
  // An empty tag does not count: the whole key is hashed.
  EXPECT_NE(redis_cluster_slot("foo{}{bar}"), redis_cluster_slot("bar"));
  EXPECT_EQ(redis_cluster_slot("foo{{bar}}zap"), redis_cluster_slot("{bar"));
}

TEST_F(RedisClusterTest, PopulatesAndReadsBackAcrossAllMasters) {
  auto b = open();
  ASSERT_TRUE(b);
  auto e = make_entries("k", 3000);
  auto puts = e.puts();
  auto stored = b->put_many(puts, PutMode::kInsertIfAbsent);
  std::set<uint16_t> slots;
  for (size_t i = 0; i < stored.size(); ++i) {
    ASSERT_THAT(stored[i], IsOk()) << e.keys[i];
    EXPECT_TRUE(*stored[i]);
    slots.insert(redis_cluster_slot("cachepack:inductor:" + e.keys[i]));
  }
  EXPECT_GT(slots.size(), 2500u);  // Spread over most of the key space.
  long long total = 0;
  for (size_t m = 0; m < cluster_->size(); ++m) {
    Node n(server(m).port());
    long long size = n.integer({"DBSIZE"});
    EXPECT_GT(size, 500) << "master on port " << server(m).port();
    total += size;
  }
  EXPECT_EQ(total, 3000);

  auto refs = e.refs();
  auto got = b->get_many(refs);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_THAT(got[i], IsOk()) << e.keys[i];
    ASSERT_TRUE(got[i]->has_value()) << e.keys[i];
    EXPECT_EQ(std::string(as_chars(**got[i])), e.values[i]);
  }
  // Insert-if-absent finds every entry; single-key calls route alike.
  auto again = b->put_many(puts, PutMode::kInsertIfAbsent);
  for (auto& r : again) EXPECT_FALSE(r.value());
  EXPECT_TRUE(b->contains("inductor", "k-17").value());
  EXPECT_TRUE(b->remove("inductor", "k-17").value());
  EXPECT_FALSE(b->contains("inductor", "k-17").value());
  EXPECT_EQ(b->get("inductor", "k-17").value(), std::nullopt);

  // list: SCAN on every master.
  auto listed = b->list("inductor");
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->size(), 2999u);
  EXPECT_EQ(b->namespaces().value(), std::vector<std::string>{"inductor"});
  EXPECT_EQ(b->stats().errors, 0u);
  EXPECT_EQ(b->cluster_stats().topology_refreshes, 1u);

  // PyTorch's layout works the same over the cluster.
  auto pt = open("&layout=pytorch");
  ASSERT_TRUE(pt);
  ASSERT_TRUE(pt->put("inductor", "fkey", Entries::as_bytes("pickle"),
                      PutMode::kOverwrite));
  Node n0(server(0).port());
  EXPECT_EQ(n0.integer({"CLUSTER", "KEYSLOT", "pt2:fx-graph-v1::fkey:c1"}),
            redis_cluster_slot("pt2:fx-graph-v1::fkey:c1"));
  EXPECT_EQ(pt->get("inductor", "fkey").value(),
            to_bytes(std::string_view("pickle")));
}

TEST_F(RedisClusterTest, ReshardDuringBatchesIsFollowedWithNothingLost) {
  auto b = open();
  ASSERT_TRUE(b);
  Entries all = make_entries("base", 2000);
  auto first = all.puts();
  for (auto& r : b->put_many(first, PutMode::kOverwrite))
    ASSERT_THAT(r, IsOk());

  std::atomic<bool> done{false};
  int status = -1;
  auto log = server(0).dir() / "reshard.log";
  std::string reshard =
      std::string(testing::kRedisCli) +
      " --cluster reshard 127.0.0.1:" + std::to_string(server(0).port()) +
      " --cluster-from " + id(0) + " --cluster-to " + id(1) +
      " --cluster-slots 3000 --cluster-yes --cluster-pipeline 10";
  std::thread mover([&] {
    status = testing::run_shell(reshard, log);
    done = true;
  });
  // Write and read in batches until the reshard is over (and a few more).
  int rounds = 0;
  size_t errors = 0;
  for (int after = 0; after < 3; rounds++) {
    if (done) ++after;
    Entries more = make_entries("r" + std::to_string(rounds), 100);
    auto puts = more.puts();
    for (auto& r : b->put_many(puts, PutMode::kOverwrite)) {
      if (!r) {
        ++errors;
        ADD_FAILURE() << r.error().to_string();
      }
    }
    all.keys.insert(all.keys.end(), more.keys.begin(), more.keys.end());
    all.values.insert(all.values.end(), more.values.begin(), more.values.end());
    auto refs = all.refs();
    auto got = b->get_many(refs);
    for (size_t i = 0; i < got.size() && errors < 5; ++i) {
      if (!got[i] || !got[i]->has_value() ||
          std::string(as_chars(**got[i])) != all.values[i]) {
        ++errors;
        ADD_FAILURE() << "round " << rounds << " key " << all.keys[i] << ": "
                      << (got[i] ? "wrong or missing value"
                                 : got[i].error().to_string());
      }
    }
    if (rounds > 2000) break;
  }
  mover.join();
  ASSERT_EQ(status, 0) << testing::read_text(log);
  EXPECT_EQ(errors, 0u);
  // The slots moved under the backend: it followed redirections.
  auto cs = b->cluster_stats();
  std::cout << "reshard of 3000 slots: " << rounds << " rounds of batches, "
            << all.keys.size() << " entries, " << cs.moved << " MOVED, "
            << cs.ask << " ASK, " << cs.topology_refreshes
            << " topology refreshes\n";
  EXPECT_GT(cs.moved + cs.ask, 0u);
  EXPECT_GT(cs.topology_refreshes, 1u);
  Node n1(server(1).port());
  EXPECT_GT(n1.integer({"DBSIZE"}), 1000);
  auto listed = b->list("inductor");
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->size(), all.keys.size());
}

TEST_F(RedisClusterTest, KilledMasterFailsItsSlotsTypedWithinTheDeadline) {
  auto b = open();
  ASSERT_TRUE(b);
  Entries e = make_entries("k", 1500);
  auto puts = e.puts();
  for (auto& r : b->put_many(puts, PutMode::kOverwrite)) ASSERT_THAT(r, IsOk());
  // Which keys the third master holds.
  Node n2(server(2).port());
  std::vector<bool> on_dead(e.keys.size());
  size_t dead_count = 0;
  for (size_t i = 0; i < e.keys.size(); ++i) {
    on_dead[i] = n2.integer({"EXISTS", "cachepack:inductor:" + e.keys[i]}) == 1;
    dead_count += on_dead[i];
  }
  ASSERT_GT(dead_count, 200u);

  server(2).kill_hard();
  auto refs = e.refs();
  auto start = Clock::now();
  auto got = b->get_many(refs, Deadline::after(3s));
  auto put_again = b->put_many(puts, PutMode::kOverwrite, Deadline::after(3s));
  auto took = Clock::now() - start;
  std::cout
      << "killed master: get_many + put_many of " << e.keys.size()
      << " entries (" << dead_count << " on it) took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms\n";
  EXPECT_LT(took, 3s);
  for (size_t i = 0; i < e.keys.size(); ++i) {
    if (on_dead[i]) {
      for (const Error* err :
           {got[i] ? nullptr : &got[i].error(),
            put_again[i] ? nullptr : &put_again[i].error()}) {
        ASSERT_NE(err, nullptr) << e.keys[i];
        EXPECT_TRUE(err->code() == ErrorCode::kUnavailable ||
                    err->code() == ErrorCode::kDeadlineExceeded)
            << err->to_string();
        EXPECT_THAT(err->to_string(),
                    HasSubstr(std::to_string(server(2).port())));
      }
    } else {
      ASSERT_THAT(got[i], IsOk()) << e.keys[i];
      EXPECT_EQ(std::string(as_chars(**got[i])), e.values[i]);
      EXPECT_THAT(put_again[i], IsOk()) << e.keys[i];
    }
  }
  // list cannot be complete without that master: an error, not a short list.
  auto listed = b->list("inductor", Deadline::after(3s));
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code(), ErrorCode::kUnavailable);
}

TEST(RedisClusterUrl, SeedsAndMistakes) {
  BackendRegistry registry;
  ASSERT_THAT(register_remote_backends(registry), IsOk());
  EXPECT_THAT(registry.open("redis+cluster://a:1,b,c:3?ttl=5"), IsOk());
  auto bad = registry.open("redis+cluster://a:1,:2");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.error().message(), HasSubstr("redis+cluster://"));
  // Option mistakes quote the cluster's form, not redis://'s.
  auto option = registry.open("redis+cluster://a:1,b:2?tll=5");
  ASSERT_FALSE(option);
  EXPECT_THAT(option.error().message(), HasSubstr("unknown parameter"));
  EXPECT_THAT(option.error().message(),
              HasSubstr(RedisClusterBackend::kUrlForm));
  auto db = registry.open("redis+cluster://a:1/3");
  ASSERT_FALSE(db);
  EXPECT_THAT(db.error().message(), HasSubstr("only database 0"));
  // Nothing answers: kUnavailable for every entry, fast.
  auto dead =
      registry.open("redis+cluster://127.0.0.1:1?connect_timeout_ms=200");
  ASSERT_THAT(dead, IsOk());
  auto r = (*dead)->get("inductor", "k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace cachepack
