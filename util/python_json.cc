#include "util/python_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cachepack {
namespace {

void append_u16(std::string& out, uint32_t unit) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", unit);
  out += buf;
}

// ensure_ascii escaping. Strings are UTF-8 (lone surrogates as their 3-byte
// forms); a byte that starts no valid sequence is escaped as itself, so
// nothing is read past the end.
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
          if (c < 0x20 || c == 0x7f) {
            append_u16(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    size_t extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (extra == 0 || i + extra >= s.size()) {
      append_u16(out, c);
      ++i;
      continue;
    }
    uint32_t cp = c & (0x3f >> extra);
    for (size_t k = 1; k <= extra; ++k) {
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

void newline(std::string& out, const PythonJsonOptions& o, int level) {
  out += '\n';
  out.append(static_cast<size_t>(*o.indent * level), ' ');
}

void dump(const Json& v, const PythonJsonOptions& o, int level,
          std::string& out) {
  const char* item_sep = o.indent ? "," : ", ";
  switch (v.type()) {
    case Json::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      std::vector<std::pair<const std::string*, const Json*>> items;
      for (const auto& [k, item] : v.items()) items.emplace_back(&k, &item);
      if (o.sort_keys) {
        // Code point order is UTF-8 byte order.
        std::stable_sort(
            items.begin(), items.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
      }
      out += '{';
      bool first = true;
      for (const auto& [k, item] : items) {
        if (!first) out += item_sep;
        first = false;
        if (o.indent) newline(out, o, level + 1);
        dump_string(*k, out);
        out += ": ";
        dump(*item, o, level + 1, out);
      }
      if (o.indent) newline(out, o, level);
      out += '}';
      return;
    }
    case Json::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const Json& item : v) {
        if (!first) out += item_sep;
        first = false;
        if (o.indent) newline(out, o, level + 1);
        dump(item, o, level + 1, out);
      }
      if (o.indent) newline(out, o, level);
      out += ']';
      return;
    }
    case Json::value_t::string:
      dump_string(v.get_ref<const std::string&>(), out);
      return;
    case Json::value_t::number_float:
      out += python_float_repr(v.get<double>());
      return;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::null:
      out += "null";
      return;
    default:
      out += v.dump();  // integers
  }
}

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

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits, as Python's repr picks them.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value,
                                 std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  int decpt = exponent + 1;  // digits[0] sits before the point at decpt.
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out += digits + std::string(decpt - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+',
                std::abs(exponent));
  return out + exp;
}

std::string python_json_dumps(const Json& value, PythonJsonOptions options) {
  std::string out;
  dump(value, options, 0, out);
  return out;
}

Result<Json> parse_json_text(std::string_view text, std::string_view what,
                             size_t max_depth) {
  if (nesting_depth(text) > max_depth) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kLimitExceeded,
                      std::string(what) + " nests deeper than " +
                          std::to_string(max_depth) + " levels");
  }
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    std::string message = e.what();
    if (message.starts_with("[json.exception.")) {
      size_t end = message.find("] ");
      if (end != std::string::npos) message.erase(0, end + 2);
    }
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      std::string(what) + " is not JSON: " + message);
  }
}

}  // namespace cachepack
