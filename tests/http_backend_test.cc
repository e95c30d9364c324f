// HttpBackend against a real nginx (WebDAV PUT/DELETE) started by the test on
// a free loopback port: the Bazel cas/ac layout on disk, modes, auth, content
// verification, and failures (server down, hung, 5xx, DELETE refused).
#include "backends/http_backend.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "cachepack/backend_registry.h"
#include "cachepack/hash.h"
#include "cachepack/populate.h"
#include "cachepack/register_remote_backends.h"
#include "cachepack/url.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::HasError;
using testing::IsOk;
using testing::NginxOptions;
using testing::NginxServer;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

size_t count_occurrences(const std::string& haystack, const std::string& s) {
  size_t n = 0;
  for (size_t at = haystack.find(s); at != std::string::npos;
       at = haystack.find(s, at + 1)) {
    ++n;
  }
  return n;
}

std::unique_ptr<Backend> open_http(const std::string& url) {
  BackendRegistry registry;
  EXPECT_THAT(register_remote_backends(registry), IsOk());
  auto b = registry.open(url);
  EXPECT_THAT(b, IsOk());
  return b ? std::move(*b) : nullptr;
}

class HttpBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::executable_exists(testing::kNginx)) {
      GTEST_SKIP() << testing::kNginx << " is not installed";
    }
    start_server({});
  }

  void start_server(NginxOptions options) {
    std::string error;
    server_ = NginxServer::start(&error, std::move(options));
    ASSERT_TRUE(server_) << error;
  }

  std::string url(const std::string& base = "/cache",
                  const std::string& query = "") const {
    return server_->url(base + "?timeout_ms=2000&retry_backoff_ms=20" + query);
  }
  fs::path cas_file(std::string_view content) const {
    return server_->data_root() / "cache" / "cas" /
           sha256_hex(as_bytes(content));
  }
  fs::path ac_file(std::string_view ns, std::string_view key) const {
    return server_->data_root() / "cache" / "ac" / ac_digest(ns, key);
  }
  std::string access_log() const {
    return read_text(server_->data_root().parent_path() / "access.log");
  }
  // nginx logs a request after answering it: wait (briefly) for `expected`
  // lines containing `s`, then report how many there are.
  size_t logged(const std::string& s, size_t expected) const {
    for (int i = 0; i < 100; ++i) {
      if (count_occurrences(access_log(), s) >= expected) break;
      std::this_thread::sleep_for(10ms);
    }
    return count_occurrences(access_log(), s);
  }

  std::unique_ptr<NginxServer> server_;
};

TEST_F(HttpBackendTest, PutStoresContentInCasAndARecordInAc) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  std::string content("artifact\0bytes", 14);
  std::string key("key\0with/slash", 14);
  auto put = b->put("fx_graph", key, as_bytes(content), PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());
  EXPECT_TRUE(*put);

  EXPECT_EQ(read_text(cas_file(content)), content);
  std::string record = read_text(ac_file("fx_graph", key));
  EXPECT_EQ(record,
            encode_ac_record({"fx_graph", key, sha256_hex(as_bytes(content)),
                              content.size()}));
  EXPECT_TRUE(record.starts_with("cachepack-ac/1\nns ZnhfZ3JhcGg=\n"));

  auto got = b->get("fx_graph", key);
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(as_chars(**got), content);
  EXPECT_EQ(b->stats().hits, 1u);
}

TEST_F(HttpBackendTest, AbsentKeyIsAMiss) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  auto got = b->get("ns", "absent");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->has_value());
  EXPECT_FALSE(b->contains("ns", "absent").value());
  EXPECT_EQ(b->stats().misses, 1u);
  EXPECT_EQ(b->stats().errors, 0u);
}

TEST_F(HttpBackendTest, InsertIfAbsentKeepsTheFirstValueAndOverwriteReplaces) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(
      b->put("ns", "k", as_bytes("first"), PutMode::kInsertIfAbsent).value());
  auto skipped =
      b->put("ns", "k", as_bytes("second"), PutMode::kInsertIfAbsent);
  ASSERT_TRUE(skipped);
  EXPECT_FALSE(*skipped);
  EXPECT_EQ(as_chars(b->get("ns", "k").value().value()), "first");
  EXPECT_FALSE(fs::exists(cas_file("second")));

  ASSERT_TRUE(
      b->put("ns", "k", as_bytes("third"), PutMode::kOverwrite).value());
  EXPECT_EQ(as_chars(b->get("ns", "k").value().value()), "third");
  EXPECT_EQ(b->stats().puts, 2u);
  EXPECT_EQ(b->stats().puts_skipped, 1u);
}

TEST_F(HttpBackendTest, SharedContentIsUploadedOnce) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  std::string content(100000, 'z');
  ASSERT_TRUE(b->put("ns", "a", as_bytes(content), PutMode::kOverwrite));
  ASSERT_TRUE(b->put("ns", "b", as_bytes(content), PutMode::kOverwrite));
  EXPECT_EQ(as_chars(b->get("ns", "b").value().value()), content);
  EXPECT_EQ(logged("\"PUT /cache/ac/", 2), 2u) << access_log();
  EXPECT_EQ(logged("\"PUT /cache/cas/", 1), 1u) << access_log();
}

TEST_F(HttpBackendTest, HostileKeysOnlyEverNameADigest) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  std::vector<std::string> keys = {
      "../../../../etc/passwd", "/etc/passwd", std::string("a\0b", 3),
      std::string(4096, 'k'),   "..",          "sp ace/?#%2e%2e\r\n"};
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string value = "value " + std::to_string(i);
    auto put = b->put("ns", keys[i], as_bytes(value), PutMode::kOverwrite);
    ASSERT_THAT(put, IsOk()) << i;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto got = b->get("ns", keys[i]);
    ASSERT_TRUE(got && got->has_value()) << i;
    EXPECT_EQ(as_chars(**got), "value " + std::to_string(i));
  }
  // Everything landed under ac/ and cas/ of the base, nowhere else.
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(server_->data_root())) {
    if (!e.is_regular_file()) continue;
    ++files;
    auto rel = fs::relative(e.path(), server_->data_root()).string();
    EXPECT_TRUE(rel.starts_with("cache/ac/") || rel.starts_with("cache/cas/"))
        << rel;
  }
  EXPECT_EQ(files, 2 * keys.size());
}

TEST_F(HttpBackendTest, NamespacesKeepEqualKeysApart) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("a", "k", as_bytes("in a"), PutMode::kOverwrite));
  EXPECT_FALSE(b->get("b", "k").value().has_value());
  // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(ac_digest("ab", "c"), ac_digest("a", "bc"));
}

TEST_F(HttpBackendTest, ThreadsShareOneBackend) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::string value = "value of " + key;
        auto put = b->put("ns", key, as_bytes(value), PutMode::kOverwrite);
        auto got = b->get("ns", key);
        if (!put || !got || !got->has_value() || as_chars(**got) != value) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(b->stats().hits, 120u);
}

TEST_F(HttpBackendTest, PopulateWithThreadsStoresEveryArtifact) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  std::vector<Artifact> artifacts;
  for (int i = 0; i < 200; ++i) {
    artifacts.push_back({i % 2 ? "inductor" : "autotune",
                         "key-" + std::to_string(i),
                         to_bytes("content " + std::to_string(i))});
  }
  std::vector<ArtifactView> views;
  for (const auto& a : artifacts) views.push_back({a.type, a.key, a.content});
  auto report = populate(views, *b, {.threads = 4});
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->stored(), artifacts.size());
  for (const auto& a : artifacts) {
    auto got = b->get(a.type, a.key);
    ASSERT_TRUE(got && got->has_value()) << a.key;
    EXPECT_EQ(**got, a.content);
  }
  auto again = populate(views, *b, {.threads = 4});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->skipped(), artifacts.size());
}

TEST_F(HttpBackendTest, BatchesRunInParallelButKeepEachKeysOrder) {
  auto b = open_http(url("/cache", "&parallel=4"));
  ASSERT_TRUE(b);
  std::vector<std::string> keys, values;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("k" + std::to_string(i % 100));  // Each key three times.
    values.push_back("v" + std::to_string(i));
  }
  std::vector<PutRequest> puts;
  for (int i = 0; i < 300; ++i)
    puts.push_back({"ns", keys[i], as_bytes(values[i])});
  auto first = b->put_many(puts, PutMode::kInsertIfAbsent);
  ASSERT_EQ(first.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    ASSERT_THAT(first[i], IsOk());
    EXPECT_EQ(*first[i], i < 100) << i;  // The earliest of each key wins.
  }
  auto second = b->put_many(puts, PutMode::kOverwrite);
  for (const auto& r : second) ASSERT_TRUE(r && *r);

  std::vector<KeyRef> refs;
  for (int i = 0; i < 100; ++i) refs.push_back({"ns", keys[i]});
  refs.push_back({"ns", "absent"});
  auto got = b->get_many(refs);
  ASSERT_EQ(got.size(), 101u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(got[i] && got[i]->has_value()) << i;
    EXPECT_EQ(as_chars(**got[i]), values[200 + i]);  // The last write wins.
  }
  ASSERT_TRUE(got[100]);
  EXPECT_FALSE(got[100]->has_value());
}

TEST_F(HttpBackendTest, RemoveDeletesTheRecord) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", as_bytes("v"), PutMode::kOverwrite));
  EXPECT_TRUE(b->contains("ns", "k").value());
  EXPECT_TRUE(b->remove("ns", "k").value());
  EXPECT_FALSE(b->contains("ns", "k").value());
  EXPECT_FALSE(b->get("ns", "k").value().has_value());
  EXPECT_FALSE(b->remove("ns", "k").value());
  EXPECT_EQ(b->stats().removes, 1u);
}

TEST_F(HttpBackendTest, RemoveIsUnimplementedWhereTheServerRefusesDelete) {
  auto b = open_http(url("/nodelete"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", as_bytes("v"), PutMode::kOverwrite));
  auto r = b->remove("ns", "k");
  ASSERT_FALSE(r);
  EXPECT_THAT(r, HasError(ErrorCode::kUnimplemented));
  EXPECT_TRUE(b->contains("ns", "k").value());
}

TEST_F(HttpBackendTest, ListingIsUnimplementedInTheBazelProtocol) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  auto keys = b->list("ns");
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code(), ErrorCode::kUnimplemented);
  auto names = b->namespaces();
  ASSERT_FALSE(names);
  EXPECT_EQ(names.error().code(), ErrorCode::kUnimplemented);
}

TEST_F(HttpBackendTest, CorruptCasContentIsDataLoss) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  std::string content = "the real content";
  ASSERT_TRUE(b->put("ns", "k", as_bytes(content), PutMode::kOverwrite));
  write_text(cas_file(content), "the fake content");  // Same length.
  auto got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(got.error().reason(), ErrorReason::kChecksumMismatch);
  EXPECT_THAT(got.error().message(), HasSubstr("/cache/cas/"));

  write_text(cas_file(content), content + " and a longer tail");
  got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_THAT(got, HasError(ErrorCode::kDataLoss));
  EXPECT_EQ(b->stats().errors, 2u);
}

TEST_F(HttpBackendTest, CorruptAcRecordIsDataLoss) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", as_bytes("v"), PutMode::kOverwrite));
  write_text(ac_file("ns", "k"), "not a record\n");
  auto got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kDataLoss);
  // A valid record for another (ns, key) under this name is refused too.
  write_text(ac_file("ns", "k"),
             encode_ac_record({"ns", "other", sha256_hex(as_bytes("v")), 1}));
  got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kDataLoss);
}

TEST_F(HttpBackendTest, EvictedContentIsAMiss) {
  auto b = open_http(url());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put("ns", "k", as_bytes("v"), PutMode::kOverwrite));
  fs::remove(cas_file("v"));
  auto got = b->get("ns", "k");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->has_value());
}

TEST_F(HttpBackendTest, BasicAuthIsSentAndWrongCredentialsAreDenied) {
  start_server({.user = "builder", .password = "pa55"});
  auto good = open_http(
      server_->url("/cache?timeout_ms=2000").insert(7, "builder:pa55@"));
  ASSERT_TRUE(good);
  auto put = good->put("ns", "k", as_bytes("v"), PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(as_chars(good->get("ns", "k").value().value()), "v");

  for (std::string userinfo : {"builder:wrong@", ""}) {
    auto bad =
        open_http(server_->url("/cache?timeout_ms=2000").insert(7, userinfo));
    ASSERT_TRUE(bad);
    auto got = bad->get("ns", "k");
    ASSERT_FALSE(got);
    EXPECT_THAT(got, HasError(ErrorCode::kPermissionDenied));
    EXPECT_EQ(got.error().to_string().find("wrong"), std::string::npos);
  }
}

TEST_F(HttpBackendTest, BearerTokenFromAFileOrTheEnvironment) {
  start_server({.bearer_token = "t0ken"});
  testing::TempDir dir;
  fs::path token_file = dir.path() / "token";
  write_text(token_file, "t0ken\n");
  auto from_file =
      open_http(url("/cache", "&bearer_token_file=" + token_file.string()));
  ASSERT_TRUE(from_file);
  auto put = from_file->put("ns", "k", as_bytes("v"), PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());

  ::setenv("CACHEPACK_TEST_TOKEN", "t0ken", 1);
  auto from_env =
      open_http(url("/cache", "&bearer_token_env=CACHEPACK_TEST_TOKEN"));
  ASSERT_TRUE(from_env);
  EXPECT_TRUE(from_env->contains("ns", "k").value());

  auto without = open_http(url());
  ASSERT_TRUE(without);
  auto denied = without->contains("ns", "k");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kPermissionDenied);

  BackendRegistry registry;
  EXPECT_THAT(register_remote_backends(registry), IsOk());
  auto missing =
      registry.open(url("/cache", "&bearer_token_env=CACHEPACK_UNSET_VAR"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(HttpBackendTest, TlsIsVerifiedByDefault) {
  if (!testing::executable_exists("/usr/bin/openssl")) {
    GTEST_SKIP() << "/usr/bin/openssl is needed to make a certificate";
  }
  start_server({.tls = true});
  ASSERT_TRUE(url().starts_with("https://"));
  auto strict = open_http(url());
  ASSERT_TRUE(strict);
  auto refused = strict->get("ns", "k");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused, HasError(ErrorCode::kPermissionDenied));
  EXPECT_NE(refused.error().message().find("ca_file"), std::string::npos);

  auto trusting =
      open_http(url("/cache", "&ca_file=" + server_->cert_path().string()));
  ASSERT_TRUE(trusting);
  auto put =
      trusting->put("ns", "k", as_bytes("over tls"), PutMode::kOverwrite);
  ASSERT_THAT(put, IsOk());

  auto insecure = open_http(url("/cache", "&insecure=1"));
  ASSERT_TRUE(insecure);
  auto got = insecure->get("ns", "k");
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(as_chars(**got), "over tls");
}

TEST_F(HttpBackendTest, ServerDownIsUnavailableQuickly) {
  std::string dead_url = url("/cache", "&retries=2");
  server_->stop();
  auto b = open_http(dead_url);
  ASSERT_TRUE(b);
  auto start = Clock::now();
  auto got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(got.error().message(), HasSubstr("GET http://127.0.0.1:"));
  auto put = b->put("ns", "k", as_bytes("v"), PutMode::kOverwrite);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(b->stats().errors, 2u);
}

TEST_F(HttpBackendTest, ServerErrorsAreRetriedThenUnavailable) {
  auto b = open_http(url("/fail503", "&retries=3"));
  ASSERT_TRUE(b);
  auto got = b->get("ns", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(got.error().message().find("HTTP 503"), std::string::npos);
  EXPECT_EQ(logged("\"GET /fail503/ac/", 4), 4u);
}

// A listening socket that never answers: requests hang until a timeout.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(HttpBackend, HungServerHitsTheCallersDeadline) {
  SilentServer silent;
  auto b = open_http("http://127.0.0.1:" + std::to_string(silent.port()) +
                     "/cache?timeout_ms=30000&retries=2");
  ASSERT_TRUE(b);
  auto start = Clock::now();
  auto got = b->get("ns", "k", Deadline::after(300ms));
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(got);
  EXPECT_THAT(got, HasError(ErrorCode::kDeadlineExceeded));
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
}

TEST(HttpBackend, HungServerWithoutDeadlineCostsTheTimeoutPerAttempt) {
  SilentServer silent;
  auto b = open_http("http://127.0.0.1:" + std::to_string(silent.port()) +
                     "/cache?timeout_ms=200&retries=1&retry_backoff_ms=10");
  ASSERT_TRUE(b);
  auto start = Clock::now();
  auto got = b->contains("ns", "k");
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(got);
  EXPECT_THAT(got, HasError(ErrorCode::kUnavailable));
  EXPECT_GE(elapsed, 400ms);  // Two attempts of 200 ms.
  EXPECT_LT(elapsed, 3s);
}

TEST(AcRecord, RoundTripsAndRejectsAnythingElse) {
  AcRecord r{"ns:x", std::string("k\0\n", 3), std::string(64, 'a'), 42};
  std::string text = encode_ac_record(r);
  auto back = decode_ac_record(text);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->ns, r.ns);
  EXPECT_EQ(back->key, r.key);
  EXPECT_EQ(back->sha256_hex, r.sha256_hex);
  EXPECT_EQ(back->size, 42u);
  for (std::string bad :
       {std::string(), text.substr(0, text.size() - 1), text + "extra\n",
        "cachepack-ac/2" + text.substr(14),
        encode_ac_record({"n", "k", std::string(64, 'A'), 1}),
        encode_ac_record({"n", "k", std::string(63, 'a'), 1})}) {
    auto d = decode_ac_record(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code(), ErrorCode::kDataLoss);
  }
}

TEST(HttpUrl, BadUrlsAreRejectedWithTheExpectedForm) {
  BackendRegistry registry;
  EXPECT_THAT(register_remote_backends(registry), IsOk());
  for (const char* bad : {"http://h/c?retries=x", "https://h/c?colour=blue",
                          "http://h/c?insecure=yes",
                          "http://h/c?bearer_token_file=/nonexistent"}) {
    auto b = registry.open(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_TRUE(b.error().code() == ErrorCode::kInvalidArgument ||
                b.error().code() == ErrorCode::kNotFound)
        << b.error().to_string();
  }
  auto url = parse_backend_url(
      "https://u:p@[::1]:8443/a%20b/?insecure=1&ca_file=/ca.pem&retries=4");
  ASSERT_TRUE(url);
  auto o = http_options_from_url(*url);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->base_url, "https://[::1]:8443/a%20b");
  EXPECT_EQ(o->user, "u");
  EXPECT_EQ(o->password, "p");
  EXPECT_FALSE(o->verify_tls);
  EXPECT_EQ(o->ca_file, "/ca.pem");
  EXPECT_EQ(o->retries, 4);
}

}  // namespace
}  // namespace cachepack
