// A fresh directory for one test under $TEST_TMPDIR (Bazel removes it).
#ifndef CACHEPACK_TESTS_TESTING_TEMP_DIR_H_
#define CACHEPACK_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace cachepack::testing {

// <$TEST_TMPDIR or /tmp>/<prefix>-XXXXXX, created; aborts if it cannot be,
// since no test can run without it.
inline std::string make_temp_dir(std::string_view prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/" +
                     std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

}  // namespace cachepack::testing

#endif  // CACHEPACK_TESTS_TESTING_TEMP_DIR_H_
