// Where populate() reads artifacts from: a list whose names and sizes are
// known up front and whose contents are opened one at a time, as streams.
// A bundle's entries are then decompressed chunk by chunk while they are
// written, so populate's memory does not grow with the entry sizes.
#ifndef CACHEPACK_ARTIFACT_SOURCE_H_
#define CACHEPACK_ARTIFACT_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cachepack/artifact.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/content_source.h"
#include "cachepack/error.h"

namespace cachepack {

struct SourceArtifact {
  std::string type;
  std::string key;
  uint64_t size = 0;  // Content bytes.
};

class ArtifactSource {
 public:
  virtual ~ArtifactSource() = default;

  virtual size_t size() const = 0;
  virtual const SourceArtifact& at(size_t i) const = 0;
  // The content of artifact `i`. Safe to call from several threads at once
  // for different artifacts.
  virtual Result<std::unique_ptr<ContentSource>> open(size_t i) const = 0;
  // The content in place, when the source holds it in memory already (a
  // mapped blob): batches then need no copy.
  virtual std::optional<ByteSpan> view(size_t i) const { return std::nullopt; }
};

// Views into memory that the caller keeps alive (a mapped Mega-Cache blob).
class ViewArtifactSource final : public ArtifactSource {
 public:
  explicit ViewArtifactSource(std::span<const ArtifactView> views);
  size_t size() const override { return artifacts_.size(); }
  const SourceArtifact& at(size_t i) const override { return artifacts_[i]; }
  Result<std::unique_ptr<ContentSource>> open(size_t i) const override;
  std::optional<ByteSpan> view(size_t i) const override {
    return views_[i].content;
  }

 private:
  std::span<const ArtifactView> views_;
  std::vector<SourceArtifact> artifacts_;
};

// Every entry of a bundle, in stored order, each streamed chunk by chunk
// with its digests checked (bundle::EntryContentSource).
class BundleArtifactSource final : public ArtifactSource {
  // Only open() constructs; the private tag lets it use std::make_unique.
  struct Tag {
    explicit Tag() = default;
  };

 public:
  BundleArtifactSource(Tag, bundle::BundleReader reader,
                       std::vector<bundle::EntryInfo> entries);
  static Result<std::unique_ptr<BundleArtifactSource>> open(
      bundle::BundleReader reader);
  size_t size() const override { return entries_.size(); }
  const SourceArtifact& at(size_t i) const override { return artifacts_[i]; }
  Result<std::unique_ptr<ContentSource>> open(size_t i) const override;
  const bundle::BundleReader& reader() const { return reader_; }

 private:
  bundle::BundleReader reader_;
  std::vector<bundle::EntryInfo> entries_;
  std::vector<SourceArtifact> artifacts_;
};

}  // namespace cachepack

#endif  // CACHEPACK_ARTIFACT_SOURCE_H_
