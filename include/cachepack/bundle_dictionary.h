// zstd dictionaries for a bundle, one per artifact type, made from sample
// contents: raw slices of them (the default) or trained by zstd. The writer
// makes them from a bundle's first entries (train_dictionaries_bytes);
// callers may also make their own and pass them in WriterOptions.
#ifndef CACHEPACK_BUNDLE_DICTIONARY_H_
#define CACHEPACK_BUNDLE_DICTIONARY_H_

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "cachepack/artifact.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::bundle {

// How dictionaries are made from sample entries.
enum class DictionaryKind {
  // Slices of the sample entries used directly as zstd raw-content
  // dictionaries: no training, so no pack-time cost, and on compile caches
  // (shared names and opcodes across entries) as good as or better than
  // trained ones. The default.
  kRawContent,
  // ZDICT_trainFromBuffer: smaller dictionaries, much slower to make.
  kTrained,
};

// Trains a zstd dictionary of at most `capacity` bytes from sample contents
// (ZDICT_trainFromBuffer). kInvalidArgument when the samples are too few or
// too uniform for zstd to build one.
Result<Bytes> train_dictionary(std::span<const ByteSpan> samples,
                               size_t capacity = 64 * 1024);

// zstd derives a dictionary's compression parameters from its size; past
// 256 KiB it switches to its large-input table, which on bundle benchmarks
// packed 10% slower and 1.5% larger. Raw dictionaries stay well below.
inline constexpr size_t kRawDictionaryCapacity = 200 * 1024;
// What train_dictionaries() makes a trained dictionary at most by default.
inline constexpr size_t kTrainedDictionaryCapacity = 110 * 1024;

// A raw-content dictionary of at most `capacity` bytes: the start of every
// sample in turn, round robin, so each contributes. Never begins with zstd's
// dictionary magic (it would then be parsed as a trained dictionary).
// kInvalidArgument when there are fewer than 8 non-empty samples.
Result<Bytes> raw_content_dictionary(std::span<const ByteSpan> samples,
                                     size_t capacity = kRawDictionaryCapacity);

// One dictionary per type that has enough non-empty samples, from
// (type, content) pairs; what the writer uses with train_dictionaries_bytes.
// `capacity` 0 means the kind's default (kTrainedDictionaryCapacity or
// kRawDictionaryCapacity). `kind` defaults as WriterOptions does.
std::map<std::string, Bytes> train_dictionaries(
    std::span<const std::pair<std::string_view, ByteSpan>> samples,
    size_t capacity = 0, DictionaryKind kind = DictionaryKind::kRawContent);

// The same from artifacts, as a Mega-Cache blob holds them.
std::map<std::string, Bytes> train_dictionaries(
    std::span<const ArtifactView> artifacts, size_t capacity = 0,
    DictionaryKind kind = DictionaryKind::kRawContent);

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_DICTIONARY_H_
