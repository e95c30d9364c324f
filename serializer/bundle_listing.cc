#include "cachepack/bundle_listing.h"

#include "cachepack/artifact_types.h"
#include "util/file.h"

namespace cachepack::bundle {

bool is_bundle_file(const std::string& path) {
  auto file = MappedFile::open(path);
  return file && is_bundle(file->bytes());
}

Result<std::vector<ListedArtifact>> list_bundle(const BundleReader& reader) {
  CP_ASSIGN_OR_RETURN(auto entries, reader.entries());
  std::vector<ListedArtifact> out;
  out.reserve(entries.size());
  for (const EntryInfo& e : entries) {
    out.push_back(
        {e.type, e.key, e.original_size, e.stored_size, to_hex(e.sha256)});
  }
  return out;
}

Result<std::string> verify_bundle(const BundleReader& reader,
                                  bool canonical_keys) {
  CP_ASSIGN_OR_RETURN(auto report, reader.verify_all());
  if (canonical_keys) {
    CP_ASSIGN_OR_RETURN(auto entries, reader.entries());
    for (const EntryInfo& e : entries) {
      // A type cachepack does not know has no rules to check.
      if (!ArtifactTypes::global().contains(e.type)) continue;
      CP_ASSIGN_OR_RETURN(auto content, reader.read(e));
      auto ok = ArtifactTypes::global().check(e.type, e.key, content,
                                              CheckLevel::kCanonical);
      if (!ok) {
        return tl::unexpected(
            std::move(ok.error()).in_file(reader.path()).at_offset(e.offset));
      }
    }
  }
  std::string line = std::to_string(report.entries) + " entries, " +
                     std::to_string(report.original_bytes) + " bytes, ";
  if (report.valid_signatures == 0) {
    line += "unsigned";
  } else {
    line += std::to_string(report.valid_signatures) + " valid signature" +
            (report.valid_signatures == 1 ? "" : "s");
    if (report.trusted_signatures > 0) line += " (trusted)";
  }
  return line;
}

}  // namespace cachepack::bundle
