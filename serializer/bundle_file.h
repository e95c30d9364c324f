// Opening an existing bundle file to add to it in place, as append and sign
// do: under the writers' lock, at its newest intact version, and never over
// a damaged newer one. Internal to serializer/ (docs/BUNDLE.md, "Concurrent
// writers"; docs/FORMAT.md, "Appending").
#ifndef CACHEPACK_SERIALIZER_BUNDLE_FILE_H_
#define CACHEPACK_SERIALIZER_BUNDLE_FILE_H_

#include <string>

#include "cachepack/bundle_reader.h"
#include "cachepack/error.h"
#include "util/file.h"

namespace cachepack::bundle {

// Opens an existing bundle for writing and takes the writers' lock on it
// (util/file_lock.h), so no append, sign, convert or pack to the same path
// can interleave with it or replace it meanwhile; the lock goes with the
// descriptor. Readers take no lock: they only ever use complete versions.
Result<Fd> open_locked(const std::string& path);

// Append and sign open the newest intact version even when bytes follow its
// footer: they are the ones that repair such a tail (check_tail below).
ReaderOptions repairing_reader_options();

// Bytes after the last valid footer are what an interrupted append or sign
// left, and are dropped before writing, unless the file still ends in a
// footer's magic: then a complete newer version was written and later
// damaged, and dropping it would lose stored entries (kBadFooter), unless
// `discard_damaged`.
Result<void> check_tail(const BundleReader& reader, const std::string& path,
                        bool discard_damaged);

}  // namespace cachepack::bundle

#endif  // CACHEPACK_SERIALIZER_BUNDLE_FILE_H_
