#include "cachepack/content_source.h"

#include <new>
#include <string>

namespace cachepack {

Result<Bytes> read_all(ContentSource& source, std::string_view what) {
  Bytes out;
  try {
    out.reserve(static_cast<size_t>(source.size()));
    while (true) {
      CP_ASSIGN_OR_RETURN(auto piece, source.next());
      if (piece.empty()) break;
      out.insert(out.end(), piece.begin(), piece.end());
    }
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kResourceExhausted,
                      ErrorReason::kLimitExceeded,
                      "out of memory holding " + std::to_string(source.size()) +
                          " bytes of " + std::string(what));
  }
  return out;
}

}  // namespace cachepack
