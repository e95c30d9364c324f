// Optional capability of backends where one key can hold several values,
// as PyTorch's FX-graph and AOTAutograd cache directories do (one file per
// content under the key's directory, told apart by guards when loaded).
// populate() and export_artifacts() use it so that no value is lost; the
// plain Backend interface sees one value per key.
#ifndef CACHEPACK_BACKENDS_MULTI_VALUE_H_
#define CACHEPACK_BACKENDS_MULTI_VALUE_H_

#include <string_view>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/bytes.h"
#include "cachepack/content_source.h"
#include "cachepack/error.h"

namespace cachepack {

class MultiValued {
 public:
  virtual ~MultiValued() = default;

  // Whether keys of this namespace can hold several values.
  virtual bool multi_valued(std::string_view ns) const = 0;

  // Every value under the key, oldest first; empty if none.
  virtual Result<std::vector<Bytes>> get_all(std::string_view ns,
                                             std::string_view key,
                                             Deadline deadline) = 0;

  // Stores the value read from `value` next to the key's other values, as
  // PyTorch's own populate_cache() does. kInsertIfAbsent: false if an
  // identical value is already there; kOverwrite: that value is rewritten.
  // The key's other values stay either way. Not seen by the Backend
  // counters. An error from the source stores nothing.
  virtual Result<bool> add_stream(std::string_view ns, std::string_view key,
                                  ContentSource& value, PutMode mode,
                                  Deadline deadline) = 0;

  // add_stream() of bytes held in memory.
  Result<bool> add(std::string_view ns, std::string_view key, ByteSpan value,
                   PutMode mode, Deadline deadline) {
    SpanSource source(value);
    return add_stream(ns, key, source, mode, deadline);
  }
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_MULTI_VALUE_H_
