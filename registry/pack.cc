#include "cachepack/pack.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "backends/multi_value.h"
#include "cachepack/artifact_manager.h"
#include "cachepack/hash.h"

namespace cachepack {
namespace {

// Types in first-seen order: a backend's sorted namespaces, a file's types
// in stored order.
Result<std::vector<std::string>> type_order(std::span<const PackSource> sources,
                                            Deadline deadline) {
  std::vector<std::string> order;
  auto note = [&](std::string_view type) {
    if (std::find(order.begin(), order.end(), type) == order.end()) {
      order.emplace_back(type);
    }
  };
  for (const auto& s : sources) {
    if (s.backend != nullptr) {
      CP_ASSIGN_OR_RETURN(auto namespaces, s.backend->namespaces(deadline));
      std::sort(namespaces.begin(), namespaces.end());
      for (const auto& ns : namespaces) note(ns);
    } else {
      for (size_t i = 0; i < s.artifacts->size(); ++i) {
        note(s.artifacts->at(i).type);
      }
    }
  }
  return order;
}

class Packer {
 public:
  Packer(PackSink& sink, Deadline deadline)
      : sink_(sink), deadline_(deadline) {}

  Result<void> pack_type(const std::string& type,
                         std::span<const PackSource> sources) {
    group_started_ = false;
    for (const auto& s : sources) {
      CP_TRY(s.backend != nullptr ? from_backend(type, *s.backend)
                                  : from_artifacts(type, *s.artifacts));
    }
    return {};
  }

  const PackStats& stats() const { return stats_; }

 private:
  Result<void> add(std::string_view type, std::string_view key,
                   ByteSpan content) {
    Sha256Digest digest = sha256(content);
    SpanSource source(content, digest);
    return add(type, key, digest, source);
  }

  Result<void> add(std::string_view type, std::string_view key,
                   const Sha256Digest& digest, ContentSource& content) {
    if (!seen_.insert(artifact_identity(type, key, digest)).second) {
      ++stats_.duplicates;
      return {};
    }
    if (!group_started_) {
      CP_TRY(sink_.begin_group(type));
      group_started_ = true;
      ++stats_.types;
    }
    CP_TRY(sink_.add(type, key, content));
    ++stats_.artifacts;
    stats_.bytes += content.size();
    return {};
  }

  Result<void> from_backend(const std::string& type, Backend& backend) {
    CP_ASSIGN_OR_RETURN(auto keys, backend.list(type, deadline_));
    std::sort(keys.begin(), keys.end());
    auto* multi = dynamic_cast<MultiValued*>(&backend);
    for (const auto& key : keys) {
      if (multi != nullptr && multi->multi_valued(type)) {
        CP_ASSIGN_OR_RETURN(auto values, multi->get_all(type, key, deadline_));
        for (const auto& v : values) {
          CP_TRY(add(type, key, v));
        }
        continue;
      }
      CP_ASSIGN_OR_RETURN(auto value, backend.get(type, key, deadline_));
      if (!value) continue;  // Removed since list().
      CP_TRY(add(type, key, *value));
    }
    return {};
  }

  Result<void> from_artifacts(const std::string& type,
                              const ArtifactSource& artifacts) {
    for (size_t i = 0; i < artifacts.size(); ++i) {
      const SourceArtifact& a = artifacts.at(i);
      if (a.type != type) continue;
      if (auto view = artifacts.view(i)) {
        CP_TRY(add(type, a.key, *view));
        continue;
      }
      CP_ASSIGN_OR_RETURN(auto content, artifacts.open(i));
      if (auto digest = content->known_sha256()) {
        // Streamed to the sink, which checks the digest on the way.
        CP_TRY(add(type, a.key, *digest, *content));
        continue;
      }
      CP_ASSIGN_OR_RETURN(
          auto bytes, with_key(read_all(*content, type + " artifact"), a.key));
      CP_TRY(add(type, a.key, bytes));
    }
    return {};
  }

  PackSink& sink_;
  const Deadline deadline_;
  std::set<std::string> seen_;
  bool group_started_ = false;
  PackStats stats_;
};

}  // namespace

Result<PackStats> pack(std::span<const PackSource> sources, PackSink& sink,
                       Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto order, type_order(sources, deadline));
  Packer packer(sink, deadline);
  for (const auto& type : order) {
    CP_TRY(packer.pack_type(type, sources));
  }
  return packer.stats();
}

Result<void> BundlePackSink::begin_group(std::string_view type) {
  return writer_.begin_group(type);
}

Result<void> BundlePackSink::add(std::string_view type, std::string_view key,
                                 ContentSource& content) {
  return writer_.add_stream(type, key, content);
}

Result<void> MegacachePackSink::begin_group(std::string_view type) {
  CP_TRY(write_group());
  type_ = type;
  return {};
}

Result<void> MegacachePackSink::add(std::string_view type, std::string_view key,
                                    ContentSource& content) {
  CP_ASSIGN_OR_RETURN(auto bytes,
                      read_all(content, std::string(type) + " artifact"));
  group_.push_back(
      Artifact{std::string(type), std::string(key), std::move(bytes)});
  return {};
}

Result<void> MegacachePackSink::write_group() {
  if (group_.empty()) return {};
  std::vector<megacache::KeyedContent> entries;
  entries.reserve(group_.size());
  for (const auto& a : group_) entries.push_back({a.key, a.content});
  auto appended = writer_.append_group(type_, entries);
  group_.clear();
  return appended;
}

Result<ByteSpan> MegacachePackSink::finish() {
  CP_TRY(write_group());
  return writer_.bytes();
}

}  // namespace cachepack
