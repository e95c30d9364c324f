// Optional capabilities of backends that own their storage: report how much
// they hold and trim themselves to a size. The CLI's `stats` and `gc` find
// them with dynamic_cast; backends without them (remote stores that evict by
// themselves) simply do not implement this interface.
#ifndef CACHEPACK_BACKENDS_MAINTENANCE_H_
#define CACHEPACK_BACKENDS_MAINTENANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cachepack/error.h"

namespace cachepack {

struct NamespaceUsage {
  std::string ns;
  uint64_t entries = 0;
  uint64_t bytes = 0;  // Stored bytes, including per-entry overhead.
};

struct GcReport {
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
  uint64_t entries_removed = 0;
  uint64_t stale_removed = 0;  // Entries of an older format version.
  uint64_t temps_removed = 0;  // Leftovers of crashed writers.
};

class Maintainable {
 public:
  virtual ~Maintainable() = default;
  // Entries and bytes per namespace, sorted by namespace.
  virtual Result<std::vector<NamespaceUsage>> usage() = 0;
  // Removes least recently used entries until at most `max_bytes` remain.
  virtual Result<GcReport> gc(uint64_t max_bytes) = 0;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_MAINTENANCE_H_
