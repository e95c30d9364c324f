// Small helpers for backend tests: fresh temp directories under
// $TEST_TMPDIR and a recursive file listing to check what a backend left on
// disk.
#ifndef CACHEPACK_TESTS_BACKEND_TEST_UTIL_H_
#define CACHEPACK_TESTS_BACKEND_TEST_UTIL_H_

#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace cachepack::testing {

// A new empty directory; aborts the test binary if none can be made.
inline std::string make_temp_dir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      std::string(base != nullptr ? base : "/tmp") + "/cachepack-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

// Paths of regular files under `root`, relative to it, sorted.
inline std::vector<std::string> files_under(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      out.push_back(std::filesystem::relative(e.path(), root).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cachepack::testing

#endif  // CACHEPACK_TESTS_BACKEND_TEST_UTIL_H_
