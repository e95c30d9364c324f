// Writes hand-made bundles that no writer produces, for the CLI tests:
// index and limit damage that only a crafted index can reach.
//   craft_bundle DIR
#include <iostream>
#include <string>

#include "cachepack/hash.h"
#include "tests/testing/bundle_test_util.h"

namespace cachepack::bundle {
namespace {

namespace sc = schema;

capnp::Data::Reader data(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// One entry of type "pgo" over `content` (raw), with `key`; `edit` may
// break it.
Bytes one_entry(const std::string& key, const std::string& content,
                const std::function<void(sc::Entry::Builder)>& edit = {}) {
  Bytes stored = testing::text_bytes(content);
  return testing::craft_bundle(stored, [&](sc::BundleIndex::Builder root) {
    root.initTypes(1).set(0, "pgo");
    auto e = root.initEntries(1)[0];
    e.setKey(data(key));
    e.setOffset(kHeaderSize);
    e.setStoredSize(stored.size());
    e.setOriginalSize(stored.size());
    Xxh128 h = xxh3_128(stored);
    e.setXxh3High(xxh128_high(h));
    e.setXxh3Low(xxh128_low(h));
    cachepack::Sha256Digest digest = sha256(stored);
    e.setSha256(data(std::string(reinterpret_cast<const char*>(digest.data()),
                                 digest.size())));
    if (edit) edit(e);
    root.initLookup(1).set(0, 0);
  });
}

// One entry of type "pgo" in a raw solid block over `content`, at
// [offset, offset + size) of it.
Bytes solid_entry(const std::string& key, const std::string& content,
                  uint64_t offset, uint64_t size) {
  Bytes stored = testing::text_bytes(content);
  return testing::craft_bundle(
      stored,
      [&](sc::BundleIndex::Builder root) {
        root.initTypes(1).set(0, "pgo");
        auto b = root.initBlocks(1)[0];
        b.setOffset(kHeaderSize);
        b.setStoredSize(stored.size());
        b.setOriginalSize(stored.size());
        Xxh128 h = xxh3_128(stored);
        b.setXxh3High(xxh128_high(h));
        b.setXxh3Low(xxh128_low(h));
        auto e = root.initEntries(1)[0];
        e.setKey(data(key));
        e.setBlock(1);
        e.setOffset(offset);
        e.setOriginalSize(size);
        e.setSha256(data(std::string(32, '\0')));
        root.initLookup(1).set(0, 0);
      },
      Header{.flags = kFlagSolidBlocks});
}

}  // namespace
}  // namespace cachepack::bundle

int main(int argc, char** argv) {
  using namespace cachepack::bundle;
  if (argc != 2) {
    std::cerr << "usage: craft_bundle DIR\n";
    return 2;
  }
  std::string dir = argv[1];
  // An entry whose stored range lies past the data region: a bad index.
  cachepack::bundle::testing::write_all(
      dir + "/bad-range.cpk",
      one_entry("job:0:tag", "hi",
                [](sc::Entry::Builder e) { e.setOffset(1 << 20); }));
  // A key of 2 MiB, over the reader's 1 MiB limit.
  cachepack::bundle::testing::write_all(
      dir + "/huge-key.cpk",
      one_entry(std::string(2 << 20, 'k') + ":0:tag", "hi"));
  // A 10,000-byte key whose content does not match its digest.
  cachepack::bundle::testing::write_all(
      dir + "/long-key.cpk",
      one_entry(std::string(9994, 'k') + ":0:tag", "hi",
                [](sc::Entry::Builder e) { e.setXxh3Low(0); }));
  // An entry said to lie past the end of its solid block.
  cachepack::bundle::testing::write_all(dir + "/solid-past-end.cpk",
                                        solid_entry("job:0:tag", "hi", 1, 2));
  return 0;
}
