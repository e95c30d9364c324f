// An artifact is one compile-cache entry: a type name (which cache it belongs
// to), a key within that cache, and opaque content bytes of any size.
#ifndef CACHEPACK_ARTIFACT_H_
#define CACHEPACK_ARTIFACT_H_

#include <string>

#include "cachepack/bytes.h"

namespace cachepack {

// Owns its bytes.
struct Artifact {
  std::string type;
  std::string key;
  Bytes content;

  friend bool operator==(const Artifact&, const Artifact&) = default;
};

// Borrows its content from a buffer that must outlive it (a blob in memory
// or a mapped file). Type and key are small and decoded, so they are owned.
struct ArtifactView {
  std::string type;
  std::string key;
  ByteSpan content;
  uint64_t content_offset = 0;  // Where `content` starts in its source.

  Artifact to_owned() const {
    return Artifact{type, key, Bytes(content.begin(), content.end())};
  }
};

}  // namespace cachepack

#endif  // CACHEPACK_ARTIFACT_H_
