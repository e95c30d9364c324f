// Locates PyTorch's reference vectors, which stay in ../shared (never copied
// into the project): tools/test.sh passes their folder as CACHEPACK_VECTORS.
#ifndef CACHEPACK_TESTS_VECTORS_H_
#define CACHEPACK_TESTS_VECTORS_H_

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace cachepack::testing {

inline std::optional<std::filesystem::path> vectors_dir() {
  const char* dir = std::getenv("CACHEPACK_VECTORS");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::filesystem::path p(dir);
  if (!std::filesystem::is_directory(p)) return std::nullopt;
  return p;
}

}  // namespace cachepack::testing

// Skips the current test with a clear message when the vectors are absent.
#define CACHEPACK_REQUIRE_VECTORS(dir_var)                                 \
  auto dir_var##_opt = ::cachepack::testing::vectors_dir();                \
  if (!dir_var##_opt) {                                                    \
    GTEST_SKIP() << "CACHEPACK_VECTORS is not set to the folder of "       \
                    "shared/vectors/pytorch-megacache; run tools/test.sh"; \
  }                                                                        \
  const std::filesystem::path dir_var = *dir_var##_opt

#endif  // CACHEPACK_TESTS_VECTORS_H_
