// BackendRegistry: schemes users register themselves, duplicates, unknown
// schemes, URL forms in messages, and tiered:// opening its inner URLs
// through the registry it was registered with.
#include "cachepack/backend_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "backends/maintenance.h"
#include "backends/memory_backend.h"
#include "backends/multi_value.h"
#include "cachepack/register_builtin_backends.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

using testing::HasError;
using testing::IsOk;

// A user's own scheme: mem:// under another name, counting its opens.
Result<void> register_my_scheme(BackendRegistry& registry, int* opens) {
  return registry.register_scheme(
      "my", "my://[?max_bytes=N]",
      [opens](const BackendUrl& url) -> Result<std::unique_ptr<Backend>> {
        ++*opens;
        MemoryOptions options;
        if (auto n = url.param("max_bytes")) {
          CP_ASSIGN_OR_RETURN(
              options.max_bytes,
              parse_url_uint(url, "max_bytes", *n, "my://[?max_bytes=N]"));
        }
        return std::make_unique<MemoryBackend>(options);
      });
}

TEST(BackendRegistry, OpensAUserDefinedScheme) {
  BackendRegistry registry;
  int opens = 0;
  ASSERT_THAT(register_my_scheme(registry, &opens), IsOk());
  auto b = registry.open("MY://?max_bytes=64");  // Schemes match any case.
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(opens, 1);
  EXPECT_EQ((*b)->url(), "mem://?max_bytes=64");
  EXPECT_THAT((*b)->put("ns", "k", to_bytes("v"), PutMode::kOverwrite), IsOk());
}

TEST(BackendRegistry, ASchemeRegisteredTwiceIsAlreadyExists) {
  BackendRegistry registry;
  int opens = 0;
  ASSERT_THAT(register_my_scheme(registry, &opens), IsOk());
  EXPECT_THAT(register_my_scheme(registry, &opens),
              HasError(ErrorCode::kAlreadyExists));
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  EXPECT_THAT(register_builtin_backends(registry),
              HasError(ErrorCode::kAlreadyExists));
}

TEST(BackendRegistry, ASchemeWithoutAnOpenFunctionIsRefused) {
  BackendRegistry registry;
  EXPECT_THAT(registry.register_scheme("a", "a://", nullptr),
              HasError(ErrorCode::kInvalidArgument));
}

TEST(BackendRegistry, RegistriesAreIndependent) {
  BackendRegistry with_mine;
  BackendRegistry without;
  int opens = 0;
  ASSERT_THAT(register_my_scheme(with_mine, &opens), IsOk());
  EXPECT_THAT(with_mine.open("my://"), IsOk());
  EXPECT_THAT(without.open("my://"), HasError(ErrorCode::kInvalidArgument));
  // Each registry takes the built-in schemes once.
  EXPECT_THAT(register_builtin_backends(with_mine), IsOk());
  EXPECT_THAT(register_builtin_backends(without), IsOk());
}

TEST(BackendRegistry, UnknownSchemeNamesTheRegisteredOnes) {
  BackendRegistry registry;
  int opens = 0;
  ASSERT_THAT(register_my_scheme(registry, &opens), IsOk());
  auto b = registry.open("nosuch://x");
  ASSERT_THAT(b, HasError(ErrorCode::kInvalidArgument));
  EXPECT_THAT(b.error().message(),
              HasSubstr("unknown scheme 'nosuch'; registered: my://"));
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  EXPECT_THAT(registry.open("nosuch://x").error().message(),
              HasSubstr("registered: file://, mem://, my://, tiered://, "
                        "torch://"));
}

TEST(BackendRegistry, AMalformedUrlShowsItsSchemesForm) {
  BackendRegistry registry;
  int opens = 0;
  ASSERT_THAT(register_my_scheme(registry, &opens), IsOk());
  auto bad = registry.open("my://host:99999");
  ASSERT_THAT(bad, HasError(ErrorCode::kInvalidArgument));
  EXPECT_THAT(bad.error().message(), HasSubstr("expected my://[?max_bytes=N]"));
  EXPECT_EQ(opens, 0);
  // A scheme nobody registered is shown the general form.
  auto unknown = registry.open("nosuch://host:99999");
  ASSERT_THAT(unknown, HasError(ErrorCode::kInvalidArgument));
  EXPECT_THAT(unknown.error().message(), HasSubstr("expected scheme://"));
}

TEST(BackendRegistry, ListsSchemesWithTheirUrlForms) {
  BackendRegistry registry;
  int opens = 0;
  ASSERT_THAT(register_my_scheme(registry, &opens), IsOk());
  ASSERT_THAT(
      registry.register_scheme("a", "a://",
                               [](const BackendUrl&) {
                                 return Result<std::unique_ptr<Backend>>(
                                     std::make_unique<MemoryBackend>());
                               }),
      IsOk());
  using Scheme = BackendRegistry::Scheme;
  EXPECT_THAT(registry.schemes(), ElementsAre(Field(&Scheme::scheme, "a"),
                                              Field(&Scheme::scheme, "my")));
  EXPECT_EQ(registry.schemes()[1].url_form, "my://[?max_bytes=N]");
}

TEST(BackendRegistry, ListsTheBuiltinSchemesWithTheirBackendsForms) {
  BackendRegistry registry;
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  using Scheme = BackendRegistry::Scheme;
  EXPECT_THAT(registry.schemes(), ElementsAre(Field(&Scheme::scheme, "file"),
                                              Field(&Scheme::scheme, "mem"),
                                              Field(&Scheme::scheme, "tiered"),
                                              Field(&Scheme::scheme, "torch")));
  EXPECT_EQ(registry.schemes()[1].url_form, MemoryBackend::kUrlForm);
}

TEST(BackendRegistry, TieredOpensInnerUrlsThroughItsOwnRegistry) {
  BackendRegistry registry;
  int opens = 0;
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  ASSERT_THAT(register_my_scheme(registry, &opens), IsOk());
  EXPECT_THAT(registry.open("tiered://?tiers=my://|mem://"), IsOk());
  EXPECT_EQ(opens, 1);

  BackendRegistry other;
  ASSERT_THAT(register_builtin_backends(other), IsOk());
  auto b = other.open("tiered://?tiers=my://|mem://");
  ASSERT_THAT(b, HasError(ErrorCode::kInvalidArgument));
  EXPECT_THAT(b.error().message(), HasSubstr("unknown scheme 'my'"));
  EXPECT_EQ(opens, 1);
}

// A temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/roXXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

TEST(ReadOnlyUrl, ReadsWorkAndEveryWriteIsPermissionDeniedNamingTheUrl) {
  BackendRegistry registry;
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  TempDir dir;
  std::string url = "file://" + dir.path();
  auto writer = registry.open(url);
  ASSERT_THAT(writer, IsOk());
  ASSERT_THAT(
      (*writer)->put("inductor", "k", to_bytes("v"), PutMode::kOverwrite),
      IsOk());

  auto ro = registry.open(url + "?readonly=1");
  ASSERT_THAT(ro, IsOk());
  Backend& b = **ro;
  EXPECT_EQ(b.get("inductor", "k").value(), to_bytes("v"));
  EXPECT_TRUE(b.contains("inductor", "k").value());
  EXPECT_THAT(b.list("inductor").value(), ElementsAre("k"));
  EXPECT_THAT(b.namespaces().value(), ElementsAre("inductor"));
  KeyRef keys[] = {{"inductor", "k"}};
  EXPECT_EQ(b.get_many(keys)[0].value(), to_bytes("v"));

  auto denied = [&](const auto& r) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_THAT(r.error().to_string(), HasSubstr(dir.path()));
    EXPECT_THAT(r.error().message(), HasSubstr("readonly=1"));
  };
  denied(b.put("inductor", "k2", to_bytes("w"), PutMode::kOverwrite));
  denied(b.put("inductor", "k", to_bytes("w"), PutMode::kInsertIfAbsent));
  SpanSource source(to_bytes("w"));
  denied(b.put_stream("inductor", "k3", source, PutMode::kOverwrite));
  denied(b.remove("inductor", "k"));
  PutRequest requests[] = {{"inductor", "k4", to_bytes("w")}};
  auto batch = b.put_many(requests, PutMode::kOverwrite);
  ASSERT_EQ(batch.size(), 1u);
  denied(batch[0]);
  // The disk backend's size accounting stays readable; trimming is a write.
  auto* m = dynamic_cast<Maintainable*>(&b);
  ASSERT_NE(m, nullptr);
  EXPECT_THAT(m->usage(), IsOk());
  denied(m->gc(0));

  // Nothing reached the directory.
  EXPECT_EQ((*writer)->get("inductor", "k").value(), to_bytes("v"));
  EXPECT_THAT((*writer)->list("inductor").value(), ElementsAre("k"));
  EXPECT_EQ(b.stats().errors, 5u);
}

TEST(ReadOnlyUrl, KeepsMultipleValuesReadableAndRefusesToAddOne) {
  BackendRegistry registry;
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  TempDir dir;
  auto ro = registry.open("torch://" + dir.path() + "?readonly=true");
  ASSERT_THAT(ro, IsOk());
  auto* multi = dynamic_cast<MultiValued*>(ro->get());
  ASSERT_NE(multi, nullptr);
  EXPECT_TRUE(multi->multi_valued("inductor"));
  auto added = multi->add("inductor", "fkey", to_bytes("v"),
                          PutMode::kOverwrite, Deadline::never());
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), ErrorCode::kPermissionDenied);
}

TEST(ReadOnlyUrl, WorksForEverySchemeAndIsCheckedLikeAnyFlag) {
  BackendRegistry registry;
  ASSERT_THAT(register_builtin_backends(registry), IsOk());
  // The scheme's own parser never sees it, so no scheme calls it unknown.
  auto mem = registry.open("mem://?readonly=yes&max_bytes=10");
  ASSERT_THAT(mem, IsOk());
  auto put = (*mem)->put("t", "k", to_bytes("v"), PutMode::kOverwrite);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ((*mem)->get("t", "k").value(), std::nullopt);
  // readonly=0 is an ordinary backend.
  auto rw = registry.open("mem://?readonly=0");
  ASSERT_THAT(rw, IsOk());
  EXPECT_THAT((*rw)->put("t", "k", to_bytes("v"), PutMode::kOverwrite), IsOk());
  // A value that is not a flag is a URL mistake with the scheme's form.
  EXPECT_THAT(registry.open("mem://?readonly=maybe"),
              HasError(ErrorCode::kInvalidArgument));
  auto bad = registry.open("mem://?readonly=maybe");
  EXPECT_THAT(bad.error().message(), HasSubstr("mem://[?max_bytes=N]"));
  // Inside tiered://, per tier: writes to all tiers fail on the first.
  auto tiered = registry.open("tiered://?tiers=mem://?readonly=1|mem://");
  ASSERT_THAT(tiered, IsOk());
  auto t = (*tiered)->put("t", "k", to_bytes("v"), PutMode::kOverwrite);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace cachepack
