// How an Error prints: code, reason, message, then where (file, offset,
// key), with long keys cut short in print but kept whole in the location;
// and how CP_TRY / CP_ASSIGN_OR_RETURN pass an error up unchanged.
#include "cachepack/error.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace cachepack {
namespace {

TEST(Error, PrintsCodeReasonMessageAndWhere) {
  Error e(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch, "bad",
          ErrorLocation{.file = "f.cpk", .offset = 7, .key = "k\n"});
  EXPECT_EQ(e.to_string(),
            "data loss (checksum mismatch): bad [file f.cpk, offset 7, key "
            "\"k\\x0a\"]");
}

TEST(Error, PrintsABackendUrlAsAUrl) {
  Error e(ErrorCode::kUnavailable, ErrorReason::kUnspecified,
          "get: connection refused",
          ErrorLocation{.url = "redis://host:6379", .key = "k"});
  EXPECT_EQ(e.to_string(),
            "unavailable: get: connection refused [url redis://host:6379, key "
            "\"k\"]");
}

TEST(Error, PrintsAKeyOfUpTo200BytesWhole) {
  std::string key(200, 'k');
  Error e(ErrorCode::kNotFound, ErrorReason::kUnspecified, "absent",
          ErrorLocation{.key = key});
  EXPECT_EQ(e.to_string(), "not found: absent [key \"" + key + "\"]");
}

TEST(Error, CutsALongKeyInPrintButKeepsItWholeInTheLocation) {
  std::string key = "f" + std::string(9999, 'a');
  Error e(ErrorCode::kNotFound, ErrorReason::kUnspecified, "absent",
          ErrorLocation{.file = "b.cpk", .key = key});
  std::string printed = e.to_string();
  EXPECT_EQ(printed, "not found: absent [file b.cpk, key \"" +
                         key.substr(0, 200) + "...\" (10000 bytes)]");
  EXPECT_EQ(e.where().key, key);
}

TEST(Error, CutsALongKeyAtAUtf8Boundary) {
  // "é" is 2 bytes: byte 200 would split the 100th one.
  std::string key;
  for (int i = 0; i < 300; ++i) key += "\xc3\xa9";
  key = "x" + key;  // Now byte 200 is the second byte of an "é".
  Error e(ErrorCode::kNotFound, ErrorReason::kUnspecified, "absent",
          ErrorLocation{.key = key});
  EXPECT_EQ(e.to_string(), "not found: absent [key \"" + key.substr(0, 199) +
                               "...\" (601 bytes)]");
}

Result<void> fails_void() {
  return make_error(ErrorCode::kNotFound, ErrorReason::kUnknownType, "gone",
                    ErrorLocation{.file = "a.cpk", .offset = 3});
}
Result<void> succeeds_void() { return {}; }
Result<int> fails_int() { return data_loss(ErrorReason::kTooShort, 9, "cut"); }
Result<int> succeeds_int(int v) { return v; }

Result<std::string> try_then(Result<void> (*step)()) {
  CP_TRY(step());
  return std::string("after");
}

TEST(Propagation, TryReturnsTheErrorUnchangedFromAnotherResultType) {
  Result<std::string> r = try_then(fails_void);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(),
            "not found (unknown type): gone [file a.cpk, offset 3]");
}

TEST(Propagation, TryContinuesOnSuccess) {
  EXPECT_EQ(try_then(succeeds_void).value(), "after");
}

Result<int> try_a_value(Result<int> (*step)()) {
  CP_TRY(step());  // The value is dropped.
  return 1;
}

TEST(Propagation, TryTakesAResultWithAValue) {
  EXPECT_EQ(try_a_value(fails_int).error().reason(), ErrorReason::kTooShort);
  EXPECT_EQ(try_a_value([] { return succeeds_int(5); }).value(), 1);
}

Result<void> try_an_lvalue(Result<int> r, bool* reached) {
  CP_TRY(r);
  *reached = true;
  return {};
}

TEST(Propagation, TryTakesANamedResult) {
  bool reached = false;
  Result<void> r = try_an_lvalue(fails_int(), &reached);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where().offset, 9u);
  EXPECT_FALSE(reached);
  EXPECT_TRUE(try_an_lvalue(succeeds_int(1), &reached));
  EXPECT_TRUE(reached);
}

Result<int> sum(Result<int> a, Result<int> b) {
  // Two in one scope: each declares its own temporary.
  CP_ASSIGN_OR_RETURN(int x, std::move(a));
  CP_ASSIGN_OR_RETURN(int y, std::move(b));
  return x + y;
}

TEST(Propagation, AssignOrReturnAssignsTheValue) {
  EXPECT_EQ(sum(succeeds_int(2), succeeds_int(3)).value(), 5);
}

TEST(Propagation, AssignOrReturnReturnsTheFirstError) {
  Result<int> r = sum(succeeds_int(2), fails_int());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(), "data loss (too short): cut [offset 9]");
}

Result<std::unique_ptr<int>> boxed(int v) { return std::make_unique<int>(v); }

Result<int> assign_existing() {
  std::unique_ptr<int> p;
  CP_ASSIGN_OR_RETURN(p, boxed(4));  // Move-only values move into place.
  return *p;
}

TEST(Propagation, AssignOrReturnMovesIntoAnExistingVariable) {
  EXPECT_EQ(assign_existing().value(), 4);
}

}  // namespace
}  // namespace cachepack
