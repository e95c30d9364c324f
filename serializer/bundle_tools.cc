#include "serializer/bundle_tools.h"

#include <fcntl.h>
#include <unistd.h>

#include "artifacts/type_registry.h"
#include "serializer/bundle_reader.h"
#include "serializer/bundle_signing.h"

namespace cachepack::bundle {

bool is_bundle_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::byte head[8];
  ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof head) &&
         has_bundle_magic(ByteSpan(head, sizeof head));
}

Result<std::vector<ListedArtifact>> list_bundle(const std::string& path) {
  auto reader = BundleReader::open(path);
  if (!reader) return tl::unexpected(reader.error());
  auto entries = reader->entries();
  if (!entries) return tl::unexpected(entries.error());
  std::vector<ListedArtifact> out;
  out.reserve(entries->size());
  for (const EntryInfo& e : *entries) {
    out.push_back(
        {e.type, e.key, e.original_size, e.stored_size, to_hex(e.sha256)});
  }
  return out;
}

Result<std::string> verify_bundle(
    const std::string& path, const std::vector<std::string>& trusted_key_files,
    bool canonical_keys) {
  ReaderOptions options;
  for (const std::string& file : trusted_key_files) {
    auto key = load_public_key(file);
    if (!key) return tl::unexpected(key.error());
    options.trusted_keys.push_back(*key);
  }
  auto reader = BundleReader::open(path, options);
  if (!reader) return tl::unexpected(reader.error());
  auto report = reader->verify_all();
  if (!report) return tl::unexpected(report.error());
  if (canonical_keys) {
    auto entries = reader->entries();
    if (!entries) return tl::unexpected(entries.error());
    for (const EntryInfo& e : *entries) {
      auto content = reader->read(e);
      if (!content) return tl::unexpected(content.error());
      auto ok = TypeRegistry::global().check(e.type, e.key, *content,
                                             CheckLevel::kCanonical);
      if (!ok) {
        return tl::unexpected(
            std::move(ok.error()).in_file(path).at_offset(e.offset));
      }
    }
  }
  std::string line = std::to_string(report->entries) + " entries, " +
                     std::to_string(report->original_bytes) + " bytes, ";
  if (report->valid_signatures == 0) {
    line += "unsigned";
  } else {
    line += std::to_string(report->valid_signatures) + " valid signature" +
            (report->valid_signatures == 1 ? "" : "s");
    if (!trusted_key_files.empty()) line += " (trusted)";
  }
  return line;
}

}  // namespace cachepack::bundle
