// GoogleTest matchers for Result<T>. A failed check prints the error's
// to_string(), so no test builds that message by hand, and a value is
// only looked at once the Result is known to hold one.
//
//   ASSERT_THAT(reader, IsOk());
//   EXPECT_THAT(mem.get("ns", "k"), IsOkAndHolds(Optional(to_bytes("v"))));
//   EXPECT_THAT(r, HasError(ErrorCode::kDataLoss, ErrorReason::kTooShort));
//   EXPECT_THAT(r, HasErrorAt(ErrorCode::kDataLoss, 120));
//   auto disk = value_or_die(DiskBackend::open(options));  // Setup only.
#ifndef CACHEPACK_TESTS_TESTING_RESULT_MATCHERS_H_
#define CACHEPACK_TESTS_TESTING_RESULT_MATCHERS_H_

#include <gmock/gmock.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "cachepack/error.h"

namespace cachepack {

// How GoogleTest prints a Result (found by argument-dependent lookup).
inline void PrintTo(const Error& e, std::ostream* os) { *os << e.to_string(); }

template <typename T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  if (!r) {
    *os << "error: " << r.error().to_string();
  } else if constexpr (std::is_void_v<T>) {
    *os << "ok";
  } else {
    *os << "ok: " << ::testing::PrintToString(*r);
  }
}

namespace testing {

// GoogleTest prints the Result itself (PrintTo above), error included, so
// the matchers add no explanation of their own.
MATCHER(IsOk, negation ? "is an error" : "is ok") { return arg.has_value(); }

// The Result holds a value that `matcher` accepts.
MATCHER_P(
    IsOkAndHolds, matcher,
    std::string(negation ? "is an error or holds a value that "
                         : "is ok and holds a value that ") +
        ::testing::DescribeMatcher<typename std::decay_t<arg_type>::value_type>(
            matcher, negation)) {
  return arg && ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

MATCHER_P(HasError, code,
          std::string(negation ? "is not" : "is") + " an error with code \"" +
              std::string(to_string(code)) + "\"") {
  return !arg && arg.error().code() == code;
}

MATCHER_P2(HasError, code, reason,
           std::string(negation ? "is not" : "is") + " an error with code \"" +
               std::string(to_string(code)) + "\" and reason \"" +
               std::string(to_string(reason)) + "\"") {
  return !arg && arg.error().code() == code && arg.error().reason() == reason;
}

MATCHER_P2(HasErrorAt, code, offset,
           std::string(negation ? "is not" : "is") + " an error with code \"" +
               std::string(to_string(code)) + "\" at offset " +
               std::to_string(offset)) {
  return !arg && arg.error().code() == code &&
         arg.error().where().offset == static_cast<uint64_t>(offset);
}

// The value of a Result that test setup cannot go on without (opening a
// backend in a fixture or factory, where ASSERT_* cannot return). On an
// error it prints the error and aborts the test binary, as make_temp_dir
// does, instead of dereferencing an error.
template <typename T>
T value_or_die(Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "value_or_die: %s\n", r.error().to_string().c_str());
    std::abort();
  }
  return std::move(*r);
}

}  // namespace testing
}  // namespace cachepack

#endif  // CACHEPACK_TESTS_TESTING_RESULT_MATCHERS_H_
