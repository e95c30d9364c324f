// Conversion between cachepack bundles and PyTorch Mega-Cache blobs, in both
// directions and order-preserving: a blob's groups are recorded in the
// bundle so blob -> bundle -> blob gives back the same bytes.
#ifndef CACHEPACK_BUNDLE_CONVERT_H_
#define CACHEPACK_BUNDLE_CONVERT_H_

#include <string>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/megacache.h"

namespace cachepack::bundle {

// Adds the blob's artifacts to `writer`, one group per blob group.
Result<size_t> add_megacache(BundleWriter& writer, ByteSpan blob,
                             const megacache::ReadOptions& options = {});

// Adds every entry of `source` in stored order, with its groups if it has
// them.
Result<size_t> add_bundle(BundleWriter& writer, const BundleReader& source);

// Adds a file of either format (is_bundle() decides); `blob_options` say
// how a Mega-Cache blob is parsed, `bundle_options` how a bundle is opened.
Result<size_t> add_file(BundleWriter& writer, const std::string& path,
                        const megacache::ReadOptions& blob_options = {},
                        const ReaderOptions& bundle_options = {});

// The Mega-Cache blob holding the bundle's entries: the recorded groups
// when the bundle has them, otherwise one group per type in first-use order
// (what one PyTorch save would write). kInvalidArgument if a type or key is
// not UTF-8, which a blob cannot carry.
Result<Bytes> bundle_to_megacache(const BundleReader& reader);

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_CONVERT_H_
