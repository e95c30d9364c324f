#include "cachepack/bundle_dictionary.h"

#include <zdict.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace cachepack::bundle {
namespace {

tl::unexpected<Error> invalid_samples(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

Result<Bytes> train_dictionary(std::span<const ByteSpan> samples,
                               size_t capacity) {
  Bytes joined;
  std::vector<size_t> sizes;
  for (ByteSpan s : samples) {
    if (s.empty()) continue;
    append_bytes(joined, s);
    sizes.push_back(s.size());
  }
  if (sizes.size() < 8) {
    return invalid_samples(
        "a dictionary needs at least 8 non-empty samples, got " +
        std::to_string(sizes.size()));
  }
  Bytes dict(capacity);
  size_t n =
      ZDICT_trainFromBuffer(dict.data(), dict.size(), joined.data(),
                            sizes.data(), static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) {
    return invalid_samples(std::string("zstd could not train a dictionary: ") +
                           ZDICT_getErrorName(n));
  }
  dict.resize(n);
  return dict;
}

Result<Bytes> raw_content_dictionary(std::span<const ByteSpan> samples,
                                     size_t capacity) {
  size_t non_empty = 0;
  for (ByteSpan s : samples) non_empty += s.empty() ? 0 : 1;
  if (non_empty < 8) {
    return invalid_samples(
        "a dictionary needs at least 8 non-empty samples, got " +
        std::to_string(non_empty));
  }
  Bytes dict;
  dict.reserve(capacity);
  size_t slice = std::max<size_t>(1024, capacity / non_empty);
  for (size_t taken = 0; dict.size() < capacity; taken += slice) {
    size_t before = dict.size();
    for (ByteSpan s : samples) {
      if (s.size() <= taken || dict.size() >= capacity) continue;
      size_t n = std::min({slice, s.size() - taken, capacity - dict.size()});
      append_bytes(dict, s.subspan(taken, n));
    }
    if (dict.size() == before) break;  // Every sample used up.
  }
  // zstd reads a dictionary that starts with its magic as a trained one.
  constexpr uint8_t kMagic[4] = {0x37, 0xa4, 0x30, 0xec};
  while (dict.size() >= 4 && std::memcmp(dict.data(), kMagic, 4) == 0) {
    dict.erase(dict.begin());
  }
  return dict;
}

std::map<std::string, Bytes> train_dictionaries(
    std::span<const std::pair<std::string_view, ByteSpan>> samples,
    size_t capacity, DictionaryKind kind) {
  if (capacity == 0) {
    capacity = kind == DictionaryKind::kTrained ? kTrainedDictionaryCapacity
                                                : kRawDictionaryCapacity;
  }
  // Each sample is an entry's first 64 KiB (a dictionary mostly helps an
  // entry's beginning), at most 4 MiB of them per type so training stays
  // well under a second; zstd wants several times more sample bytes than
  // the dictionary holds.
  constexpr size_t kSampleSize = 64 * 1024;
  constexpr size_t kSampleBytesPerType = 4 << 20;
  std::map<std::string, std::vector<ByteSpan>, std::less<>> by_type;
  std::map<std::string, size_t, std::less<>> bytes_by_type;
  std::map<std::string, uint64_t, std::less<>> content_by_type;
  for (const auto& [type, content] : samples) {
    if (content.empty()) continue;
    content_by_type[std::string(type)] += content.size();
    ByteSpan sample = content.first(std::min(content.size(), kSampleSize));
    auto it = bytes_by_type.try_emplace(std::string(type), 0).first;
    if (it->second + sample.size() > kSampleBytesPerType) continue;
    it->second += sample.size();
    by_type[it->first].push_back(sample);
  }
  std::map<std::string, Bytes> out;
  for (auto& [type, list] : by_type) {
    // A dictionary is stored in the bundle: keep it at most an eighth of
    // the bytes it was made from (a raw one fills its capacity).
    size_t cap = kind == DictionaryKind::kTrained
                     ? std::min(capacity, bytes_by_type[type] / 8)
                     : static_cast<size_t>(std::min<uint64_t>(
                           capacity, content_by_type[type] / 8));
    if (cap < 1024) continue;
    auto dict = kind == DictionaryKind::kTrained
                    ? train_dictionary(list, cap)
                    : raw_content_dictionary(list, cap);
    if (dict) out.emplace(type, std::move(*dict));
  }
  return out;
}

std::map<std::string, Bytes> train_dictionaries(
    std::span<const ArtifactView> artifacts, size_t capacity,
    DictionaryKind kind) {
  std::vector<std::pair<std::string_view, ByteSpan>> samples;
  samples.reserve(artifacts.size());
  for (const ArtifactView& a : artifacts) {
    samples.emplace_back(a.type, a.content);
  }
  return train_dictionaries(samples, capacity, kind);
}

}  // namespace cachepack::bundle
