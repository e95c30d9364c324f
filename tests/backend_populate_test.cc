// populate() and export_artifacts(): policies, verification, progress,
// parallelism, per-artifact failures, round trips through every local
// backend, and several processes populating one directory at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "backends/disk_backend.h"
#include "backends/memory_backend.h"
#include "backends/torch_dir_backend.h"
#include "cachepack/artifact_types.h"
#include "cachepack/hash.h"
#include "cachepack/megacache.h"
#include "cachepack/populate.h"
#include "tests/backend_test_util.h"
#include "tests/testing/result_matchers.h"
#include "util/file.h"

namespace cachepack {
namespace {

using ::testing::IsEmpty;
using ::testing::Optional;

using testing::files_under;
using testing::IsOk;
using testing::IsOkAndHolds;
using testing::make_temp_dir;
using testing::value_or_die;

std::vector<ArtifactView> views_of(const std::vector<Artifact>& artifacts) {
  std::vector<ArtifactView> out;
  for (const auto& a : artifacts) out.push_back({a.type, a.key, a.content});
  return out;
}

Artifact make(std::string type, std::string key, std::string content) {
  return Artifact{std::move(type), std::move(key), to_bytes(content)};
}

// One artifact of each type torch 2.13 writes, keys shaped as PyTorch
// makes them.
std::vector<Artifact> pytorch_shaped() {
  return {
      make("inductor", "f" + std::string(51, 'c'), "graph"),
      make("aot_autograd", "a" + std::string(51, 'd'), "aot"),
      make("autotune", "xy/" + std::string(64, '1') + ".best_config",
           "{\"XBLOCK\": 16}"),
      make("pgo", "job-7_None_tag", "pgo state"),
      make("precompile", std::string(64, '2'), "precompiled"),
  };
}

std::vector<Artifact> sorted(std::vector<Artifact> v) {
  std::sort(v.begin(), v.end(), [](const Artifact& a, const Artifact& b) {
    return std::tie(a.type, a.key, a.content) <
           std::tie(b.type, b.key, b.content);
  });
  return v;
}

// Returns a corrupted copy of every value it hands out.
class CorruptingBackend final : public Backend {
 public:
  std::string url() const override { return "test://corrupting"; }

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline d) override {
    auto r = inner_.get(ns, key, d);
    if (r && *r && !(*r)->empty()) (**r)[0] ^= std::byte{1};
    return r;
  }
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan v,
                      PutMode m, Deadline d) override {
    return inner_.put(ns, key, v, m, d);
  }
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline d) override {
    return inner_.remove(ns, key, d);
  }
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline d) override {
    return inner_.list(ns, d);
  }
  Result<std::vector<std::string>> do_namespaces(Deadline d) override {
    return inner_.namespaces(d);
  }

 private:
  MemoryBackend inner_;
};

TEST(Populate, StoresEveryArtifactAndSummarisesByType) {
  MemoryBackend mem;
  auto artifacts = pytorch_shaped();
  auto report = populate(views_of(artifacts), mem);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->stored(), 5u);
  ASSERT_EQ(report->by_type.size(), 5u);
  EXPECT_EQ(report->info.keys("inductor"),
            std::vector<std::string>{artifacts[0].key});
  EXPECT_EQ(report->info.total(), 5u);
  EXPECT_EQ(report->by_type["inductor"].bytes_stored, 5u);
  ASSERT_EQ(report->artifacts.size(), 5u);
  EXPECT_EQ(report->artifacts[3].type, "pgo");
  EXPECT_EQ(report->artifacts[3].outcome, PopulateOutcome::kStored);
  EXPECT_THAT(mem.get("pgo", "job-7_None_tag"),
              IsOkAndHolds(Optional(to_bytes("pgo state"))));
}

TEST(Populate, SkipExistingLeavesStoredEntriesAlone) {
  MemoryBackend mem;
  ASSERT_TRUE(mem.put("inductor", "k", to_bytes("old"), PutMode::kOverwrite));
  std::vector<Artifact> a = {make("inductor", "k", "new"),
                             make("inductor", "k2", "v")};
  auto report =
      populate(views_of(a), mem, {.policy = PopulatePolicy::kSkipExisting});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->artifacts[0].outcome, PopulateOutcome::kSkipped);
  EXPECT_EQ(report->skipped(), 1u);
  EXPECT_EQ(report->stored(), 1u);
  EXPECT_EQ(report->info.keys("inductor"),
            (std::vector<std::string>{"k", "k2"}));
  EXPECT_THAT(mem.get("inductor", "k"),
              IsOkAndHolds(Optional(to_bytes("old"))));
}

TEST(Populate, OverwriteReplacesStoredEntries) {
  MemoryBackend mem;
  ASSERT_TRUE(mem.put("inductor", "k", to_bytes("old"), PutMode::kOverwrite));
  std::vector<Artifact> a = {make("inductor", "k", "new")};
  auto report =
      populate(views_of(a), mem, {.policy = PopulatePolicy::kOverwrite});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->stored(), 1u);
  EXPECT_THAT(mem.get("inductor", "k"),
              IsOkAndHolds(Optional(to_bytes("new"))));
}

TEST(Populate, VerifyCatchesABackendThatReturnsOtherBytes) {
  CorruptingBackend bad;
  std::vector<Artifact> a = {make("inductor", "k", "value"),
                             make("inductor", "empty", "")};
  for (unsigned threads : {1u, 2u}) {
    auto report =
        populate(views_of(a), bad,
                 {.policy = PopulatePolicy::kVerify, .threads = threads});
    ASSERT_TRUE(report);
    ASSERT_EQ(report->artifacts[0].outcome, PopulateOutcome::kFailed);
    EXPECT_EQ(report->artifacts[0].error->code(), ErrorCode::kDataLoss);
    EXPECT_EQ(report->artifacts[1].outcome, PopulateOutcome::kStored);
    EXPECT_EQ(report->failed(), 1u);
    EXPECT_FALSE(report->ok());
  }
}

TEST(Populate, VerifyPassesOnAnHonestBackend) {
  auto disk = value_or_die(DiskBackend::open({.root = make_temp_dir()}));
  auto artifacts = pytorch_shaped();
  auto report =
      populate(views_of(artifacts), *disk, {.policy = PopulatePolicy::kVerify});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->stored(), 5u);
  EXPECT_TRUE(report->ok());
}

TEST(Populate, ReportsProgressOncePerArtifact) {
  MemoryBackend mem;
  std::vector<Artifact> a;
  for (int i = 0; i < 100; ++i) {
    a.push_back(make("inductor", "k" + std::to_string(i), "xx"));
  }
  for (unsigned threads : {1u, 4u}) {
    std::vector<uint64_t> seen;
    uint64_t bytes = 0;
    auto report = populate(views_of(a), mem,
                           {.policy = PopulatePolicy::kOverwrite,
                            .threads = threads,
                            .progress = [&](const PopulateProgress& p) {
                              seen.push_back(p.done);
                              bytes = p.bytes_done;
                              EXPECT_EQ(p.total, 100u);
                              EXPECT_NE(p.last, nullptr);
                            }});
    ASSERT_TRUE(report);
    ASSERT_EQ(seen.size(), 100u);
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
    EXPECT_EQ(bytes, 200u);
  }
}

TEST(Populate, FailedPrecheckWritesNothing) {
  MemoryBackend mem;
  auto artifacts = pytorch_shaped();
  auto report = populate(
      views_of(artifacts), mem, {.precheck = []() -> Result<void> {
        return make_error(ErrorCode::kPermissionDenied, ErrorReason::kSignature,
                          "bundle is not signed");
      }});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(mem.namespaces(), IsOkAndHolds(IsEmpty()));
}

TEST(Populate, OneBadArtifactDoesNotStopTheRest) {
  auto dir = value_or_die(TorchDirBackend::open({.root = make_temp_dir()}));
  auto artifacts = pytorch_shaped();
  artifacts.insert(artifacts.begin() + 2, make("inductor", "../../x", "bad"));
  artifacts.push_back(make("user_type", "k", "no home in PyTorch's dir"));
  auto report = populate(views_of(artifacts), *dir);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->stored(), 5u);
  EXPECT_EQ(report->failed(), 1u);
  EXPECT_EQ(report->artifacts[2].error->reason(), ErrorReason::kInvalidKey);
  // A type PyTorch's directory has no place for is skipped, saying why.
  EXPECT_EQ(report->artifacts.back().outcome, PopulateOutcome::kSkipped);
  EXPECT_EQ(report->artifacts.back().skip_reason, SkipReason::kUnsupported);
  EXPECT_NE(report->artifacts.back().note.find("user_type"), std::string::npos);
  EXPECT_EQ(report->by_type["user_type"].unsupported, 1u);
  EXPECT_TRUE(report->info.keys("user_type").empty());
}

TEST(Populate, StrictTypesMakesATypeWithoutAPlaceAFailure) {
  auto dir = value_or_die(TorchDirBackend::open({.root = make_temp_dir()}));
  std::vector<Artifact> a = {make("user_type", "k", "v")};
  auto report = populate(views_of(a), *dir, {.strict_types = true});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->failed(), 1u);
  EXPECT_EQ(report->artifacts[0].error->code(), ErrorCode::kUnimplemented);
}

// Two saves, or two appended versions of a bundle, may hold one key twice:
// the newest wins whatever the policy, as it does for cat and get.
TEST(Populate, NewestOccurrenceOfAKeyWinsUnderEveryPolicy) {
  for (auto policy : {PopulatePolicy::kSkipExisting, PopulatePolicy::kOverwrite,
                      PopulatePolicy::kVerify}) {
    for (unsigned threads : {1u, 3u}) {
      MemoryBackend mem;
      std::vector<Artifact> a = {make("pgo", "k", "old"),
                                 make("autotune", "t", "x"),
                                 make("pgo", "k", "new")};
      auto report =
          populate(views_of(a), mem, {.policy = policy, .threads = threads});
      ASSERT_TRUE(report);
      EXPECT_THAT(mem.get("pgo", "k"), IsOkAndHolds(Optional(to_bytes("new"))))
          << to_string(policy);
      EXPECT_EQ(report->artifacts[0].skip_reason, SkipReason::kSuperseded);
      EXPECT_EQ(report->artifacts[2].outcome, PopulateOutcome::kStored);
      EXPECT_EQ(report->by_type["pgo"].superseded, 1u);
      EXPECT_EQ(report->info.keys("pgo"), std::vector<std::string>{"k"});
    }
  }
}

// Graphs may launch Triton kernels while they load, so PyTorch loads
// triton_runtime before every other type; populate writes them first too.
TEST(Populate, WritesTritonRuntimeBeforeEveryOtherType) {
  // Records the order of writes, whichever path (batched or streamed).
  struct Recorder final : Backend {
    std::vector<std::string> order;
    MemoryBackend inner;
    std::string url() const override { return "test://recorder"; }
    Result<std::optional<Bytes>> do_get(std::string_view ns,
                                        std::string_view key,
                                        Deadline d) override {
      return inner.get(ns, key, d);
    }
    Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan v,
                        PutMode m, Deadline d) override {
      order.emplace_back(ns);
      return inner.put(ns, key, v, m, d);
    }
    Result<bool> do_put_stream(std::string_view ns, std::string_view key,
                               ContentSource& source, PutMode m,
                               Deadline d) override {
      order.emplace_back(ns);
      return inner.put_stream(ns, key, source, m, d);
    }
    Result<bool> do_remove(std::string_view ns, std::string_view key,
                           Deadline d) override {
      return inner.remove(ns, key, d);
    }
    Result<std::vector<std::string>> do_list(std::string_view ns,
                                             Deadline d) override {
      return inner.list(ns, d);
    }
    Result<std::vector<std::string>> do_namespaces(Deadline d) override {
      return inner.namespaces(d);
    }
  };
  Bytes kernels = to_bytes("kernels");
  std::vector<Artifact> a = {
      make("inductor", "f" + std::string(51, 'c'), std::string(5 << 20, 'g')),
      make("pgo", "job:None:", "pgo"),
      Artifact{"triton_runtime", sha256_hex(kernels), kernels}};
  Recorder recorder;
  auto report = populate(views_of(a), recorder);
  ASSERT_TRUE(report && report->ok());
  ASSERT_EQ(recorder.order.size(), 3u);
  EXPECT_EQ(recorder.order.front(), "triton_runtime");
}

// Eviction by a size-limited backend is not corruption.
TEST(Populate, VerifyReportsEvictionAsResourceExhaustedNotDataLoss) {
  MemoryBackend mem({.max_bytes = 100});
  std::vector<Artifact> a;
  for (int i = 0; i < 4; ++i) {
    a.push_back(make("pgo", "k" + std::to_string(i), std::string(40, 'x')));
  }
  auto report = populate(views_of(a), mem,
                         {.policy = PopulatePolicy::kVerify, .threads = 2});
  ASSERT_TRUE(report);
  for (const auto& r : report->artifacts) {
    if (r.outcome != PopulateOutcome::kFailed) continue;
    EXPECT_EQ(r.error->code(), ErrorCode::kResourceExhausted)
        << r.error->to_string();
  }
}

// A source whose contents come in 3-byte pieces and whose last piece is
// an error, like a bundle entry whose SHA-256 does not match.
class FailingAtTheEnd final : public ArtifactSource {
 public:
  size_t size() const override { return 1; }
  const SourceArtifact& at(size_t) const override { return artifact_; }
  Result<std::unique_ptr<ContentSource>> open(size_t) const override {
    struct Pieces final : ContentSource {
      int left = 4;
      uint64_t size() const override { return 9; }
      Result<ByteSpan> next() override {
        static const Bytes piece = to_bytes("abc");
        if (--left > 0) return ByteSpan(piece);
        return make_error(ErrorCode::kDataLoss, "digest mismatch");
      }
    };
    return std::make_unique<Pieces>();
  }

 private:
  SourceArtifact artifact_{"aot_autograd", "a" + std::string(51, 'k'), 9};
};

TEST(Populate, ASourceErrorAtTheEndStoresNothing) {
  std::string root = make_temp_dir();
  auto dir = value_or_die(TorchDirBackend::open({.root = root}));
  auto disk = value_or_die(DiskBackend::open({.root = make_temp_dir()}));
  MemoryBackend mem;
  for (Backend* b :
       std::initializer_list<Backend*>{dir.get(), disk.get(), &mem}) {
    auto report = populate(FailingAtTheEnd(), *b);
    ASSERT_TRUE(report);
    ASSERT_EQ(report->failed(), 1u) << b->url();
    EXPECT_EQ(report->artifacts[0].error->code(), ErrorCode::kDataLoss);
    EXPECT_THAT(b->list("aot_autograd"), IsOkAndHolds(IsEmpty())) << b->url();
  }
  EXPECT_TRUE(files_under(root).empty());  // Not even a temp file.
}

// PyTorch's FX-graph cache keeps one file per content under a key (told
// apart by guards on load): populate adds, export returns them all.
TEST(Populate, SeveralContentsUnderOneFxGraphKeyAllReachTheTorchDirAndBack) {
  std::string root = make_temp_dir();
  auto dir = value_or_die(TorchDirBackend::open({.root = root}));
  std::string key = "f" + std::string(51, 'g');
  std::vector<Artifact> a = {make("inductor", key, "guards A"),
                             make("inductor", key, "guards B"),
                             make("inductor", key, "guards A")};
  auto report = populate(views_of(a), *dir);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->stored(), 2u);
  EXPECT_EQ(report->skipped(), 1u);
  EXPECT_EQ(files_under(root + "/fxgraph").size(), 2u);
  auto exported = export_artifacts(*dir);
  ASSERT_TRUE(exported);
  EXPECT_EQ(sorted(*exported), sorted({a[0], a[1]}));
  // Verify rewrites and checks each content without dropping the other.
  auto verified = populate(views_of(a), *dir,
                           {.policy = PopulatePolicy::kVerify, .threads = 2});
  ASSERT_TRUE(verified);
  EXPECT_EQ(verified->stored(), 3u);
  EXPECT_EQ(files_under(root + "/fxgraph").size(), 2u);
}

TEST(Populate, SameKeyArtifactsEndWithTheNewestWithManyThreads) {
  MemoryBackend mem;
  std::vector<Artifact> a;
  for (int i = 0; i < 50; ++i) {
    a.push_back(make("pgo", "k" + std::to_string(i % 5), std::to_string(i)));
  }
  auto report = populate(views_of(a), mem,
                         {.policy = PopulatePolicy::kOverwrite, .threads = 4});
  ASSERT_TRUE(report);
  for (int k = 0; k < 5; ++k) {
    EXPECT_THAT(mem.get("pgo", "k" + std::to_string(k)),
                IsOkAndHolds(Optional(to_bytes(std::to_string(45 + k)))));
  }
}

TEST(Populate, ZeroThreadsIsInvalid) {
  MemoryBackend mem;
  auto r = populate({}, mem, {.threads = 0});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(Populate, ParsesPolicyNames) {
  EXPECT_THAT(parse_populate_policy("verify"),
              IsOkAndHolds(PopulatePolicy::kVerify));
  EXPECT_THAT(parse_populate_policy("skip-existing"),
              IsOkAndHolds(PopulatePolicy::kSkipExisting));
  auto bad = parse_populate_policy("sometimes");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("skip-existing, overwrite or verify"),
            std::string::npos);
}

class RoundTrip : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Backend> open() {
    std::string kind = GetParam();
    if (kind == "memory") return std::make_unique<MemoryBackend>();
    if (kind == "disk")
      return value_or_die(DiskBackend::open({.root = make_temp_dir()}));
    return value_or_die(TorchDirBackend::open({.root = make_temp_dir()}));
  }
};

TEST_P(RoundTrip, ExportOfPopulateGivesBackTheArtifacts) {
  auto backend = open();
  auto artifacts = pytorch_shaped();
  auto report = populate(views_of(artifacts), *backend, {.threads = 3});
  ASSERT_TRUE(report && report->ok());
  auto exported = export_artifacts(*backend);
  ASSERT_THAT(exported, IsOk());
  EXPECT_EQ(sorted(*exported), sorted(artifacts));
}

TEST_P(RoundTrip, ExportsSelectedNamespacesAndKeys) {
  auto backend = open();
  auto artifacts = pytorch_shaped();
  ASSERT_TRUE(populate(views_of(artifacts), *backend));
  auto only = export_artifacts(
      *backend,
      {.namespaces = {"autotune"},
       .keys = {{"pgo", "job-7_None_tag"}, {"autotune", artifacts[2].key}}});
  ASSERT_THAT(only, IsOk());
  ASSERT_EQ(only->size(), 2u);
  EXPECT_EQ((*only)[0], artifacts[2]);
  EXPECT_EQ((*only)[1], artifacts[3]);
  auto missing = export_artifacts(
      *backend, {.keys = {{"inductor", "f" + std::string(51, 'z')}}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Local, RoundTrip,
                         ::testing::Values("memory", "disk", "torch_dir"));

// PyTorch-generated vector: 500 artifacts of six types. Under overwrite
// the last artifact of each key wins (as PyTorch's populate in blob order);
// PGO keys come back sanitised; inductor_triton, which PyTorch keeps in
// memory, is skipped as unsupported.
TEST(Populate, PyTorchVectorRoundTripsThroughTorchDir) {
  const char* vectors = std::getenv("CACHEPACK_VECTORS");
  if (vectors == nullptr) GTEST_SKIP() << "CACHEPACK_VECTORS not set";
  auto file = MappedFile::open(std::string(vectors) + "/large.bin");
  ASSERT_THAT(file, IsOk());
  auto blob = megacache::parse(file->bytes());
  ASSERT_THAT(blob, IsOk());
  auto views = blob->artifacts();
  ASSERT_EQ(views.size(), 500u);
  std::map<std::pair<std::string, std::string>, Artifact> expected;
  size_t in_process = 0;
  for (const auto& v : views) {
    Artifact a = v.to_owned();
    if (a.type == "inductor_triton") {
      ++in_process;
      continue;
    }
    if (a.type == "pgo") a.key = sanitize_pgo_key(a.key);
    expected[{a.type, a.key}] = a;
  }
  ASSERT_GT(in_process, 0u);
  auto dir = value_or_die(TorchDirBackend::open({.root = make_temp_dir()}));
  auto report = populate(views, *dir,
                         {.policy = PopulatePolicy::kOverwrite, .threads = 2});
  ASSERT_TRUE(report);
  ASSERT_TRUE(report->ok());
  EXPECT_EQ(report->by_type["inductor_triton"].unsupported, in_process);
  auto exported = export_artifacts(*dir);
  ASSERT_TRUE(exported);
  std::vector<Artifact> want;
  for (auto& [_, a] : expected) want.push_back(a);
  EXPECT_EQ(sorted(*exported), sorted(want));
}

// Several processes populate overlapping artifact sets into one directory
// at once; afterwards every entry is complete and no temp file is left.
void race_populate(const std::function<std::unique_ptr<Backend>()>& open,
                   const std::string& root) {
  std::vector<Artifact> all;
  for (int i = 0; i < 60; ++i) {
    std::string n = std::to_string(i);
    all.push_back(
        make("inductor", "f" + std::string(51 - n.size(), 'k') + n,
             std::string(2000 + i * 100, static_cast<char>('a' + i % 26))));
  }
  auto views = views_of(all);
  std::vector<pid_t> pids;
  for (int p = 0; p < 4; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto backend = open();
      // Each process writes 40 of the 60, starting at a different offset.
      std::vector<ArtifactView> mine;
      for (int i = 0; i < 40; ++i) mine.push_back(views[(p * 15 + i) % 60]);
      auto policy =
          p % 2 ? PopulatePolicy::kOverwrite : PopulatePolicy::kSkipExisting;
      auto r = populate(mine, *backend, {.policy = policy, .threads = 2});
      ::_exit(r && r->ok() ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto backend = open();
  auto exported = export_artifacts(*backend);
  ASSERT_THAT(exported, IsOk());
  EXPECT_EQ(sorted(*exported), sorted(all));
  for (const auto& f : files_under(root)) {
    EXPECT_FALSE(f.ends_with(".tmp")) << f;
  }
}

TEST(Populate, ConcurrentProcessesLeaveATorchDirConsistent) {
  std::string root = make_temp_dir();
  race_populate(
      [&] { return value_or_die(TorchDirBackend::open({.root = root})); },
      root);
}

TEST(Populate, ConcurrentProcessesLeaveADiskCacheConsistent) {
  std::string root = make_temp_dir();
  race_populate([&] { return value_or_die(DiskBackend::open({.root = root})); },
                root);
}

}  // namespace
}  // namespace cachepack
