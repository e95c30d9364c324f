#include "serializer/bundle_file.h"

#include <fcntl.h>

#include <cstring>

#include "util/file_lock.h"

namespace cachepack::bundle {

Result<Fd> open_locked(const std::string& path) {
  CP_ASSIGN_OR_RETURN(auto lock, PathLock::acquire(path, O_WRONLY));
  return Fd(lock.release());
}

ReaderOptions repairing_reader_options() {
  ReaderOptions options;
  options.allow_older_version = true;
  return options;
}

Result<void> check_tail(const BundleReader& reader, const std::string& path,
                        bool discard_damaged) {
  if (reader.ignored_tail() == 0 || discard_damaged) return {};
  CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  ByteSpan data = file.bytes();
  if (data.size() >= kFooterMagic.size() &&
      std::memcmp(data.data() + data.size() - kFooterMagic.size(),
                  kFooterMagic.data(), kFooterMagic.size()) == 0) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kBadFooter,
        "the newest version's footer is damaged; refusing to "
        "write over it (discard_damaged_tail to drop it and "
        "keep the previous version)",
        ErrorLocation{.file = path, .offset = data.size() - kFooterSize});
  }
  return {};
}

}  // namespace cachepack::bundle
