// push_bundle / pull_bundle (cachepack/ship.h) against real servers: a
// redis-server and an nginx with WebDAV PUT started by the test on loopback
// ports, and a file:// directory. A pull rebuilds the pushed bundle byte for
// byte; a second version fetches only what changed; a bad signature, a
// tampered manifest or blob, a server going away, or a killed puller leave
// the previous output as it was.
#include "cachepack/ship.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cachepack/all_backends.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/hash.h"
#include "cachepack/populate.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"
#include "util/file.h"
#include "util/text.h"

namespace cachepack {
namespace {

namespace fs = std::filesystem;
using testing::HasError;
using testing::IsOk;
using testing::NginxServer;
using testing::RedisServer;
using testing::TempDir;

std::unique_ptr<Backend> open_backend(const std::string& url) {
  auto registry = registry_with_all_backends();
  EXPECT_THAT(registry, IsOk());
  auto b = (*registry)->open(url);
  EXPECT_THAT(b, IsOk()) << url;
  return b ? std::move(*b) : nullptr;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Deterministic incompressible bytes (splitmix64).
Bytes splitmix(uint64_t seed, size_t size) {
  Bytes out(size);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < size; i += 8) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min<size_t>(8, size - i));
  }
  return out;
}

// Incompressible bytes, different per seed: a slice of one random pool
// chosen by the seed, which is also written in its first 8 bytes, so no two
// seeds give the same content. (Copying is fast in an unoptimised build,
// generating 400 MB is not.)
Bytes noise(uint64_t seed, size_t size) {
  static const Bytes pool = splitmix(42, 16 << 20);
  if (size > pool.size() / 2) return splitmix(seed, size);
  size_t offset = (seed * 7919 * 64) % (pool.size() - size);
  Bytes out(pool.begin() + offset, pool.begin() + offset + size);
  std::memcpy(out.data(), &seed, std::min<size_t>(8, size));
  return out;
}

// Compressible text-like bytes, as inductor's Python sources are.
Bytes text_like(uint64_t seed, size_t size) {
  std::string s;
  while (s.size() < size) {
    s += "def kernel_" + std::to_string(seed) + "_" + std::to_string(s.size()) +
         "(in_ptr0, out_ptr0, xnumel, XBLOCK: tl.constexpr):\n    pass\n";
  }
  s.resize(size);
  return to_bytes(s);
}

struct Spec {
  std::string type;
  std::string key;
  Bytes content;
};

// Entry by entry unless asked (solid_block_size): these tests count one
// blob per distinct entry; SolidBlocksShipAsOneBlobEach counts blocks.
bundle::WriterOptions entry_by_entry() {
  bundle::WriterOptions o;
  o.solid_block_size = 0;
  return o;
}

void write_bundle(const std::string& path, const std::vector<Spec>& specs,
                  bundle::WriterOptions options = entry_by_entry()) {
  auto w = bundle::BundleWriter::create(path, std::move(options));
  ASSERT_THAT(w, IsOk());
  for (const auto& s : specs) {
    ASSERT_THAT(w->add(s.type, s.key, s.content), IsOk());
  }
  ASSERT_THAT(w->finish(), IsOk());
}

// (type, key, content) of every entry, in stored order.
std::vector<Spec> artifacts_of(const std::string& path) {
  std::vector<Spec> out;
  auto r = bundle::BundleReader::open(path);
  EXPECT_THAT(r, IsOk());
  if (!r) return out;
  for (size_t i = 0; i < r->size(); ++i) {
    auto e = r->entry(i);
    auto c = r->read(i);
    EXPECT_THAT(c, IsOk());
    out.push_back({e->type, e->key, c ? *c : Bytes()});
  }
  return out;
}

std::string file_digest(const std::string& p) {
  auto f = MappedFile::open(p);
  EXPECT_THAT(f, IsOk()) << p;
  return f ? sha256_hex(f->bytes()) : std::string();
}

bool same_artifacts(const std::vector<Spec>& a, const std::vector<Spec>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].key != b[i].key ||
        a[i].content != b[i].content) {
      return false;
    }
  }
  return true;
}

// Files in `dir` other than `keep`: temporary leftovers of a pull.
std::vector<std::string> other_files(const fs::path& dir,
                                     const std::string& keep) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename() != keep) out.push_back(e.path().filename());
  }
  return out;
}

// A small bundle of several types: compressible (zstd) and incompressible
// (raw) entries, a multi-chunk one, an empty one, a repeated content.
std::vector<Spec> small_specs(int version) {
  std::vector<Spec> s;
  s.push_back({"inductor", "k-src", text_like(1, 50'000)});
  s.push_back({"autotune", "k-tune", to_bytes("{\"XBLOCK\": 128}")});
  s.push_back({"inductor", "k-big", noise(2, 2'500'000)});  // 3 chunks
  s.push_back({"fx_graph", "k-empty", Bytes()});
  s.push_back({"inductor", "k-same", text_like(1, 50'000)});
  s.push_back({"aot_autograd", "k-v", text_like(100 + version, 20'000)});
  return s;
}

class ShipTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const {
    return (dir_.path() / name).string();
  }
  TempDir dir_;
};

TEST_F(ShipTest, PushThenPullRebuildsTheBundleByteForByte) {
  auto cache = open_backend("file://" + path("cache"));
  write_bundle(path("v1.cpk"), small_specs(1));
  auto pushed = push_bundle(path("v1.cpk"), *cache, "app");
  ASSERT_THAT(pushed, IsOk());
  EXPECT_EQ(pushed->entries, 6u);
  EXPECT_EQ(pushed->blobs, 4u);  // Empty entry: none; k-same shares k-src's.
  EXPECT_EQ(pushed->blobs_uploaded, 4u);

  auto pulled = pull_bundle(*cache, "app", path("out.cpk"));
  ASSERT_THAT(pulled, IsOk());
  EXPECT_EQ(read_text(path("out.cpk")), read_text(path("v1.cpk")));
  EXPECT_EQ(pulled->blobs_fetched, 4u);
  EXPECT_TRUE(same_artifacts(artifacts_of(path("out.cpk")), small_specs(1)));
  EXPECT_THAT(other_files(dir_.path(), "out.cpk"),
              ::testing::UnorderedElementsAre("v1.cpk", "cache"));

  // Pushing again sends nothing but the manifest.
  auto again = push_bundle(path("v1.cpk"), *cache, "app");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->blobs_uploaded, 0u);
  EXPECT_EQ(again->blobs_present, 4u);
}

TEST_F(ShipTest, SolidBlocksShipAsOneBlobEach) {
  auto cache = open_backend("file://" + path("cache"));
  write_bundle(path("v1.cpk"), small_specs(1), bundle::WriterOptions{});
  auto reader = bundle::BundleReader::open(path("v1.cpk"));
  ASSERT_THAT(reader, IsOk());
  auto blocks = reader->blocks();
  ASSERT_THAT(blocks, IsOk());
  ASSERT_EQ(blocks->size(), 1u);  // All but k-big (chunked) and k-empty.
  auto pushed = push_bundle(path("v1.cpk"), *cache, "app");
  ASSERT_THAT(pushed, IsOk());
  EXPECT_EQ(pushed->blobs, 2u);  // The block and k-big.
  // The manifest carries no entry data: the block is a blob.
  EXPECT_LT(pushed->manifest_bytes, 4096u);
  auto pulled = pull_bundle(*cache, "app", path("out.cpk"));
  ASSERT_THAT(pulled, IsOk());
  EXPECT_EQ(read_text(path("out.cpk")), read_text(path("v1.cpk")));
  EXPECT_EQ(pulled->blobs_fetched, 2u);
  auto again = pull_bundle(*cache, "app", path("out.cpk"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->blobs_fetched, 0u);
  EXPECT_EQ(again->blobs_from_out, 2u);
  // A local cache holding every artifact makes the block again.
  auto local = open_backend("file://" + path("local"));
  for (const auto& s : small_specs(1)) {
    ASSERT_THAT(local->put(s.type, s.key, s.content, PutMode::kOverwrite),
                IsOk());
  }
  PullOptions options;
  options.have = local.get();
  auto fresh = pull_bundle(*cache, "app", path("fresh.cpk"), options);
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->blobs_from_have, 2u);
  EXPECT_EQ(fresh->blobs_fetched, 0u);
  EXPECT_EQ(read_text(path("fresh.cpk")), read_text(path("v1.cpk")));
}

TEST_F(ShipTest, AppendedAndSignedBundlesShipWhole) {
  auto cache = open_backend("file://" + path("cache"));
  auto key = bundle::SigningKey::generate();
  ASSERT_THAT(key, IsOk());
  write_bundle(path("b.cpk"), small_specs(1));
  {
    bundle::WriterOptions o;
    o.signing_keys = {&*key};
    auto w = bundle::BundleWriter::append(path("b.cpk"), o);
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT(w->add("autotune", "k-added", to_bytes("{}")), IsOk());
    ASSERT_THAT(w->finish(), IsOk());
  }
  auto pushed = push_bundle(path("b.cpk"), *cache, "app");
  ASSERT_THAT(pushed, IsOk());
  EXPECT_EQ(pushed->signatures, 1u);
  PullOptions trust;
  trust.trusted_keys = {key->public_key()};
  auto pulled = pull_bundle(*cache, "app", path("out.cpk"), trust);
  ASSERT_THAT(pulled, IsOk());
  EXPECT_EQ(pulled->trusted_signatures, 1u);
  EXPECT_EQ(read_text(path("out.cpk")), read_text(path("b.cpk")));
}

TEST_F(ShipTest, ADamagedEntryIsNeverPublished) {
  auto cache = open_backend("file://" + path("cache"));
  write_bundle(path("v1.cpk"), small_specs(1));
  uint64_t at = 0;
  {
    auto r = bundle::BundleReader::open(path("v1.cpk"));
    ASSERT_THAT(r, IsOk());
    auto pos = r->find("inductor", "k-big");
    ASSERT_TRUE(pos.value().has_value());
    at = r->entry(**pos)->offset + 1000;
  }
  std::string bytes = read_text(path("v1.cpk"));
  bytes[at] ^= 0x40;
  std::ofstream(path("v1.cpk"), std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(push_bundle(path("v1.cpk"), *cache, "app"),
              HasError(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch));
  EXPECT_FALSE(cache->contains(kShipManifestNamespace, "app").value());
}

TEST_F(ShipTest, AMissingNameIsNotFound) {
  auto cache = open_backend("file://" + path("cache"));
  EXPECT_THAT(pull_bundle(*cache, "never-pushed", path("out.cpk")),
              HasError(ErrorCode::kNotFound));
  EXPECT_FALSE(fs::exists(path("out.cpk")));
}

TEST_F(ShipTest, ATorchCacheDirectoryHasNoPlaceForShippedBundles) {
  auto torch = open_backend("torch://" + path("torchinductor"));
  write_bundle(path("v1.cpk"), small_specs(1));
  EXPECT_THAT(push_bundle(path("v1.cpk"), *torch, "app"),
              HasError(ErrorCode::kUnimplemented));
}

TEST_F(ShipTest, HaveCacheSuppliesArtifactsItHolds) {
  auto cache = open_backend("file://" + path("cache"));
  write_bundle(path("v1.cpk"), small_specs(1));
  ASSERT_THAT(push_bundle(path("v1.cpk"), *cache, "app"), IsOk());
  // The fleet machine's local cache, populated from an older bundle that
  // shares all but k-v's content.
  auto local = open_backend("file://" + path("local"));
  for (const auto& s : small_specs(0)) {
    ASSERT_THAT(local->put(s.type, s.key, s.content, PutMode::kOverwrite),
                IsOk());
  }
  PullOptions options;
  options.have = local.get();
  auto pulled = pull_bundle(*cache, "app", path("out.cpk"), options);
  ASSERT_THAT(pulled, IsOk());
  // k-src (zstd at the default level), k-tune and k-big (raw) are made
  // again from the local cache; only k-v, changed, is fetched.
  EXPECT_EQ(pulled->blobs_from_have, 3u);
  EXPECT_EQ(pulled->blobs_fetched, 1u);
  EXPECT_EQ(read_text(path("out.cpk")), read_text(path("v1.cpk")));
}

TEST_F(ShipTest, AnUntrustedBundleIsRefusedBeforeAnythingIsFetched) {
  auto cache = open_backend("file://" + path("cache"));
  auto trusted = bundle::SigningKey::generate();
  auto other = bundle::SigningKey::generate();
  ASSERT_THAT(trusted, IsOk());
  ASSERT_THAT(other, IsOk());
  bundle::WriterOptions signed_by_trusted;
  signed_by_trusted.signing_keys = {&*trusted};
  write_bundle(path("v1.cpk"), small_specs(1), signed_by_trusted);
  ASSERT_THAT(push_bundle(path("v1.cpk"), *cache, "app"), IsOk());
  PullOptions trust;
  trust.trusted_keys = {trusted->public_key()};
  ASSERT_THAT(pull_bundle(*cache, "app", path("out.cpk"), trust), IsOk());
  const std::string before = read_text(path("out.cpk"));

  // An attacker pushes another bundle under the name: unsigned, then signed
  // by a key the fleet does not trust.
  bundle::WriterOptions signed_by_other;
  signed_by_other.signing_keys = {&*other};
  write_bundle(path("evil.cpk"), small_specs(9), signed_by_other);
  write_bundle(path("evil-unsigned.cpk"), small_specs(9));
  for (const char* evil : {"evil.cpk", "evil-unsigned.cpk"}) {
    ASSERT_THAT(push_bundle(path(evil), *cache, "app"), IsOk());
    auto fresh = open_backend("file://" + path("cache"));
    EXPECT_THAT(pull_bundle(*fresh, "app", path("out.cpk"), trust),
                HasError(ErrorCode::kPermissionDenied, ErrorReason::kSignature))
        << evil;
    EXPECT_EQ(fresh->stats().hits, 1u) << "only the manifest was read";
    EXPECT_EQ(read_text(path("out.cpk")), before);
    EXPECT_THAT(other_files(dir_.path(), "out.cpk"),
                ::testing::UnorderedElementsAre("v1.cpk", "evil.cpk",
                                                "evil-unsigned.cpk", "cache"));
  }
}

TEST_F(ShipTest, ATamperedManifestOrBlobLeavesTheOutputAlone) {
  auto cache = open_backend("file://" + path("cache"));
  write_bundle(path("v1.cpk"), small_specs(1));
  ASSERT_THAT(push_bundle(path("v1.cpk"), *cache, "app"), IsOk());
  ASSERT_THAT(pull_bundle(*cache, "app", path("out.cpk")), IsOk());
  const std::string before = read_text(path("out.cpk"));
  write_bundle(path("v2.cpk"), small_specs(2));
  ASSERT_THAT(push_bundle(path("v2.cpk"), *cache, "app"), IsOk());
  auto manifest = cache->get(kShipManifestNamespace, "app");
  ASSERT_THAT(manifest, IsOk());
  ASSERT_TRUE(manifest->has_value());
  const Bytes good = **manifest;

  // One byte of the index (the last literal holds index and footer) flipped.
  nlohmann::json doc = nlohmann::json::parse(as_chars(good));
  auto& last = doc["literals"].back()["data"];
  std::string data = *base64_decode_strict(last.get<std::string>());
  data[data.size() / 2] ^= 0x01;
  last = base64_encode(as_bytes(data));
  std::string tampered = doc.dump();
  ASSERT_THAT(cache->put(kShipManifestNamespace, "app", as_bytes(tampered),
                         PutMode::kOverwrite),
              IsOk());
  EXPECT_THAT(pull_bundle(*cache, "app", path("out.cpk")),
              HasError(ErrorCode::kDataLoss));
  EXPECT_EQ(read_text(path("out.cpk")), before);

  // A bundle size past the footer (the new file would be that large).
  nlohmann::json grown = nlohmann::json::parse(as_chars(good));
  grown["bundle_size"] = grown["bundle_size"].get<uint64_t>() + (1ull << 40);
  ASSERT_THAT(cache->put(kShipManifestNamespace, "app", as_bytes(grown.dump()),
                         PutMode::kOverwrite),
              IsOk());
  EXPECT_THAT(pull_bundle(*cache, "app", path("out.cpk")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kInvalidJson));
  EXPECT_EQ(read_text(path("out.cpk")), before);

  // Not JSON at all.
  ASSERT_THAT(cache->put(kShipManifestNamespace, "app", as_bytes("{not json"),
                         PutMode::kOverwrite),
              IsOk());
  EXPECT_THAT(pull_bundle(*cache, "app", path("out.cpk")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kInvalidJson));
  EXPECT_EQ(read_text(path("out.cpk")), before);

  // The manifest intact, but the changed entry's blob replaced by other
  // bytes of its size.
  ASSERT_THAT(
      cache->put(kShipManifestNamespace, "app", good, PutMode::kOverwrite),
      IsOk());
  auto v2 = bundle::BundleReader::open(path("v2.cpk"));
  ASSERT_THAT(v2, IsOk());
  auto pos = v2->find("aot_autograd", "k-v");
  ASSERT_TRUE(pos.value().has_value());
  auto e = v2->entry(**pos);
  ASSERT_THAT(e, IsOk());
  std::string key;
  for (auto* digest : {&e->sha256[0], &e->xxh3[0]}) {
    size_t n = digest == &e->sha256[0] ? 32 : 16;
    for (size_t i = 0; i < n; ++i) {
      char h[3];
      std::snprintf(h, sizeof h, "%02x", static_cast<unsigned>(digest[i]));
      key += h;
    }
  }
  ASSERT_TRUE(cache->contains(kShipBlobNamespace, key).value());
  ASSERT_THAT(cache->put(kShipBlobNamespace, key, noise(7, e->stored_size),
                         PutMode::kOverwrite),
              IsOk());
  EXPECT_THAT(pull_bundle(*cache, "app", path("out.cpk")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch));
  EXPECT_EQ(read_text(path("out.cpk")), before);

  // The blob gone (evicted by the server, removed by hand).
  ASSERT_TRUE(cache->remove(kShipBlobNamespace, key).value());
  EXPECT_THAT(pull_bundle(*cache, "app", path("out.cpk")),
              HasError(ErrorCode::kNotFound));
  EXPECT_EQ(read_text(path("out.cpk")), before);
  EXPECT_THAT(other_files(dir_.path(), "out.cpk"),
              ::testing::UnorderedElementsAre("v1.cpk", "v2.cpk", "cache"));
}

TEST_F(ShipTest, AKilledPullLeavesTheOldOutputAndTheNextPullCleansUp) {
  auto cache = open_backend("file://" + path("cache"));
  write_bundle(path("v1.cpk"), small_specs(1));
  ASSERT_THAT(push_bundle(path("v1.cpk"), *cache, "app"), IsOk());
  ASSERT_THAT(pull_bundle(*cache, "app", path("out.cpk")), IsOk());
  const std::string before = read_text(path("out.cpk"));
  write_bundle(path("v2.cpk"), small_specs(2));
  ASSERT_THAT(push_bundle(path("v2.cpk"), *cache, "app"), IsOk());

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // kill -9 in the middle: after the new file was started, before the
    // fetched blob is written.
    auto b = open_backend("file://" + path("cache"));
    PullOptions o;
    o.progress = [](const ShipProgress& p) {
      if (p.blobs_done < p.blobs_total) ::raise(SIGKILL);
    };
    (void)pull_bundle(*b, "app", path("out.cpk"), o);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(read_text(path("out.cpk")), before);
  EXPECT_EQ(other_files(dir_.path(), "out.cpk").size(), 4u)
      << "v1, v2, cache and the killed pull's temporary file";

  ASSERT_THAT(pull_bundle(*cache, "app", path("out.cpk")), IsOk());
  EXPECT_EQ(read_text(path("out.cpk")), read_text(path("v2.cpk")));
  EXPECT_THAT(other_files(dir_.path(), "out.cpk"),
              ::testing::UnorderedElementsAre("v1.cpk", "v2.cpk", "cache"));
}

// ---- Real servers: a 200 MB bundle, then a version with 5% changed. ----

constexpr size_t kArtifacts = 400;
constexpr size_t kArtifactSize = 512 * 1024;  // 400 x 512 KiB = 200 MiB.
constexpr size_t kChanged = kArtifacts / 20;  // 5%.

std::vector<Spec> big_specs(int version) {
  std::vector<Spec> s;
  for (size_t i = 0; i < kArtifacts; ++i) {
    // Every 20th artifact changes in version 2.
    uint64_t seed = i + (version == 2 && i % 20 == 7 ? 1'000'000 : 0);
    s.push_back({i % 3 == 0 ? "autotune" : "inductor",
                 "artifact-" + std::to_string(i), noise(seed, kArtifactSize)});
  }
  return s;
}

// The two versions, written once per test process into a directory of
// their own (level 0: the data is incompressible, and the test measures
// shipping, not zstd).
class ShipServerTest : public ShipTest {
 protected:
  struct Versions {
    TempDir dir;
    std::string v1 = (dir.path() / "v1.cpk").string();
    std::string v2 = (dir.path() / "v2.cpk").string();
  };
  static const Versions& versions() {
    static const std::unique_ptr<Versions> written = [] {
      auto v = std::make_unique<Versions>();
      bundle::WriterOptions raw;
      raw.level = 0;
      write_bundle(v->v1, big_specs(1), raw);
      write_bundle(v->v2, big_specs(2), raw);
      return v;
    }();
    return *written;
  }

  // Pushes v1, pulls it, pushes v2, pulls it again over the first; returns
  // the second pull's report and checks every byte on the way.
  PullReport ship_two_versions(const std::string& url, const char* label) {
    auto t0 = std::chrono::steady_clock::now();
    std::string timings;
    auto lap = [&](const char* step) {
      auto t1 = std::chrono::steady_clock::now();
      timings +=
          std::string(" ") + step + " " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0)
                  .count()) +
          " ms;";
      t0 = t1;
    };
    const Versions& versions = ShipServerTest::versions();
    lap("write");
    auto pusher = open_backend(url);
    auto v1 = push_bundle(versions.v1, *pusher, "release");
    EXPECT_THAT(v1, IsOk());
    lap("push v1");
    auto fleet = open_backend(url);
    auto first = pull_bundle(*fleet, "release", path("out.cpk"));
    EXPECT_THAT(first, IsOk());
    lap("pull v1");
    EXPECT_EQ(file_digest(path("out.cpk")), file_digest(versions.v1));

    auto v2 = push_bundle(versions.v2, *pusher, "release");
    EXPECT_THAT(v2, IsOk());
    EXPECT_EQ(v2->blobs_uploaded, kChanged);
    lap("push v2");
    auto fleet2 = open_backend(url);
    auto second = pull_bundle(*fleet2, "release", path("out.cpk"));
    EXPECT_THAT(second, IsOk());
    lap("pull v2");
    std::printf("%s timings:%s\n", label, timings.c_str());
    if (!second) return {};
    EXPECT_EQ(file_digest(path("out.cpk")), file_digest(versions.v2));
    EXPECT_EQ(second->blobs_fetched, kChanged);
    EXPECT_EQ(second->blobs_from_out, kArtifacts - kChanged);

    // What crossed the network, as the backend counted it.
    uint64_t fetched = fleet2->stats().bytes_out;
    EXPECT_EQ(fetched, second->bytes_fetched + second->manifest_bytes);
    double share = double(fetched) / double(second->bundle_bytes);
    std::printf(
        "%s: second version of a %llu-byte bundle (%zu of %zu artifacts "
        "changed): fetched %llu bytes (%llu blob + %llu manifest) = %.2f%%\n",
        label, static_cast<unsigned long long>(second->bundle_bytes), kChanged,
        kArtifacts, static_cast<unsigned long long>(fetched),
        static_cast<unsigned long long>(second->bytes_fetched),
        static_cast<unsigned long long>(second->manifest_bytes), 100 * share);
    ::testing::Test::RecordProperty("bytes_fetched", std::to_string(fetched));
    EXPECT_LT(share, 0.10);
    return *second;
  }

  // Pushes and pulls a first version, pushes a second, then pulls it while
  // `interrupt` takes the server away: a typed unavailable error, and the
  // first version's file untouched with no temporary left beside it.
  void expect_interrupted_pull_keeps_old_output(
      const std::string& url, std::function<void()> interrupt) {
    auto b = open_backend(url);
    write_bundle(path("v1.cpk"), small_specs(1));
    write_bundle(path("v2.cpk"), small_specs(2));
    ASSERT_THAT(push_bundle(path("v1.cpk"), *b, "app"), IsOk());
    ASSERT_THAT(pull_bundle(*b, "app", path("out.cpk")), IsOk());
    const std::string before = read_text(path("out.cpk"));
    ASSERT_THAT(push_bundle(path("v2.cpk"), *b, "app"), IsOk());

    PullOptions o;
    o.progress = [&](const ShipProgress&) { interrupt(); };
    auto pulled = pull_bundle(*b, "app", path("out.cpk"), o);
    ASSERT_FALSE(pulled);
    EXPECT_THAT(
        pulled.error().code(),
        ::testing::AnyOf(ErrorCode::kUnavailable, ErrorCode::kDeadlineExceeded))
        << pulled.error().to_string();
    EXPECT_EQ(read_text(path("out.cpk")), before);
    EXPECT_THAT(other_files(dir_.path(), "out.cpk"),
                ::testing::UnorderedElementsAre("v1.cpk", "v2.cpk"));
  }
};

class ShipRedisTest : public ShipServerTest {
 protected:
  void SetUp() override {
    if (!testing::executable_exists(testing::kRedisServer)) {
      GTEST_SKIP() << testing::kRedisServer << " is not installed";
    }
    std::string error;
    server_ = RedisServer::start(&error);
    ASSERT_TRUE(server_) << error;
  }
  std::unique_ptr<RedisServer> server_;
};

TEST_F(ShipRedisTest, SecondVersionFetchesOnlyTheChangedArtifacts) {
  ship_two_versions(server_->url(), "redis");
}

TEST_F(ShipRedisTest, ServerKilledMidPullIsUnavailableAndKeepsTheOldOutput) {
  expect_interrupted_pull_keeps_old_output(
      server_->url("?connect_timeout_ms=500&timeout_ms=2000"),
      [this] { server_->kill_hard(); });
}

class ShipHttpTest : public ShipServerTest {
 protected:
  void SetUp() override {
    if (!testing::executable_exists(testing::kNginx)) {
      GTEST_SKIP() << testing::kNginx << " is not installed";
    }
    std::string error;
    server_ = NginxServer::start(&error);
    ASSERT_TRUE(server_) << error;
  }
  std::unique_ptr<NginxServer> server_;
};

TEST_F(ShipHttpTest, SecondVersionFetchesOnlyTheChangedArtifacts) {
  ship_two_versions(server_->url("/cache"), "http");
}

TEST_F(ShipHttpTest, ServerStoppedMidPullIsUnavailableAndKeepsTheOldOutput) {
  expect_interrupted_pull_keeps_old_output(
      server_->url("/cache?connect_timeout_ms=500&timeout_ms=2000&retries=1"),
      [this] { server_->stop(); });
}

}  // namespace
}  // namespace cachepack
