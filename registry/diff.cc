#include "cachepack/diff.h"

#include <algorithm>

namespace cachepack {
namespace {

// Receives what pack() reads and keeps only the digests.
class DigestSink final : public PackSink {
 public:
  Result<void> begin_group(std::string_view) override { return {}; }

  Result<void> add(std::string_view type, std::string_view key,
                   ContentSource& content) override {
    std::optional<Sha256Digest> digest = content.known_sha256();
    if (!digest) {
      Sha256 hash;
      while (true) {
        CP_ASSIGN_OR_RETURN(ByteSpan piece, content.next());
        if (piece.empty()) break;
        hash.update(piece);
      }
      digest = hash.finish();
    }
    digests_[std::string(type)][std::string(key)].insert(*digest);
    return {};
  }

  ContentDigests take() { return std::move(digests_); }

 private:
  ContentDigests digests_;
};

}  // namespace

Result<ContentDigests> digest_contents(const PackSource& source,
                                       Deadline deadline) {
  DigestSink sink;
  CP_TRY(pack(std::span(&source, 1), sink, deadline));
  return sink.take();
}

std::vector<TypeDifference> diff_contents(const ContentDigests& a,
                                          const ContentDigests& b) {
  static const std::map<std::string, std::set<Sha256Digest>> kNone;
  std::set<std::string> types;
  for (const auto& [type, _] : a) types.insert(type);
  for (const auto& [type, _] : b) types.insert(type);
  std::vector<TypeDifference> differences;
  for (const std::string& type : types) {
    auto in_a = a.find(type);
    auto in_b = b.find(type);
    const auto& keys_a = in_a == a.end() ? kNone : in_a->second;
    const auto& keys_b = in_b == b.end() ? kNone : in_b->second;
    TypeDifference d{.type = type};
    for (const auto& [key, digests] : keys_a) {
      auto other = keys_b.find(key);
      if (other == keys_b.end()) {
        d.only_in_a.push_back(key);
      } else if (other->second != digests) {
        d.changed.push_back(key);
      }
    }
    for (const auto& [key, _] : keys_b) {
      if (!keys_a.contains(key)) d.only_in_b.push_back(key);
    }
    if (!d.only_in_a.empty() || !d.only_in_b.empty() || !d.changed.empty()) {
      differences.push_back(std::move(d));
    }
  }
  return differences;
}

}  // namespace cachepack
