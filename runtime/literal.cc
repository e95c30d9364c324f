// parse_python_literal (cachepack/runtime_interfaces.h): ast.literal_eval for
// the kinds of cachepack/pickle.h, as the deterministic cache's pre-population
// file needs it. A recursive-descent parser over the text; every read is
// bounds-checked and every refusal names the offset.
#include <string>
#include <unordered_map>

#include "cachepack/runtime_interfaces.h"

namespace cachepack::runtime {
namespace {

constexpr int kMaxDepth = 1000;

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view text) : s_(text) {}

  Result<Value> run() {
    CP_ASSIGN_OR_RETURN(Value v, expression_list(0, /*top=*/true));
    skip_space();
    if (i_ != s_.size()) return bad("unexpected text after the literal");
    return v;
  }

 private:
  tl::unexpected<Error> bad(std::string why) const {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidContent,
                      "not a Python literal of the cached kinds: " + why,
                      ErrorLocation{.offset = i_});
  }

  void skip_space() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        ++i_;
      } else if (c == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') {
        i_ += 2;  // An explicit line join.
      } else {
        break;
      }
    }
  }
  bool at(char c) {
    skip_space();
    return i_ < s_.size() && s_[i_] == c;
  }

  // `a, b, ...` at the top: a tuple without parentheses, as literal_eval
  // reads "1, 2".
  Result<Value> expression_list(int depth, bool top) {
    CP_ASSIGN_OR_RETURN(Value first, value(depth));
    if (!top || !at(',')) return first;
    std::vector<Value> items{std::move(first)};
    while (at(',')) {
      ++i_;
      skip_space();
      if (i_ == s_.size()) break;
      CP_ASSIGN_OR_RETURN(Value v, value(depth));
      items.push_back(std::move(v));
    }
    return pickle::Tuple{std::move(items)};
  }

  Result<Value> value(int depth) {
    if (depth > kMaxDepth) {
      return make_error(ErrorCode::kInvalidArgument,
                        ErrorReason::kLimitExceeded,
                        "literal nested deeper than 1000 levels",
                        ErrorLocation{.offset = i_});
    }
    skip_space();
    if (i_ >= s_.size()) return bad("text ends where a value belongs");
    char c = s_[i_];
    if (c == '(' || c == '[') return sequence(depth, c);
    if (c == '{') return dict(depth);
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return integer();
    if (c == '\'' || c == '"') return strings();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = i_;
      while (
          i_ < s_.size() &&
          (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
        ++i_;
      }
      std::string_view word = s_.substr(start, i_ - start);
      if (i_ < s_.size() && (s_[i_] == '\'' || s_[i_] == '"') &&
          word.size() <= 2) {
        i_ = start;
        return strings();
      }
      if (word == "None") return pickle::None{};
      if (word == "True") return true;
      if (word == "False") return false;
      i_ = start;
      return bad("name '" + std::string(word) + "'");
    }
    return bad(std::string("unexpected character '") + c + "'");
  }

  Result<Value> sequence(int depth, char open) {
    char close = open == '(' ? ')' : ']';
    ++i_;
    std::vector<Value> items;
    bool comma = false;
    while (!at(close)) {
      if (i_ >= s_.size()) return bad(std::string("missing '") + close + "'");
      if (!items.empty() && !comma) return bad("missing ','");
      CP_ASSIGN_OR_RETURN(Value v, value(depth + 1));
      items.push_back(std::move(v));
      comma = at(',');
      if (comma) ++i_;
    }
    ++i_;
    if (open == '[') return pickle::List{std::move(items)};
    if (items.size() == 1 && !comma) return std::move(items[0]);  // (x)
    return pickle::Tuple{std::move(items)};
  }

  Result<Value> dict(int depth) {
    ++i_;
    pickle::Dict d;
    std::unordered_map<std::string, size_t> seen;
    bool comma = false;
    while (!at('}')) {
      if (i_ >= s_.size()) return bad("missing '}'");
      if (!d.items.empty() && !comma) return bad("missing ','");
      size_t key_at = i_;
      CP_ASSIGN_OR_RETURN(Value k, value(depth + 1));
      if (!at(':')) return bad("missing ':' (a set is not a cached kind)");
      ++i_;
      CP_ASSIGN_OR_RETURN(Value v, value(depth + 1));
      if (!k.hashable()) {
        i_ = key_at;
        return bad("unhashable dict key " + pickle::repr(k));
      }
      // Python keeps the first key's place and the last value.
      auto [it, fresh] = seen.emplace(pickle::equality_key(k), d.items.size());
      if (fresh) {
        d.items.push_back({std::move(k), std::move(v)});
      } else {
        d.items[it->second].value = std::move(v);
      }
      comma = at(',');
      if (comma) ++i_;
    }
    ++i_;
    return d;
  }

  Result<Value> integer() {
    bool negative = false;
    while (i_ < s_.size() && (s_[i_] == '-' || s_[i_] == '+')) {
      if (s_[i_] == '-') negative = !negative;
      ++i_;
      skip_space();
    }
    size_t start = i_;
    std::string digits;
    while (
        i_ < s_.size() &&
        (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
      if (s_[i_] == '_') {
        if (digits.empty() || i_ + 1 >= s_.size() ||
            !std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))) {
          return bad("misplaced '_' in a number");
        }
      } else {
        digits += s_[i_];
      }
      ++i_;
    }
    if (digits.empty()) {
      i_ = start;
      return bad("a sign without a number");
    }
    if (i_ < s_.size() &&
        (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) {
      i_ = start;
      return bad(
          "only decimal ints are cached kinds (no floats, complex or "
          "0x/0o/0b forms)");
    }
    if (digits.size() > 1 && digits[0] == '0' &&
        digits.find_first_not_of('0') != std::string::npos) {
      i_ = start;
      return bad("leading zeros in a decimal int");
    }
    std::optional<pickle::Int> n =
        pickle::Int::from_decimal((negative ? "-" : "") + digits);
    if (!n) {
      i_ = start;
      return bad("not a decimal int");
    }
    return Value(std::move(*n));
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    // Surrogates are written as three bytes, as "surrogatepass" does.
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  Result<uint32_t> hex_digits(size_t n) {
    if (i_ + n > s_.size()) return bad("truncated escape");
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = s_[i_ + k];
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                          : -1;
      if (d < 0) return bad("truncated escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    i_ += n;
    return v;
  }

  // One or more adjacent literals, all str or all bytes.
  Result<Value> strings() {
    std::optional<bool> kind_bytes;
    std::string out;
    while (true) {
      skip_space();
      size_t start = i_;
      bool is_bytes = false, raw = false, u = false;
      while (i_ < s_.size() && i_ - start < 2 &&
             std::string_view("bBrRuU").find(s_[i_]) !=
                 std::string_view::npos) {
        char p = static_cast<char>(std::tolower(s_[i_]));
        if ((p == 'b' && is_bytes) || (p == 'r' && raw) || (p == 'u' && u)) {
          return bad("string prefix");
        }
        (p == 'b' ? is_bytes : p == 'r' ? raw : u) = true;
        ++i_;
      }
      if (u && (is_bytes || raw)) return bad("string prefix");
      if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) {
        if (kind_bytes) {
          i_ = start;
          break;
        }
        return bad("string prefix without a quote");
      }
      if (kind_bytes && *kind_bytes != is_bytes) {
        i_ = start;
        return bad("cannot mix bytes and str literals");
      }
      kind_bytes = is_bytes;
      CP_TRY(one_string(out, is_bytes, raw));
    }
    if (*kind_bytes) return Value(to_bytes(out));
    return Value(std::move(out));
  }

  Result<void> one_string(std::string& out, bool is_bytes, bool raw) {
    char q = s_[i_];
    bool triple = s_.substr(i_, 3) == std::string(3, q);
    size_t open = triple ? 3 : 1;
    i_ += open;
    while (true) {
      if (i_ >= s_.size()) return bad("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == static_cast<unsigned char>(q) &&
          (!triple || s_.substr(i_, 3) == std::string(3, q))) {
        i_ += open;
        return {};
      }
      if (c == '\n' && !triple) return bad("newline in a one-line string");
      if (is_bytes && c >= 0x80) return bad("non-ASCII character in bytes");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) return bad("unterminated string");
      char e = s_[i_ + 1];
      if (raw) {
        out += '\\';
        out += e;
        i_ += 2;
        continue;
      }
      i_ += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
        case '\'':
        case '"':
          out += e;
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x': {
          CP_ASSIGN_OR_RETURN(uint32_t v, hex_digits(2));
          if (is_bytes) {
            out += static_cast<char>(v);
          } else {
            put_utf8(out, v);
          }
          break;
        }
        case 'u':
        case 'U': {
          if (is_bytes) {
            out += '\\';
            out += e;
            break;
          }
          CP_ASSIGN_OR_RETURN(uint32_t v, hex_digits(e == 'u' ? 4 : 8));
          if (v > 0x10ffff) return bad("\\U escape above U+10FFFF");
          put_utf8(out, v);
          break;
        }
        case 'N':
          if (!is_bytes) return bad("\\N{...} escapes are not supported");
          out += "\\N";
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0;
                 k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7';
                 ++k) {
              v = v * 8 + static_cast<uint32_t>(s_[i_++] - '0');
            }
            if (is_bytes) {
              if (v > 0xff) return bad("octal escape above 0o377");
              out += static_cast<char>(v);
            } else {
              put_utf8(out, v);
            }
          } else {  // Unknown escapes stay as written.
            out += '\\';
            out += e;
          }
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Result<Value> parse_python_literal(std::string_view text) {
  // literal_eval strips leading spaces and tabs; the parser skips the rest.
  return LiteralParser(text).run();
}

}  // namespace cachepack::runtime
