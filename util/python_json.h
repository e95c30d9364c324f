// JSON text exactly as Python's json module writes it (json.dumps with its
// default separators, ensure_ascii escapes, float repr, optional sort_keys
// and indent), over nlohmann::ordered_json, which keeps insertion order as
// a Python dict does. The isolation key hashes this text, the memoizer's
// dump file and PyTorch's JSON remote-cache records are written in it.
#ifndef CACHEPACK_UTIL_PYTHON_JSON_H_
#define CACHEPACK_UTIL_PYTHON_JSON_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cachepack/error.h"

namespace cachepack {

using Json = nlohmann::ordered_json;

// JSON read from files or callers nests a few levels; deeper is hostile.
inline constexpr size_t kDefaultMaxJsonDepth = 200;

struct PythonJsonOptions {
  bool sort_keys = false;
  // json.dumps(indent=N): newlines, N spaces a level, "," between items;
  // nullopt writes one line with ", " and ": ".
  std::optional<int> indent;
};

// json.dumps(value, sort_keys=..., indent=...). Floats print as Python's
// repr (shortest round trip; 1e+16, 1e-05, 1.0), infinities and NaN as
// Infinity / -Infinity / NaN, and every character outside ' '..'~' as a
// \uXXXX escape (a lone surrogate, which a Python str may hold, included).
std::string python_json_dumps(const Json& value,
                              PythonJsonOptions options = {});

// Python's repr(float).
std::string python_float_repr(double value);

// Parses `text`; kDataLoss / kInvalidJson naming `what` when it is not
// JSON, kDataLoss / kLimitExceeded when it nests deeper than `max_depth`
// (parsing, printing and comparing recurse).
Result<Json> parse_json_text(std::string_view text, std::string_view what,
                             size_t max_depth = kDefaultMaxJsonDepth);

}  // namespace cachepack

#endif  // CACHEPACK_UTIL_PYTHON_JSON_H_
