// The Result matchers accept what they name and nothing else, and a
// failing check prints the error in full.
#include "tests/testing/result_matchers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace cachepack::testing {
namespace {

using ::testing::Not;
using ::testing::Optional;
using ::testing::PrintToString;

Result<int> seven() { return 7; }
Result<int> cut() { return data_loss(ErrorReason::kTooShort, 12, "cut"); }

TEST(ResultMatchers, IsOkAndIsOkAndHolds) {
  EXPECT_THAT(seven(), IsOk());
  EXPECT_THAT(cut(), Not(IsOk()));
  EXPECT_THAT(Result<void>(), IsOk());
  EXPECT_THAT(seven(), IsOkAndHolds(7));
  EXPECT_THAT(seven(), Not(IsOkAndHolds(8)));
  EXPECT_THAT(cut(), Not(IsOkAndHolds(7)));
  EXPECT_THAT(Result<std::optional<int>>(std::nullopt),
              IsOkAndHolds(std::nullopt));
  EXPECT_THAT(Result<std::optional<int>>(3), IsOkAndHolds(Optional(3)));
}

TEST(ResultMatchers, HasErrorChecksCodeReasonAndOffset) {
  EXPECT_THAT(cut(), HasError(ErrorCode::kDataLoss));
  EXPECT_THAT(cut(), Not(HasError(ErrorCode::kNotFound)));
  EXPECT_THAT(seven(), Not(HasError(ErrorCode::kDataLoss)));
  EXPECT_THAT(cut(), HasError(ErrorCode::kDataLoss, ErrorReason::kTooShort));
  EXPECT_THAT(cut(),
              Not(HasError(ErrorCode::kDataLoss, ErrorReason::kBadMagic)));
  EXPECT_THAT(cut(), HasErrorAt(ErrorCode::kDataLoss, 12));
  EXPECT_THAT(cut(), Not(HasErrorAt(ErrorCode::kDataLoss, 13)));
  EXPECT_THAT(Result<int>(make_error(ErrorCode::kDataLoss, "no offset")),
              Not(HasErrorAt(ErrorCode::kDataLoss, 0)));
}

TEST(ResultMatchers, AFailurePrintsTheWholeError) {
  EXPECT_EQ(PrintToString(cut()),
            "error: data loss (too short): cut [offset 12]");
  EXPECT_EQ(PrintToString(seven()), "ok: 7");
  EXPECT_EQ(PrintToString(Result<void>()), "ok");
}

TEST(ResultMatchers, ValueOrDieReturnsTheValue) {
  EXPECT_EQ(value_or_die(seven()), 7);
  EXPECT_DEATH(value_or_die(cut()), "value_or_die: data loss");
}

}  // namespace
}  // namespace cachepack::testing
