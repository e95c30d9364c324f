// BackendRegistry: schemes users register themselves, duplicates, unknown
// schemes, URL forms in messages, and tiered:// opening its inner URLs
// through the registry it was registered with.
#include "cachepack/backend_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/memory_backend.h"
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

}  // namespace
}  // namespace cachepack
