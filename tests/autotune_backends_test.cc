// Best-config records and autotune bundles round trip through every kind of
// backend cachepack opens by URL: mem://, file:// (disk), torch:// (PyTorch's
// own cache dir) and a real redis-server in PyTorch's key layout, where the
// keys are the ones torch 2.13 itself reads.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cachepack/all_backends.h"
#include "cachepack/autotune.h"
#include "tests/server_fixture.h"
#include "tests/testing/result_matchers.h"

namespace cachepack::autotune {
namespace {

using ::cachepack::testing::IsOk;
using ::cachepack::testing::IsOkAndHolds;
using ::cachepack::testing::RedisServer;
using ::cachepack::testing::TempDir;

enum class Kind { kMemory, kDisk, kTorch, kRedis };

std::string kind_name(const ::testing::TestParamInfo<Kind>& info) {
  switch (info.param) {
    case Kind::kMemory:
      return "Memory";
    case Kind::kDisk:
      return "Disk";
    case Kind::kTorch:
      return "TorchDir";
    case Kind::kRedis:
      return "Redis";
  }
  return "Unknown";
}

Bytes torch_key() {
  Bytes key;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<std::byte>(7 * i));
  return key;
}

KernelKeys keys_of(int kernel, const std::string& dir) {
  std::string name = "c" + std::string(50, 'a' + kernel % 26);
  return kernel_keys(
      {.kernel_file = dir + "/" + name.substr(1, 2) + "/" + name + ".py",
       .torch_key = torch_key(),
       .backend_hash = "BACKEND",
       .configs_hash = "configs-" + std::to_string(kernel)});
}

Record record_of(int kernel) {
  return Record::from_config(
      TritonConfig{.kwargs = {{"XBLOCK", std::to_string(16 << kernel)},
                              {"R0_BLOCK", "8"}},
                   .num_warps = 4,
                   .num_stages = 1 + kernel % 3},
      "configs-" + std::to_string(kernel), kernel % 2 == 1,
      (kernel + 1) * 1'500'000, "triton-hash");
}

class AutotuneBackends : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    auto registry = registry_with_all_backends();
    ASSERT_TRUE(registry.has_value());
    registry_ = std::move(*registry);
    std::string url;
    switch (GetParam()) {
      case Kind::kMemory:
        url = "mem://";
        break;
      case Kind::kDisk:
        url = "file://" + (dir_.path() / "disk").string();
        break;
      case Kind::kTorch:
        url = "torch://" + cache_dir();
        break;
      case Kind::kRedis: {
        if (!::cachepack::testing::executable_exists(
                ::cachepack::testing::kRedisServer)) {
          GTEST_SKIP() << ::cachepack::testing::kRedisServer
                       << " is not installed";
        }
        std::string error;
        redis_ = RedisServer::start(&error);
        ASSERT_NE(redis_, nullptr) << error;
        url = redis_->url("?layout=pytorch&connect_timeout_ms=500");
        break;
      }
    }
    auto backend = registry_->open(url);
    ASSERT_TRUE(backend.has_value()) << backend.error().to_string();
    backend_ = std::move(*backend);
    auto torch = registry_->open("torch://" + (dir_.path() / "warm").string());
    ASSERT_TRUE(torch.has_value());
    warm_ = std::move(*torch);
  }

  std::string cache_dir() const { return (dir_.path() / "cache").string(); }
  // torch:// keeps PyTorch's own layout, which has no place for remote
  // namespaces (a cache id, bundled-autotune-v1).
  bool holds_remote() const { return GetParam() != Kind::kTorch; }

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<BackendRegistry> registry_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Backend> warm_;  // A torch:// cache dir to expand into.
};

TEST_P(AutotuneBackends, LocalRecordsRoundTrip) {
  for (int k = 0; k < 5; ++k) {
    KernelCache cache{.keys = keys_of(k, cache_dir()), .local = backend_.get()};
    ASSERT_THAT(save(cache, record_of(k)), IsOk());
  }
  for (int k = 0; k < 5; ++k) {
    KernelCache cache{.keys = keys_of(k, cache_dir()), .local = backend_.get()};
    auto found = read(cache);
    ASSERT_TRUE(found.has_value() && found->has_value()) << k;
    EXPECT_FALSE((*found)->from_remote);
    EXPECT_EQ((*found)->record.to_json(), record_of(k).to_json());
    auto selected =
        select((*found)->record, "configs-" + std::to_string(k), {});
    ASSERT_TRUE(selected.has_value() && selected->has_value());
    EXPECT_EQ((*selected)->config.num_stages, 1 + k % 3);
  }
  if (GetParam() == Kind::kTorch) {
    // Where PyTorch's LocalAutotuneCache reads it, byte for byte.
    KernelKeys keys = keys_of(3, cache_dir());
    std::ifstream in(keys.local_path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    EXPECT_EQ(text, record_of(3).to_json());
  }
}

TEST_P(AutotuneBackends, RemoteRecordsRoundTrip) {
  if (!holds_remote()) GTEST_SKIP() << "torch:// holds local records only";
  for (int k = 0; k < 5; ++k) {
    KernelCache cache{.keys = keys_of(k, cache_dir()),
                      .remote = backend_.get()};
    ASSERT_THAT(save(cache, record_of(k)), IsOk());
  }
  for (int k = 0; k < 5; ++k) {
    KernelCache cache{.keys = keys_of(k, cache_dir()),
                      .remote = backend_.get()};
    auto found = read(cache);
    ASSERT_TRUE(found.has_value() && found->has_value()) << k;
    EXPECT_TRUE((*found)->from_remote);
    EXPECT_EQ((*found)->record.to_json(), record_of(k).to_json());
  }
}

TEST_P(AutotuneBackends, BundleRoundTripsAndExpandsIntoATorchCacheDir) {
  if (!holds_remote()) GTEST_SKIP() << "torch:// holds no bundles";
  auto scratch = registry_->open("mem://");
  ASSERT_TRUE(scratch.has_value());
  std::string code = comment_stripped_hash("def kernel():  # run 1\n  pass\n");
  {
    auto bundler = Bundler::begin(*backend_, **scratch, code, "BACKEND");
    ASSERT_TRUE(bundler.has_value()) << bundler.error().to_string();
    ASSERT_TRUE(bundler->collecting());
    for (int k = 0; k < 4; ++k) {
      KernelCache cache{.keys = keys_of(k, cache_dir()),
                        .local = scratch->get(),
                        .bundler = &*bundler};
      ASSERT_THAT(save(cache, record_of(k)), IsOk());
    }
    ASSERT_THAT(bundler->end(), IsOkAndHolds(true));
  }
  // Another compile of the same code (comments differ) hits.
  std::string same = comment_stripped_hash("def kernel():  # run 2\n  pass\n");
  auto bundler = Bundler::begin(*backend_, *warm_, same, "BACKEND");
  ASSERT_TRUE(bundler.has_value()) << bundler.error().to_string();
  ASSERT_TRUE(bundler->hit().has_value());
  EXPECT_EQ(bundler->hit()->records, 4u);
  EXPECT_EQ(bundler->hit()->time_taken_ms, 1 + 3 + 4 + 6);
  for (int k = 0; k < 4; ++k) {
    std::string path = keys_of(k, cache_dir()).local_path;
    std::string name = path.substr(path.rfind('/') + 1);
    auto key = bundle_entry_artifact_key(name);
    ASSERT_TRUE(key.has_value());
    auto stored = warm_->get(kLocalNamespace, *key);
    ASSERT_TRUE(stored.has_value() && stored->has_value()) << *key;
    EXPECT_EQ(as_chars(**stored), record_of(k).to_json());
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, AutotuneBackends,
                         ::testing::Values(Kind::kMemory, Kind::kDisk,
                                           Kind::kTorch, Kind::kRedis),
                         kind_name);

}  // namespace
}  // namespace cachepack::autotune
