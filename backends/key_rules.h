// The (namespace, key) rules every local backend applies before touching
// storage, so all of them reject the same inputs with the same error.
#ifndef CACHEPACK_BACKENDS_KEY_RULES_H_
#define CACHEPACK_BACKENDS_KEY_RULES_H_

#include <string>
#include <string_view>

#include "cachepack/backend.h"
#include "cachepack/error.h"
#include "util/text.h"

namespace cachepack {

// kInvalidArgument / kInvalidKey when the namespace is empty, for calls
// that take no key (list).
inline Result<void> check_ns(const Backend& backend, std::string_view op,
                             std::string_view ns) {
  if (!ns.empty()) return {};
  return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                    std::string(op) + ": namespace is empty",
                    ErrorLocation{.url = backend.url()});
}

// kInvalidArgument / kInvalidKey when the namespace or key is empty: an
// empty name is always a caller's bug, never a real artifact.
inline Result<void> check_ns_key(const Backend& backend, std::string_view op,
                                 std::string_view ns, std::string_view key) {
  if (!ns.empty() && !key.empty()) return {};
  return make_error(
      ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
      std::string(op) + ": " +
          (ns.empty() ? std::string("namespace")
                      : "key in namespace '" + printable(ns) + "'") +
          " is empty",
      ErrorLocation{.url = backend.url(), .key = std::string(key)});
}

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_KEY_RULES_H_
