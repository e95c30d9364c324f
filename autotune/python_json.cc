#include "autotune/python_json.h"

#include "util/python_json.h"

namespace cachepack::autotune {
namespace {

bool is_integral(const Json& v) {
  return v.is_number_integer() || v.is_boolean();
}

__int128 as_int(const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return v.get<int64_t>();
}

double as_double(const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return v.get<double>();
}

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view what) {
  return parse_json_text(text, what, kMaxJsonDepth);
}

std::string python_dumps(const Json& value) { return python_json_dumps(value); }

bool python_equal(const Json& a, const Json& b) {
  bool a_num = a.is_number() || a.is_boolean();
  bool b_num = b.is_number() || b.is_boolean();
  if (a_num || b_num) {
    if (!(a_num && b_num)) return false;
    if (is_integral(a) && is_integral(b)) return as_int(a) == as_int(b);
    return as_double(a) == as_double(b);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!python_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [k, item] : a.items()) {
      auto it = b.find(k);
      if (it == b.end() || !python_equal(item, *it)) return false;
    }
    return true;
  }
  return a == b;  // null, string
}

bool python_truthy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return v.get<bool>();
    case Json::value_t::number_integer:
      return v.get<int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return v.get<uint64_t>() != 0;
    case Json::value_t::number_float:
      return v.get<double>() != 0.0;
    case Json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    default:
      return !v.empty();
  }
}

}  // namespace cachepack::autotune
