// JSON as PyTorch's remote-cache serde (RemoteCacheJsonSerde) reads and
// writes it: json.dumps with its default separators and ASCII escapes
// (util/python_json.h), and Python's == between the decoded values.
#ifndef CACHEPACK_AUTOTUNE_PYTHON_JSON_H_
#define CACHEPACK_AUTOTUNE_PYTHON_JSON_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cachepack/error.h"

namespace cachepack::autotune {

using Json = nlohmann::ordered_json;

// Records nest two levels (a bundle three); anything far deeper is hostile.
inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text`; kDataLoss/kInvalidJson naming `what` when it is not JSON,
// kDataLoss/kLimitExceeded when it nests deeper than kMaxJsonDepth.
Result<Json> parse_json(std::string_view text, std::string_view what);

// json.dumps(value): ", " and ": " separators, non-ASCII as \uXXXX.
std::string python_dumps(const Json& value);

// Python's a == b on the values json.loads returns: numbers (and booleans,
// which are ints) compare by value, containers element by element.
bool python_equal(const Json& a, const Json& b);

// Python's bool(value).
bool python_truthy(const Json& value);

}  // namespace cachepack::autotune

#endif  // CACHEPACK_AUTOTUNE_PYTHON_JSON_H_
