#include "tests/redis_cluster_fixture.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace cachepack::testing {
namespace {

std::string reply_text(uint16_t port, const std::vector<std::string>& args) {
  redisContext* ctx = redisConnect("127.0.0.1", port);
  std::string out;
  if (ctx && !ctx->err) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(
        ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r && r->str) out.assign(r->str, r->len);
    if (r) freeReplyObject(r);
  }
  if (ctx) redisFree(ctx);
  return out;
}

}  // namespace

int run_shell(const std::string& command, const std::filesystem::path& log) {
  return std::system((command + " >" + log.string() + " 2>&1").c_str());
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<RedisCluster> RedisCluster::start(std::string* error,
                                                  size_t masters) {
  auto cluster = std::unique_ptr<RedisCluster>(new RedisCluster());
  std::string create = std::string(kRedisCli) + " --cluster create";
  for (size_t i = 0; i < masters; ++i) {
    // The bus port is port + 10000 unless given: ephemeral ports are too
    // high for that, so both come from the free pool. Slots of a dead
    // master fail; the others keep working (no full coverage required).
    auto s = RedisServer::start(
        error, {"--cluster-port", std::to_string(pick_free_port()),
                "--cluster-enabled", "yes", "--cluster-config-file",
                "nodes.conf", "--cluster-node-timeout", "3000",
                "--cluster-require-full-coverage", "no"});
    if (!s) return nullptr;
    create += " 127.0.0.1:" + std::to_string(s->port());
    cluster->servers_.push_back(std::move(s));
  }
  auto log = cluster->servers_[0]->dir() / "create.log";
  if (run_shell(create + " --cluster-yes", log) != 0) {
    *error = "redis-cli --cluster create failed: " + read_text(log);
    return nullptr;
  }
  for (int i = 0; i < 200; ++i) {
    bool ok = true;
    for (auto& s : cluster->servers_) {
      ok =
          ok &&
          reply_text(s->port(), {"CLUSTER", "INFO"}).find("cluster_state:ok") !=
              std::string::npos;
    }
    if (ok) return cluster;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "the cluster did not reach cluster_state:ok";
  return nullptr;
}

std::string RedisCluster::url(const std::string& query) const {
  return "redis+cluster://127.0.0.1:" + std::to_string(servers_[0]->port()) +
         ",127.0.0.1:" + std::to_string(servers_[1]->port()) + "?" + query;
}

std::string RedisCluster::id(size_t i) {
  return reply_text(servers_.at(i)->port(), {"CLUSTER", "MYID"});
}

}  // namespace cachepack::testing
