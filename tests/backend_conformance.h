// One behavioural suite for every Backend implementation (after
// tensorstore's kvstore test_util). To run it on a backend, link
// //tests:backend_conformance and instantiate it with a target:
//
//   #include "tests/backend_conformance.h"
//   namespace cachepack::testing {
//   INSTANTIATE_TEST_SUITE_P(
//       Redis, BackendConformance,
//       ::testing::Values(ConformanceTarget{
//           .name = "redis",
//           .make = [] { return open_my_redis_backend_on_a_fresh_db(); },
//       }),
//       ConformanceTarget::Name);
//   }
//
// `make` is called once per test and must return an empty backend (a fresh
// temp dir, database or prefix). Capabilities let backends with restricted
// namespaces or key shapes (PyTorch's cache directory) run the same tests.
#ifndef CACHEPACK_TESTS_BACKEND_CONFORMANCE_H_
#define CACHEPACK_TESTS_BACKEND_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cachepack/backend.h"

namespace cachepack::testing {

struct BackendCapabilities {
  // At least two namespaces the backend accepts.
  std::vector<std::string> namespaces = {"inductor", "autotune"};
  // A valid, distinct key for index i in namespace ns. The default gives
  // plain ASCII keys.
  std::function<std::string(const std::string& ns, int i)> make_key;
  // Keys may be any bytes: "../x", "/abs", embedded NULs, 4 KiB long. When
  // false, each such key must be either stored exactly or refused with
  // kInvalidArgument.
  bool arbitrary_keys = true;
  // Concurrent calls from several threads are allowed.
  bool thread_safe = true;
  // list() and namespaces() work (a Bazel-protocol HTTP cache cannot list).
  bool can_list = true;
  // remove() works.
  bool can_remove = true;
};

struct ConformanceTarget {
  std::string name;  // Test-name suffix: letters, digits and '_' only.
  std::function<std::unique_ptr<Backend>()> make;
  BackendCapabilities caps;

  static std::string Name(
      const ::testing::TestParamInfo<ConformanceTarget>& info) {
    return info.param.name;
  }
};

class BackendConformance : public ::testing::TestWithParam<ConformanceTarget> {
 protected:
  void SetUp() override;

  std::string ns(size_t i = 0) const;
  std::string key(int i, size_t ns_index = 0) const;

  std::unique_ptr<Backend> backend_;
};

}  // namespace cachepack::testing

#endif  // CACHEPACK_TESTS_BACKEND_CONFORMANCE_H_
