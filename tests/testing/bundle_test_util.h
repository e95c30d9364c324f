// Helpers shared by the bundle tests: a per-test temporary directory, file
// I/O, and a builder for hand-made (possibly malicious) bundles whose index
// the test fills in directly.
#ifndef CACHEPACK_TESTS_TESTING_BUNDLE_TEST_UTIL_H_
#define CACHEPACK_TESTS_TESTING_BUNDLE_TEST_UTIL_H_

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "cachepack/bundle_format.h"
#include "cachepack/bytes.h"
#include "serializer/bundle.capnp.h"
#include "util/file.h"

namespace cachepack::bundle::testing {

// A fresh directory under $TEST_TMPDIR, removed with the object.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl =
        std::string(base ? base : "/tmp") + "/bundle-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Bytes read_all(const std::string& path) {
  auto bytes = read_file(path);
  EXPECT_TRUE(bytes.has_value()) << path;
  return bytes ? *bytes : Bytes{};
}

inline void write_all(const std::string& path, ByteSpan data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size()));
}

inline Bytes text_bytes(std::string_view s) { return to_bytes(s); }

// Deterministic pseudo-random bytes; `compressible` repeats a short
// alphabet so zstd has something to find.
inline Bytes generated(size_t n, uint32_t seed, bool compressible = true) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t r = rng();
    out[i] = static_cast<std::byte>(compressible ? "abcdefgh"[r % 8] : r);
  }
  return out;
}

// Lays out header | data | pad | index | footer with a correct footer, so a
// test can give a reader exactly the index it wants to attack it with.
inline Bytes craft_bundle(
    ByteSpan data,
    const std::function<void(schema::BundleIndex::Builder)>& fill,
    Header with_header = {}) {
  Bytes out;
  auto header = encode_header(with_header);
  append_bytes(out, header);
  append_bytes(out, data);
  while (out.size() % 8) out.push_back(std::byte{0});
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::BundleIndex>();
  fill(root);
  auto words = capnp::messageToFlatArray(message);
  ByteSpan index(reinterpret_cast<const std::byte*>(words.begin()),
                 words.size() * sizeof(capnp::word));
  Footer footer;
  footer.index_offset = out.size();
  footer.index_size = index.size();
  footer.index_xxh3 = xxh3_128(index);
  append_bytes(out, index);
  uint64_t at = out.size();
  append_bytes(out, seal_footer(footer, {}, at));
  return out;
}

}  // namespace cachepack::bundle::testing

#endif  // CACHEPACK_TESTS_TESTING_BUNDLE_TEST_UTIL_H_
