#include "cachepack/url.h"

#include <charconv>

namespace cachepack {
namespace {

tl::unexpected<Error> bad_url(std::string_view text, std::string why,
                              std::string_view form = kGenericUrlForm) {
  return make_error(ErrorCode::kInvalidArgument,
                    "bad backend URL \"" + std::string(text) + "\": " + why +
                        "; expected " + std::string(form));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

tl::unexpected<Error> bad_backend_url(const BackendUrl& url,
                                      std::string_view why,
                                      std::string_view form) {
  return bad_url(url.text, std::string(why), form);
}

Result<uint64_t> parse_url_uint(const BackendUrl& url, std::string_view what,
                                std::string_view text, std::string_view form) {
  uint64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return bad_backend_url(url,
                           std::string(what) +
                               " must be a non-negative integer, got \"" +
                               std::string(text) + "\"",
                           form);
  }
  return value;
}

Result<bool> parse_url_bool(const BackendUrl& url, std::string_view what,
                            std::string_view text, std::string_view form) {
  if (text == "1" || text == "true" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "no") return false;
  return bad_backend_url(url, std::string(what) + " must be 0 or 1", form);
}

std::optional<std::string> BackendUrl::param(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Result<std::string> parse_url_scheme(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return bad_url(text, "no scheme");
  }
  std::string scheme(text.substr(0, sep));
  for (char& c : scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.';
    if (!ok) return bad_url(text, "invalid scheme");
  }
  return scheme;
}

Result<BackendUrl> parse_backend_url(std::string_view text,
                                     std::string_view form) {
  BackendUrl url;
  CP_ASSIGN_OR_RETURN(url.scheme, parse_url_scheme(text));
  const size_t sep = url.scheme.size();  // Where "://" starts.

  std::string_view rest = text.substr(sep + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash);
  }
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view user = userinfo;
    std::string_view password;
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      password = userinfo.substr(colon + 1);
    }
    auto u = percent_decode(user);
    auto p = percent_decode(password);
    if (!u || !p) return bad_url(text, "bad percent-escape in user info", form);
    url.user = *u;
    url.password = *p;
  }
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {  // IPv6 literal.
    size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return bad_url(text, "unclosed '[' in host", form);
    }
    url.host = std::string(host.substr(1, close - 1));
    host = host.substr(close + 1);
    if (!host.empty() && host.front() != ':') {
      return bad_url(text, "junk after IPv6 host", form);
    }
  } else {
    size_t colon = host.rfind(':');
    url.host = std::string(host.substr(0, colon));
    host = colon == std::string_view::npos ? std::string_view{}
                                           : host.substr(colon);
  }
  if (!host.empty()) {  // ":port"
    std::string_view digits = host.substr(1);
    unsigned value = 0;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size() || value > 65535) {
      return bad_url(text, "port must be a number from 0 to 65535", form);
    }
    url.port = static_cast<uint16_t>(value);
  }
  auto decoded_path = percent_decode(path);
  if (!decoded_path) return bad_url(text, "bad percent-escape in path", form);
  url.path = *decoded_path;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                    : pair.substr(eq + 1));
    if (!name || !value || name->empty()) {
      return bad_url(text, "bad query parameter", form);
    }
    url.query[*name] = *value;
  }
  url.text = url.scheme + "://";
  if (!url.user.empty()) {
    url.text += url.user + (url.password.empty() ? "" : ":***") + "@";
  }
  std::string_view after_userinfo = text.substr(sep + 3);
  if (size_t at = after_userinfo.find('@');
      at != std::string_view::npos && at < after_userinfo.find('/')) {
    after_userinfo = after_userinfo.substr(at + 1);
  }
  url.text += std::string(after_userinfo);
  return url;
}

}  // namespace cachepack
