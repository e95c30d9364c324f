// pack: gathers artifacts from backends, bundles and blobs into one
// output, as PyTorch's save would have recorded them: types in first-seen
// order, each type's artifacts source by source, identical (type, key,
// content) kept once. Contents reach the sink as streams: a bundle's
// entries are never held whole (their SHA-256 is in the index), a
// backend's values one at a time; the sink (a bundle writer, a blob writer)
// decides what to keep.
#ifndef CACHEPACK_PACK_H_
#define CACHEPACK_PACK_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "cachepack/artifact_source.h"
#include "cachepack/backend.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/bytes.h"
#include "cachepack/content_source.h"
#include "cachepack/error.h"
#include "cachepack/megacache.h"

namespace cachepack {

// One input: a backend (every namespace, every value of multi-valued keys)
// or the artifacts of a bundle or blob.
struct PackSource {
  Backend* backend = nullptr;
  const ArtifactSource* artifacts = nullptr;
};

// Receives the packed artifacts in order. begin_group() comes before the
// first artifact of each type, once per type.
class PackSink {
 public:
  virtual ~PackSink() = default;
  virtual Result<void> begin_group(std::string_view type) = 0;
  virtual Result<void> add(std::string_view type, std::string_view key,
                           ContentSource& content) = 0;
};

struct PackStats {
  uint64_t artifacts = 0;   // Added to the sink.
  uint64_t duplicates = 0;  // Identical to one already added, dropped.
  uint64_t types = 0;
  uint64_t bytes = 0;
};

Result<PackStats> pack(std::span<const PackSource> sources, PackSink& sink,
                       Deadline deadline = Deadline::never());

// Packs into a bundle: each artifact is streamed into the writer, which
// compresses it; the caller finishes the writer.
class BundlePackSink final : public PackSink {
 public:
  explicit BundlePackSink(bundle::BundleWriter& writer) : writer_(writer) {}
  Result<void> begin_group(std::string_view type) override;
  Result<void> add(std::string_view type, std::string_view key,
                   ContentSource& content) override;

 private:
  bundle::BundleWriter& writer_;
};

// Packs into a Mega-Cache blob. A group's count precedes its artifacts, so
// one type's artifacts are held until the next type starts (or finish()).
class MegacachePackSink final : public PackSink {
 public:
  Result<void> begin_group(std::string_view type) override;
  Result<void> add(std::string_view type, std::string_view key,
                   ContentSource& content) override;
  // Writes the last group; the blob is complete until the next add().
  Result<ByteSpan> finish();

 private:
  Result<void> write_group();

  megacache::Writer writer_;
  std::string type_;
  std::vector<Artifact> group_;
};

}  // namespace cachepack

#endif  // CACHEPACK_PACK_H_
