#include "autotune/python_json.h"

#include <algorithm>
#include <cstdio>

namespace cachepack::autotune {
namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] ",
// which says nothing to a user.
std::string without_exception_tag(std::string text) {
  if (text.starts_with("[json.exception.")) {
    size_t end = text.find("] ");
    if (end != std::string::npos) text.erase(0, end + 2);
  }
  return text;
}

void append_u16(std::string& out, uint32_t unit) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", unit);
  out += buf;
}

// json.dumps's ensure_ascii escaping of a (valid UTF-8) string.
void dump_string(std::string_view s, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          // Python escapes everything outside ' '..'~'.
          if (c < 0x20 || c == 0x7f) {
            append_u16(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Parsed JSON strings are valid UTF-8: decode one code point.
    int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    uint32_t cp = c & (0x3f >> extra);
    for (int k = 1; k <= extra && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    i += extra + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      append_u16(out, 0xd800 + (cp >> 10));
      append_u16(out, 0xdc00 + (cp & 0x3ff));
    } else {
      append_u16(out, cp);
    }
  }
  out += '"';
}

void dump(const Json& v, std::string& out) {
  switch (v.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        dump_string(k, out);
        out += ": ";
        dump(item, out);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& item : v) {
        if (!first) out += ", ";
        first = false;
        dump(item, out);
      }
      out += ']';
      return;
    }
    case Json::value_t::string:
      dump_string(v.get_ref<const std::string&>(), out);
      return;
    default:
      // Numbers, booleans and null print as Python's repr does for the
      // values json.loads makes (shortest round-trip floats).
      out += v.dump();
  }
}

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

// Deepest nesting of arrays and objects in `text`, strings skipped.
// Parsing, printing and comparing recurse, so a stored record from anywhere
// must not be able to nest without bound.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view what) {
  if (nesting_depth(text) > kMaxJsonDepth) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kLimitExceeded,
                      std::string(what) + " nests deeper than " +
                          std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
        std::string(what) + " is not JSON: " + without_exception_tag(e.what()));
  }
}

std::string python_dumps(const Json& value) {
  std::string out;
  dump(value, out);
  return out;
}

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
