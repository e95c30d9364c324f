// The environment a cache was made in: its JSON form, what this machine
// knows of itself, how two compare, and how a bundle records one.
#include "cachepack/environment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <fstream>
#include <string>

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
using ::testing::Eq;
using testing::HasError;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::IsOkAndHolds;
using ::testing::Optional;

Environment every_field() {
  Environment env;
  env.cachepack_version = "0.1.0";
  env.torch_version = "2.13.0+cpu";
  env.torch_git = "cf30153c4c131c8164ee7798e5022d810682e2cb";
  env.python_version = "3.11.7";
  env.triton_version = "3.4.0";
  env.cuda_version = "12.4";
  env.rocm_version = "";
  env.gpu_name = "NVIDIA H100 80GB HBM3";
  env.gpu_capability = "9.0";
  env.cpu_arch = "x86_64";
  env.vector_isa = "avx512";
  env.os = "Linux 6.1.0-18-amd64";
  env.libc = "glibc 2.36";
  return env;
}

// The one field of `env` named `field`, for tests that walk them all.
std::optional<std::string>& field_of(Environment& env, std::string_view field) {
  for (const EnvironmentField& f : environment_fields()) {
    if (f.name == field) return env.*f.member;
  }
  ADD_FAILURE() << "no field " << field;
  return env.torch_version;
}

// recorded and target equal but for `field`.
std::vector<EnvironmentDifference> differing_in(std::string_view field,
                                                const std::string& recorded,
                                                const std::string& target) {
  Environment a = every_field(), b = every_field();
  field_of(a, field) = recorded;
  field_of(b, field) = target;
  return compare_environments(a, b);
}

TEST(EnvironmentJson, EveryFieldRoundTrips) {
  Environment env = every_field();
  EXPECT_THAT(environment_from_json(environment_to_json(env)),
              IsOkAndHolds(Eq(env)));
  EXPECT_THAT(environment_from_json(environment_to_json(env, 2)),
              IsOkAndHolds(Eq(env)));
}

TEST(EnvironmentJson, KeysAreTheDocumentedSnakeCaseNamesInFixedOrder) {
  EXPECT_EQ(environment_to_json(every_field()),
            R"({"cachepack_version":"0.1.0","torch_version":"2.13.0+cpu",)"
            R"("torch_git":"cf30153c4c131c8164ee7798e5022d810682e2cb",)"
            R"("python_version":"3.11.7","triton_version":"3.4.0",)"
            R"("cuda_version":"12.4","rocm_version":"",)"
            R"("gpu_name":"NVIDIA H100 80GB HBM3","gpu_capability":"9.0",)"
            R"("cpu_arch":"x86_64","vector_isa":"avx512",)"
            R"("os":"Linux 6.1.0-18-amd64","libc":"glibc 2.36"})");
}

TEST(EnvironmentJson, UnknownFieldsAreLeftOut) {
  Environment env;
  env.torch_version = "2.13.0";
  EXPECT_EQ(environment_to_json(env), R"({"torch_version":"2.13.0"})");
  EXPECT_EQ(environment_to_json(Environment{}), "{}");
}

TEST(EnvironmentJson, ExtraFieldsOfAnyKindAreCarriedUnchanged) {
  std::string text = R"({"torch_version":"2.13.0","host":"ci-7","cores":64,)"
                     R"("nested":{"list":[1,"two",null],"flag":true}})";
  auto env = environment_from_json(text);
  ASSERT_THAT(env, IsOk());
  EXPECT_EQ(env->extra.at("host"), R"("ci-7")");
  EXPECT_EQ(env->extra.at("cores"), "64");
  // Objects keep their members' order: the value is carried as written.
  EXPECT_EQ(env->extra.at("nested"), R"({"list":[1,"two",null],"flag":true})");
  // Written back after the known fields, by key; read again, the same.
  EXPECT_EQ(environment_to_json(*env),
            R"({"torch_version":"2.13.0","cores":64,"host":"ci-7",)"
            R"("nested":{"list":[1,"two",null],"flag":true}})");
  EXPECT_THAT(environment_from_json(environment_to_json(*env)),
              IsOkAndHolds(Eq(*env)));
}

TEST(EnvironmentJson, AnExtraValueThatIsNotJsonIsWrittenAsAString) {
  Environment env;
  env.extra["host"] = "ci-7";
  EXPECT_EQ(environment_to_json(env), R"({"host":"ci-7"})");
}

TEST(EnvironmentJson, NullLeavesAFieldUnknownAndEmptyMeansNone) {
  auto env = environment_from_json(R"({"cuda_version":null,"vector_isa":""})");
  ASSERT_THAT(env, IsOk());
  EXPECT_EQ(env->cuda_version, std::nullopt);
  EXPECT_THAT(env->vector_isa, Optional(std::string()));
}

TEST(EnvironmentJson, MalformedJsonIsInvalidArgumentNamingTheFileAndWhere) {
  auto env = environment_from_json(R"({"torch_version": "2.13",})", "e.json");
  ASSERT_THAT(env,
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
  EXPECT_EQ(env.error().where().file, "e.json");
  EXPECT_THAT(env.error().message(), HasSubstr("line 1, column"));
  EXPECT_TRUE(env.error().where().offset.has_value());
}

TEST(EnvironmentJson, ATopLevelOtherThanAnObjectIsInvalid) {
  auto env = environment_from_json(R"(["torch_version"])", "e.json");
  ASSERT_THAT(env,
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
  EXPECT_THAT(env.error().message(), HasSubstr("expected a JSON object"));
  EXPECT_THAT(environment_from_json(""),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
}

TEST(EnvironmentJson, AKnownFieldThatIsNotAStringIsNamed) {
  auto env = environment_from_json(R"({"gpu_capability": 9.0})");
  ASSERT_THAT(env,
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
  EXPECT_THAT(env.error().message(),
              HasSubstr("gpu_capability must be a string or null, got number"));
}

TEST(EnvironmentFile, IsReadAndParsedWithItsNameInErrors) {
  TempDir dir;
  std::ofstream(dir.file("good.json")) << R"({"torch_version":"2.13.0"})";
  std::ofstream(dir.file("bad.json")) << "{torch}";
  auto good = read_environment_file(dir.file("good.json"));
  ASSERT_THAT(good, IsOk());
  EXPECT_THAT(good->torch_version, Optional(std::string("2.13.0")));
  auto bad = read_environment_file(dir.file("bad.json"));
  ASSERT_THAT(bad,
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson));
  EXPECT_EQ(bad.error().where().file, dir.file("bad.json"));
  EXPECT_THAT(read_environment_file(dir.file("missing.json")),
              HasError(ErrorCode::kNotFound));
}

TEST(NativeEnvironment, KnowsCachepackArchitectureOsAndLibcButNotTorch) {
  Environment env = current_native_environment();
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  EXPECT_THAT(env.cachepack_version,
              Optional(std::string(bundle::kProducerVersion)));
  EXPECT_THAT(env.cpu_arch, Optional(std::string(u.machine)));
  EXPECT_THAT(env.os,
              Optional(std::string(u.sysname) + " " + std::string(u.release)));
  ASSERT_TRUE(env.libc.has_value());
  EXPECT_THAT(*env.libc, ::testing::StartsWith("glibc 2."));
  for (auto field : {&Environment::torch_version, &Environment::python_version,
                     &Environment::gpu_name, &Environment::vector_isa}) {
    EXPECT_EQ(env.*field, std::nullopt);
  }
}

TEST(EnvironmentMerge, KnownFieldsOfTheSecondWinAndTheRestStay) {
  Environment native = current_native_environment();
  native.extra["a"] = "1";
  Environment given;
  given.torch_version = "2.13.0";
  given.os = "Linux 9.9";
  given.extra["a"] = "2";
  given.extra["b"] = "3";
  Environment merged = merge_environments(native, given);
  EXPECT_THAT(merged.torch_version, Optional(std::string("2.13.0")));
  EXPECT_THAT(merged.os, Optional(std::string("Linux 9.9")));
  EXPECT_EQ(merged.cpu_arch, native.cpu_arch);
  EXPECT_EQ(merged.libc, native.libc);
  EXPECT_EQ(merged.extra,
            (std::map<std::string, std::string>{{"a", "2"}, {"b", "3"}}));
}

TEST(EnvironmentCompare, EqualEnvironmentsHaveNoDifference) {
  EXPECT_THAT(compare_environments(every_field(), every_field()),
              ::testing::IsEmpty());
}

TEST(EnvironmentCompare, TorchVersionDifferenceBlocks) {
  auto d = differing_in("torch_version", "2.13.0+cpu", "2.14.1");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].field, "torch_version");
  EXPECT_EQ(d[0].recorded, "2.13.0+cpu");
  EXPECT_EQ(d[0].target, "2.14.1");
  EXPECT_EQ(d[0].severity, EnvironmentSeverity::kBlocks);
  EXPECT_EQ(d[0].message(),
            "made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit");
}

// Fields PyTorch keys on, or checks before it uses an entry: a difference
// means the artifacts miss.
TEST(EnvironmentCompare, DifferencesInWhatPyTorchKeysOnBlock) {
  struct Case {
    const char* field;
    const char* recorded;
    const char* target;
    const char* message;
  };
  for (const Case& c : {
           Case{"torch_git", "cf30153c", "0a1b2c3d",
                "made with torch git cf30153c; here 0a1b2c3d: no artifact can "
                "hit"},
           Case{"triton_version", "3.4.0", "3.5.0",
                "made with Triton 3.4.0; here 3.5.0: no artifact can hit"},
           Case{"cuda_version", "12.4", "12.8",
                "made with CUDA 12.4; here 12.8: no artifact can hit"},
           Case{"rocm_version", "6.2", "6.3",
                "made with ROCm 6.2; here 6.3: no artifact can hit"},
           Case{"gpu_name", "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB",
                "made with GPU NVIDIA H100 80GB HBM3; here "
                "NVIDIA A100-SXM4-80GB: no artifact can hit"},
           Case{"gpu_capability", "9.0", "8.0",
                "made with GPU compute capability 9.0; here 8.0: its GPU "
                "kernels and tuned configs were made for another "
                "architecture"},
           Case{"cpu_arch", "x86_64", "aarch64",
                "made with CPU architecture x86_64; here aarch64: its CPU "
                "kernels were generated for another architecture"},
           Case{"vector_isa", "avx512", "avx2",
                "made with vector ISA avx512; here avx2: its CPU kernels were "
                "generated for another vector ISA"},
       }) {
    SCOPED_TRACE(c.field);
    auto d = differing_in(c.field, c.recorded, c.target);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].severity, EnvironmentSeverity::kBlocks);
    EXPECT_EQ(severity_of(c.field), EnvironmentSeverity::kBlocks);
    EXPECT_EQ(d[0].message(), c.message);
  }
}

// Not in PyTorch's keys: worth saying, not worth refusing.
TEST(EnvironmentCompare, DifferencesOutsidePyTorchsKeysWarn) {
  struct Case {
    const char* field;
    const char* recorded;
    const char* target;
    const char* message;
  };
  for (const Case& c : {
           Case{"python_version", "3.11.7", "3.12.1",
                "made with Python 3.11.7; here 3.12.1: precompile entries "
                "will not load; other artifacts can still hit"},
           Case{"os", "Linux 6.1.0", "Linux 5.15.0",
                "made with OS Linux 6.1.0; here Linux 5.15.0: not in "
                "PyTorch's cache keys; artifacts can still hit"},
           Case{"libc", "glibc 2.36", "glibc 2.31",
                "made with libc glibc 2.36; here glibc 2.31: not in PyTorch's "
                "cache keys; artifacts can still hit"},
           Case{"cachepack_version", "0.1.0", "0.2.0",
                "made with cachepack 0.1.0; here 0.2.0: not in PyTorch's "
                "cache keys; artifacts can still hit"},
       }) {
    SCOPED_TRACE(c.field);
    auto d = differing_in(c.field, c.recorded, c.target);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].severity, EnvironmentSeverity::kWarns);
    EXPECT_EQ(severity_of(c.field), EnvironmentSeverity::kWarns);
    EXPECT_EQ(d[0].message(), c.message);
  }
}

TEST(EnvironmentCompare, EveryFieldIsClassifiedAndNamedInItsMessage) {
  size_t blocks = 0;
  for (const EnvironmentField& f : environment_fields()) {
    SCOPED_TRACE(f.name);
    auto d = differing_in(f.name, "a", "b");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].field, f.name);
    EXPECT_THAT(d[0].message(),
                ::testing::StartsWith("made with " + std::string(f.label)));
    blocks += d[0].severity == EnvironmentSeverity::kBlocks;
  }
  EXPECT_EQ(environment_fields().size(), 13u);
  EXPECT_EQ(blocks, 9u);
}

TEST(EnvironmentCompare, AFieldUnknownOnEitherSideIsNotADifference) {
  Environment recorded = every_field(), target = every_field();
  recorded.torch_version.reset();
  target.gpu_name.reset();
  target.vector_isa = "avx2";
  EXPECT_THAT(compare_environments(recorded, target),
              ElementsAre(::testing::Field(&EnvironmentDifference::field,
                                           "vector_isa")));
  EXPECT_THAT(compare_environments(Environment{}, every_field()),
              ::testing::IsEmpty());
}

TEST(EnvironmentCompare, UncomparedFieldsSayWhichSideIsUnknown) {
  Environment recorded = every_field(), target = every_field();
  recorded.torch_version.reset();
  target.gpu_name.reset();
  auto u = uncompared_fields(recorded, target);
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].field, "torch_version");
  EXPECT_EQ(u[0].side, UncomparedField::Side::kNotRecorded);
  EXPECT_EQ(u[0].message(), "torch_version not recorded (here 2.13.0+cpu)");
  EXPECT_EQ(u[1].field, "gpu_name");
  EXPECT_EQ(u[1].side, UncomparedField::Side::kUnknownHere);
  EXPECT_EQ(u[1].severity, EnvironmentSeverity::kBlocks);
  EXPECT_EQ(u[1].message(),
            "gpu_name unknown here (made with NVIDIA H100 80GB HBM3)");
}

TEST(EnvironmentCompare, AnEmptyValueIsKnownAsNoneAndCompared) {
  auto d = differing_in("cuda_version", "", "12.4");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].message(),
            "made without CUDA; here 12.4: no artifact can hit");
  d = differing_in("vector_isa", "avx2", "");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].message(),
            "made with vector ISA avx2; here none: its CPU kernels were "
            "generated for another vector ISA");
}

TEST(EnvironmentCheck, BlockingDifferencesAreOneErrorNamingEachOfThem) {
  Environment recorded = every_field(), target = every_field();
  target.torch_version = "2.14.1";
  target.vector_isa = "avx2";
  target.libc = "glibc 2.31";
  auto r = require_compatible_environment(recorded, target, "b.cpk");
  ASSERT_THAT(r, HasError(ErrorCode::kInvalidArgument,
                          ErrorReason::kEnvironmentMismatch));
  EXPECT_EQ(r.error().where().file, "b.cpk");
  EXPECT_THAT(r.error().message(), HasSubstr("2 differences"));
  EXPECT_THAT(r.error().message(),
              HasSubstr("\n  made with torch 2.13.0+cpu; here 2.14.1"));
  EXPECT_THAT(r.error().message(),
              HasSubstr("\n  made with vector ISA avx512; here avx2"));
  EXPECT_THAT(r.error().message(), ::testing::Not(HasSubstr("libc")));
}

TEST(EnvironmentCheck, WarningsAloneAreReturnedAndDoNotBlock) {
  Environment recorded = every_field(), target = every_field();
  target.libc = "glibc 2.31";
  target.gpu_name.reset();
  auto r = require_compatible_environment(recorded, target);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(
      *r, ElementsAre(::testing::Field(&EnvironmentDifference::field, "libc")));
}

TEST(EnvironmentWarnings, WithoutIgnoreABlockingDifferenceIsTheError) {
  Environment target = every_field();
  target.torch_version = "2.14.1";
  Result<std::optional<Environment>> recorded = every_field();
  EXPECT_THAT(
      environment_warnings(recorded, target, "b.cpk", false, "--x"),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kEnvironmentMismatch));
}

TEST(EnvironmentWarnings, IgnoredBlockingDifferencesAreMarkedWithTheOverride) {
  Environment target = every_field();
  target.torch_version = "2.14.1";
  target.libc = "glibc 2.31";
  Result<std::optional<Environment>> recorded = every_field();
  auto lines = environment_warnings(recorded, target, "b.cpk", true, "--x");
  ASSERT_THAT(lines, IsOk());
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_THAT((*lines)[0], HasSubstr("torch 2.13.0+cpu; here 2.14.1"));
  EXPECT_THAT((*lines)[0], HasSubstr(" (--x)"));
  EXPECT_THAT((*lines)[1], HasSubstr("libc"));
  EXPECT_THAT((*lines)[1], ::testing::Not(HasSubstr("(--x)")));
}

TEST(EnvironmentWarnings, AnUnreadableRecordFailsUnlessIgnored) {
  Result<std::optional<Environment>> recorded = tl::unexpected(
      Error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson, "bad"));
  EXPECT_THAT(environment_warnings(recorded, every_field(), "b", false, "--x"),
              HasError(ErrorCode::kDataLoss, ErrorReason::kInvalidJson));
  auto lines = environment_warnings(recorded, every_field(), "b", true, "--x");
  ASSERT_THAT(lines, IsOk());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_THAT((*lines)[0], HasSubstr("bad"));
  EXPECT_THAT((*lines)[0], HasSubstr(" (--x)"));
}

TEST(EnvironmentWarnings, NothingRecordedIsNothingToSay) {
  Result<std::optional<Environment>> recorded = std::optional<Environment>();
  EXPECT_THAT(environment_warnings(recorded, every_field(), "b", false, "--x"),
              IsOkAndHolds(::testing::IsEmpty()));
}

TEST(EnvironmentBundle, RoundTripsThroughABundlesMetadata) {
  TempDir dir;
  bundle::WriterOptions options;
  Environment env = every_field();
  env.extra["host"] = R"("ci-7")";
  record_environment(options, env);
  EXPECT_EQ(options.user_metadata.at(std::string(kEnvironmentMetadataKey)),
            environment_to_json(env));
  auto writer = BundleWriter::create(dir.file("b.cpk"), options);
  ASSERT_THAT(writer, IsOk());
  ASSERT_THAT(writer->add("inductor", "fkey", to_bytes("graph")), IsOk());
  ASSERT_THAT(writer->finish(), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT(environment_of(*reader), IsOkAndHolds(Optional(Eq(env))));
}

TEST(EnvironmentBundle, ABundleWithoutOneHasNone) {
  TempDir dir;
  auto writer = BundleWriter::create(dir.file("b.cpk"));
  ASSERT_THAT(writer, IsOk());
  ASSERT_THAT(writer->finish(), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT(environment_of(*reader), IsOkAndHolds(Eq(std::nullopt)));
}

TEST(EnvironmentBundle, AnAppendReplacesTheRecordedEnvironment) {
  TempDir dir;
  Environment first = every_field(), second = every_field();
  second.torch_version = "2.14.1";
  for (const Environment* env : {&first, &second}) {
    bundle::WriterOptions options;
    record_environment(options, *env);
    auto writer = env == &first
                      ? BundleWriter::create(dir.file("b.cpk"), options)
                      : BundleWriter::append(dir.file("b.cpk"), options);
    ASSERT_THAT(writer, IsOk());
    ASSERT_THAT(writer->finish(), IsOk());
  }
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT(environment_of(*reader), IsOkAndHolds(Optional(Eq(second))));
}

TEST(EnvironmentBundle, ARecordedValueThatIsNotAnEnvironmentIsDataLoss) {
  TempDir dir;
  bundle::WriterOptions options;
  options.user_metadata[std::string(kEnvironmentMetadataKey)] = "torch 2.13";
  auto writer = BundleWriter::create(dir.file("b.cpk"), options);
  ASSERT_THAT(writer, IsOk());
  ASSERT_THAT(writer->finish(), IsOk());
  auto reader = BundleReader::open(dir.file("b.cpk"));
  ASSERT_THAT(reader, IsOk());
  auto env = environment_of(*reader);
  ASSERT_THAT(env, HasError(ErrorCode::kDataLoss, ErrorReason::kInvalidJson));
  EXPECT_EQ(env.error().where().file, dir.file("b.cpk"));
  EXPECT_THAT(env.error().message(), HasSubstr("cachepack.environment"));
}

}  // namespace
}  // namespace cachepack
