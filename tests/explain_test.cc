// explain(): what populating a target from a bundle would do, environment
// first, then per type the keys the target holds and lacks.
#include "cachepack/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/memory_backend.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "tests/testing/bundle_test_util.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using bundle::BundleReader;
using bundle::BundleWriter;
using bundle::testing::TempDir;
using ::testing::ElementsAre;
using testing::HasError;
using ::testing::HasSubstr;
using testing::IsOk;

// A memory backend that can be told to refuse one type (as PyTorch's cache
// directory refuses types it has no place for), to be unable to list (as a
// Bazel-protocol HTTP cache), or to be down.
class TestBackend final : public Backend {
 public:
  std::string refused_type;
  bool can_list = true;
  bool down = false;
  MemoryBackend inner;

  std::string url() const override { return "test://"; }

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline d) override {
    return inner.get(ns, key, d);
  }
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan value,
                      PutMode mode, Deadline d) override {
    return inner.put(ns, key, value, mode, d);
  }
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline d) override {
    if (down) {
      return backend_error(ErrorCode::kUnavailable, "contains", "down", key);
    }
    if (ns == refused_type) {
      return backend_error(ErrorCode::kUnimplemented, "contains",
                           "no place for " + std::string(ns), key);
    }
    return inner.contains(ns, key, d);
  }
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline d) override {
    return inner.remove(ns, key, d);
  }
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline d) override {
    if (!can_list) {
      return backend_error(ErrorCode::kUnimplemented, "list", "cannot list");
    }
    return inner.list(ns, d);
  }
  Result<std::vector<std::string>> do_namespaces(Deadline d) override {
    return inner.namespaces(d);
  }
};

void put(Backend& b, std::string_view type, std::string_view key) {
  ASSERT_THAT(b.put(type, key, to_bytes("x"), PutMode::kOverwrite), IsOk());
}

struct Entry {
  std::string type, key;
};

// A bundle at `path` holding `entries` (content "c") and, if given, an
// environment.
BundleReader make_bundle(const std::string& path,
                         const std::vector<Entry>& entries,
                         const std::optional<Environment>& env = {}) {
  bundle::WriterOptions options;
  if (env) record_environment(options, *env);
  auto writer = testing::value_or_die(BundleWriter::create(path, options));
  for (const auto& e : entries) {
    EXPECT_THAT(writer.add(e.type, e.key, to_bytes("c")), IsOk());
  }
  testing::value_or_die(writer.finish());
  return testing::value_or_die(BundleReader::open(path));
}

const TypeExplanation* find_type(const Explanation& x, std::string_view type) {
  for (const auto& t : x.types) {
    if (t.type == type) return &t;
  }
  ADD_FAILURE() << "no type " << type;
  return nullptr;
}

TEST(Explain, WithoutATargetCountsArtifactsAndKeysPerTypeInFirstUseOrder) {
  TempDir dir;
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"},
                                                {"autotune", "a/1.best_config"},
                                                {"inductor", "f2"},
                                                {"inductor", "f1"}});
  auto x = explain(reader);
  ASSERT_THAT(x, IsOk());
  EXPECT_FALSE(x->recorded.has_value());
  EXPECT_TRUE(x->target_url.empty());
  ASSERT_EQ(x->types.size(), 2u);
  EXPECT_EQ(x->types[0].type, "inductor");
  EXPECT_EQ(x->types[0].artifacts, 3u);
  EXPECT_EQ(x->types[0].keys, 2u);
  EXPECT_EQ(x->types[1].type, "autotune");
  EXPECT_EQ(x->types[1].artifacts, 1u);
  EXPECT_THAT(explanation_to_text(*x),
              ::testing::StartsWith("environment: no environment recorded\n"
                                    "inductor: 3 artifacts, 2 keys\n"
                                    "autotune: 1 artifact, 1 key\n"));
}

TEST(Explain, CountsTheKeysTheTargetHoldsAndThoseItWouldWrite) {
  TempDir dir;
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"},
                                                {"inductor", "f2"},
                                                {"inductor", "f3"},
                                                {"pgo", "job:0:"}});
  TestBackend target;
  put(target, "inductor", "f2");
  put(target, "inductor", "f9");      // Not in the bundle.
  put(target, "aot_autograd", "a1");  // A type the bundle lacks: not shown.
  auto x = explain(reader, {.target = &target});
  ASSERT_THAT(x, IsOk());
  EXPECT_EQ(x->target_url, "test://");
  ASSERT_EQ(x->types.size(), 2u);
  const TypeExplanation* inductor = find_type(*x, "inductor");
  ASSERT_NE(inductor, nullptr);
  EXPECT_EQ(inductor->present, 1u);
  EXPECT_EQ(inductor->would_write, 2u);
  EXPECT_THAT(inductor->missing.keys, ElementsAre("f1", "f3"));
  ASSERT_TRUE(inductor->target_only.has_value());
  EXPECT_THAT(inductor->target_only->keys, ElementsAre("f9"));
  const TypeExplanation* pgo = find_type(*x, "pgo");
  ASSERT_NE(pgo, nullptr);
  EXPECT_EQ(pgo->present, 0u);
  EXPECT_EQ(pgo->would_write, 1u);
  EXPECT_THAT(explanation_to_text(*x),
              HasSubstr("target: test://\n"
                        "inductor: 3 artifacts, 3 keys; 1 already in the "
                        "target, 2 would be written\n"
                        "  missing from the target: f1, f3\n"
                        "  only in the target: f9\n"
                        "pgo: 1 artifact, 1 key; 0 already in the target, 1 "
                        "would be written\n"
                        "  missing from the target: job:0:\n"));
}

TEST(Explain, ListsAtMostMaxKeysPerTypeAndCountsTheRest) {
  TempDir dir;
  std::vector<Entry> entries;
  TestBackend target;
  for (int i = 0; i < 25; ++i) {
    entries.push_back({"inductor", "f" + std::to_string(100 + i)});
    put(target, "inductor", "t" + std::to_string(100 + i));
  }
  auto reader = make_bundle(dir.file("b.cpk"), entries);
  auto x = explain(reader, {.target = &target, .max_keys = 10});
  ASSERT_THAT(x, IsOk());
  const TypeExplanation& t = x->types.at(0);
  EXPECT_EQ(t.missing.keys.size(), 10u);
  EXPECT_EQ(t.missing.keys.front(), "f100");
  EXPECT_EQ(t.missing.more, 15u);
  EXPECT_EQ(t.missing.total(), 25u);
  ASSERT_TRUE(t.target_only.has_value());
  EXPECT_EQ(t.target_only->keys.size(), 10u);
  EXPECT_EQ(t.target_only->more, 15u);
  EXPECT_THAT(explanation_to_text(*x), HasSubstr("f109 and 15 more\n"));
}

TEST(Explain, TargetOnlyKeysAreUnknownWhenTheBackendCannotList) {
  TempDir dir;
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"}});
  TestBackend target;
  target.can_list = false;
  put(target, "inductor", "f1");
  auto x = explain(reader, {.target = &target});
  ASSERT_THAT(x, IsOk());
  EXPECT_EQ(x->types.at(0).present, 1u);
  EXPECT_FALSE(x->types.at(0).target_only.has_value());
}

TEST(Explain, ATypeTheTargetHasNoPlaceForIsReportedAndTheOthersGoOn) {
  TempDir dir;
  auto reader = make_bundle(dir.file("b.cpk"),
                            {{"triton_runtime", "k"}, {"inductor", "f1"}});
  TestBackend target;
  target.refused_type = "triton_runtime";
  auto x = explain(reader, {.target = &target});
  ASSERT_THAT(x, IsOk());
  const TypeExplanation* refused = find_type(*x, "triton_runtime");
  ASSERT_NE(refused, nullptr);
  ASSERT_TRUE(refused->target_error.has_value());
  EXPECT_EQ(refused->target_error->code(), ErrorCode::kUnimplemented);
  EXPECT_EQ(refused->would_write, 0u);
  EXPECT_EQ(find_type(*x, "inductor")->would_write, 1u);
  EXPECT_THAT(explanation_to_text(*x),
              HasSubstr("triton_runtime: 1 artifact, 1 key; the target cannot "
                        "hold them: contains: no place for triton_runtime\n"));
}

TEST(Explain, ATargetThatIsDownFailsTheExplanation) {
  TempDir dir;
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"}});
  TestBackend target;
  target.down = true;
  EXPECT_THAT(explain(reader, {.target = &target}),
              HasError(ErrorCode::kUnavailable));
}

TEST(Explain, PutsTheRecordedEnvironmentsDifferencesFirst) {
  TempDir dir;
  Environment recorded;
  recorded.torch_version = "2.13.0+cpu";
  recorded.libc = "glibc 2.36";
  recorded.gpu_name = "NVIDIA H100";
  Environment here;
  here.torch_version = "2.14.1";
  here.libc = "glibc 2.31";
  here.cpu_arch = "x86_64";
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"}}, recorded);
  auto x = explain(reader, {.target_environment = here});
  ASSERT_THAT(x, IsOk());
  ASSERT_TRUE(x->recorded.has_value());
  EXPECT_EQ(*x->recorded, recorded);
  EXPECT_TRUE(x->blocked());
  ASSERT_EQ(x->differences.size(), 2u);
  ASSERT_EQ(x->uncompared.size(), 2u);
  EXPECT_EQ(explanation_to_text(*x),
            "environment: 2 differences in 2 fields compared, 1 blocking\n"
            "  blocks: made with torch 2.13.0+cpu; here 2.14.1: no artifact "
            "can hit\n"
            "  warns: made with libc glibc 2.36; here glibc 2.31: not in "
            "PyTorch's cache keys; artifacts can still hit\n"
            "  not compared: gpu_name unknown here (made with NVIDIA H100)\n"
            "  not compared: cpu_arch not recorded (here x86_64)\n"
            "inductor: 1 artifact, 1 key\n");
}

TEST(Explain, AMatchingEnvironmentSaysHowManyFieldsWereCompared) {
  TempDir dir;
  Environment env;
  env.torch_version = "2.13.0+cpu";
  env.vector_isa = "avx2";
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"}}, env);
  auto x = explain(reader, {.target_environment = env});
  ASSERT_THAT(x, IsOk());
  EXPECT_FALSE(x->blocked());
  EXPECT_THAT(explanation_to_text(*x),
              ::testing::StartsWith(
                  "environment: no differences in 2 fields compared\n"));
}

TEST(ExplainJson, IsOneObjectWithTheEnvironmentAndEveryType) {
  TempDir dir;
  Environment recorded;
  recorded.torch_version = "2.13.0+cpu";
  Environment here;
  here.torch_version = "2.14.1";
  auto reader = make_bundle(dir.file("b.cpk"),
                            {{"inductor", "f1"}, {"inductor", "f2"}}, recorded);
  TestBackend target;
  put(target, "inductor", "f1");
  auto x = explain(reader, {.target_environment = here, .target = &target});
  ASSERT_THAT(x, IsOk());
  auto j = nlohmann::json::parse(explanation_to_json(*x));
  EXPECT_EQ(j["environment"]["recorded"]["torch_version"], "2.13.0+cpu");
  EXPECT_EQ(j["environment"]["target"]["torch_version"], "2.14.1");
  EXPECT_EQ(j["environment"]["blocked"], true);
  ASSERT_EQ(j["environment"]["differences"].size(), 1u);
  EXPECT_EQ(j["environment"]["differences"][0]["severity"], "blocks");
  EXPECT_EQ(j["environment"]["differences"][0]["message"],
            "made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit");
  EXPECT_EQ(j["target"], "test://");
  ASSERT_EQ(j["types"].size(), 1u);
  const auto& t = j["types"][0];
  EXPECT_EQ(t["type"], "inductor");
  EXPECT_EQ(t["artifacts"], 2);
  EXPECT_EQ(t["present"], 1);
  EXPECT_EQ(t["would_write"], 1);
  EXPECT_EQ(t["missing"], nlohmann::json::array({"f2"}));
  EXPECT_EQ(t["target_only"], nlohmann::json::array());
  EXPECT_TRUE(t["target_error"].is_null());
}

TEST(ExplainJson, WithoutATargetOrEnvironmentTheirPartsAreNull) {
  TempDir dir;
  auto reader = make_bundle(dir.file("b.cpk"), {{"inductor", "f1"}});
  auto x = explain(reader);
  ASSERT_THAT(x, IsOk());
  auto j = nlohmann::json::parse(explanation_to_json(*x));
  EXPECT_TRUE(j["environment"]["recorded"].is_null());
  EXPECT_TRUE(j["target"].is_null());
  EXPECT_TRUE(j["types"][0]["present"].is_null());
  EXPECT_TRUE(j["types"][0]["missing"].is_null());
  EXPECT_TRUE(j["types"][0]["target_only"].is_null());
}

TEST(Explain, AMegaCacheBlobsArtifactsCompareWithoutAnEnvironment) {
  std::vector<ArtifactView> views = {{"inductor", "f1", {}}, {"pgo", "p", {}}};
  ViewArtifactSource source(views);
  TestBackend target;
  put(target, "pgo", "p");
  auto x = explain(source, std::nullopt, {.target = &target});
  ASSERT_THAT(x, IsOk());
  EXPECT_FALSE(x->recorded.has_value());
  EXPECT_EQ(find_type(*x, "pgo")->present, 1u);
  EXPECT_EQ(find_type(*x, "inductor")->would_write, 1u);
}

}  // namespace
}  // namespace cachepack
