#include "cachepack/artifact_source.h"

#include "serializer/bundle_stream.h"

namespace cachepack {

ViewArtifactSource::ViewArtifactSource(std::span<const ArtifactView> views)
    : views_(views) {
  artifacts_.reserve(views.size());
  for (const auto& v : views) {
    artifacts_.push_back({v.type, v.key, v.content.size()});
  }
}

Result<std::unique_ptr<ContentSource>> ViewArtifactSource::open(
    size_t i) const {
  return std::make_unique<SpanSource>(views_[i].content);
}

Result<std::unique_ptr<BundleArtifactSource>> BundleArtifactSource::open(
    bundle::BundleReader reader) {
  CP_ASSIGN_OR_RETURN(auto entries, reader.entries());
  return std::make_unique<BundleArtifactSource>(Tag{}, std::move(reader),
                                                std::move(entries));
}

BundleArtifactSource::BundleArtifactSource(
    Tag, bundle::BundleReader reader, std::vector<bundle::EntryInfo> entries)
    : reader_(std::move(reader)), entries_(std::move(entries)) {
  artifacts_.reserve(entries_.size());
  for (const auto& e : entries_) {
    artifacts_.push_back({e.type, e.key, e.original_size});
  }
}

Result<std::unique_ptr<ContentSource>> BundleArtifactSource::open(
    size_t i) const {
  return std::make_unique<bundle::EntryContentSource>(reader_, entries_[i]);
}

}  // namespace cachepack
