#include "cachepack/bundle_convert.h"

#include <algorithm>
#include <functional>

#include "util/file.h"

namespace cachepack::bundle {

namespace {

// Adds the blob's artifacts in place, or, when `done_reading` is set,
// copied so that the input behind them can be released as the writer goes.
Result<size_t> add_blob(BundleWriter& writer, ByteSpan data,
                        const megacache::ReadOptions& options,
                        const std::function<void(ByteSpan)>& done_reading) {
  CP_ASSIGN_OR_RETURN(auto blob, megacache::parse(data, options));
  constexpr size_t kReleaseStep = size_t{8} << 20;
  size_t read_behind = 0;
  size_t added = 0;
  for (const megacache::Group& g : blob.groups) {
    CP_TRY(writer.begin_group(g.type));
    for (const ArtifactView& a : g.artifacts) {
      if (!done_reading) {
        // The blob outlives this call, not the writer: read it in place,
        // then flush before returning.
        CP_TRY(writer.add_borrowed(a.type, a.key, a.content));
      } else {
        // A copy (into a solid block or the pool's buffer) is what the
        // writer holds once add() returns.
        CP_TRY(writer.add(a.type, a.key, a.content));
        const size_t end = a.content_offset + a.content.size();
        if (end - read_behind >= kReleaseStep) {
          done_reading(data.subspan(read_behind, end - read_behind));
          read_behind = end;
        }
      }
      ++added;
    }
  }
  CP_TRY(writer.flush());
  if (done_reading) done_reading(data.subspan(read_behind));
  return added;
}

}  // namespace

Result<size_t> add_megacache(BundleWriter& writer, ByteSpan data,
                             const megacache::ReadOptions& options) {
  return add_blob(writer, data, options, nullptr);
}

Result<size_t> add_bundle(BundleWriter& writer, const BundleReader& source) {
  CP_ASSIGN_OR_RETURN(auto entries, source.entries());
  CP_ASSIGN_OR_RETURN(auto groups, source.groups());
  auto add_one = [&](const EntryInfo& e) -> Result<void> {
    CP_ASSIGN_OR_RETURN(auto content, source.read(e));
    return writer.add(e.type, e.key, content);
  };
  size_t next = 0;
  for (const GroupInfo& g : groups) {
    CP_TRY(writer.begin_group(g.type));
    for (uint64_t i = 0; i < g.count && next < entries.size(); ++i, ++next) {
      CP_TRY(add_one(entries[next]));
    }
  }
  for (; next < entries.size(); ++next) {
    CP_TRY(add_one(entries[next]));
  }
  return entries.size();
}

Result<size_t> add_file(BundleWriter& writer, const std::string& path,
                        const megacache::ReadOptions& blob_options,
                        const ReaderOptions& bundle_options) {
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  if (is_bundle(file.bytes())) {
    CP_ASSIGN_OR_RETURN(auto reader, BundleReader::open(path, bundle_options));
    return add_bundle(writer, reader);
  }
  if (file.bytes().size() < megacache::kHeaderSize) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kBadMagic,
        "neither a cachepack bundle nor a PyTorch Mega-Cache blob",
        ErrorLocation{.file = path});
  }
  // A blob may be larger than memory: read it with bounded residency,
  // releasing what parsing and the writer are done with.
  auto release = [&file](ByteSpan range) { file.release(range); };
  megacache::ReadOptions options = blob_options;
  options.done_reading = release;
  auto added = add_blob(writer, file.bytes(), options, release);
  // A parse error is in the blob; a write error names the output already.
  if (!added && added.error().where().file.empty()) {
    return in_file(std::move(added), path);
  }
  return added;
}

Result<Bytes> bundle_to_megacache(const BundleReader& reader) {
  CP_ASSIGN_OR_RETURN(auto entries, reader.entries());
  CP_ASSIGN_OR_RETURN(auto groups, reader.groups());
  // A group table that does not partition the entries (only a damaged
  // index has one) is ignored rather than trusted.
  std::vector<uint64_t> counts;
  for (const GroupInfo& g : groups) counts.push_back(g.count);
  bool use_groups =
      !groups.empty() &&
      !group_partition_error(counts, entries.size(), [&](size_t g, uint64_t e) {
        return entries[e].type == groups[g].type;
      });

  // (type, positions) in blob order.
  std::vector<std::pair<std::string, std::vector<size_t>>> plan;
  if (use_groups) {
    size_t next = 0;
    for (const GroupInfo& g : groups) {
      std::vector<size_t> members;
      for (uint64_t i = 0; i < g.count; ++i) members.push_back(next++);
      plan.emplace_back(g.type, std::move(members));
    }
  } else {
    for (const EntryInfo& e : entries) {
      auto it = std::find_if(plan.begin(), plan.end(),
                             [&](const auto& p) { return p.first == e.type; });
      if (it == plan.end()) {
        plan.emplace_back(e.type, std::vector<size_t>{});
        it = plan.end() - 1;
      }
      it->second.push_back(e.position);
    }
  }
  megacache::Writer blob;
  for (const auto& [type, members] : plan) {
    std::vector<Bytes> contents;
    contents.reserve(members.size());
    std::vector<megacache::KeyedContent> group;
    for (size_t p : members) {
      CP_ASSIGN_OR_RETURN(auto content, reader.read(entries[p]));
      contents.push_back(std::move(content));
    }
    for (size_t i = 0; i < members.size(); ++i) {
      group.push_back({entries[members[i]].key, contents[i]});
    }
    CP_TRY(blob.append_group(type, group));
  }
  ByteSpan bytes = blob.bytes();
  return Bytes(bytes.begin(), bytes.end());
}

}  // namespace cachepack::bundle
