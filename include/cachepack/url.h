// Backend URLs: parsed once into a typed form, then handed to the open
// function a BackendRegistry holds for the scheme (backend_registry.h). Each
// backend states the URLs it takes in its kUrlForm.
#ifndef CACHEPACK_URL_H_
#define CACHEPACK_URL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cachepack/error.h"

namespace cachepack {

struct BackendUrl {
  std::string text;  // As given, for messages (password masked).
  std::string scheme;
  std::string user;
  std::string password;
  std::string host;
  std::optional<uint16_t> port;
  std::string path;  // Percent-decoded; "" or starting with '/'.
  std::map<std::string, std::string> query;  // Percent-decoded.

  // The query value, or nullopt.
  std::optional<std::string> param(std::string_view name) const;
};

// kInvalidArgument naming the URL, what is wrong with it and the scheme's
// expected form; every backend reports URL mistakes through this.
tl::unexpected<Error> bad_backend_url(const BackendUrl& url,
                                      std::string_view why,
                                      std::string_view form);

// `text` (the URL part or parameter called `what`) as an unsigned decimal
// integer, or bad_backend_url saying what was expected.
Result<uint64_t> parse_url_uint(const BackendUrl& url, std::string_view what,
                                std::string_view text, std::string_view form);

// `text` (the URL parameter called `what`) as a flag: 1, true or yes; 0,
// false or no. Anything else is bad_backend_url saying it must be 0 or 1.
Result<bool> parse_url_bool(const BackendUrl& url, std::string_view what,
                            std::string_view text, std::string_view form);

// The form of a URL whose scheme is not known.
inline constexpr std::string_view kGenericUrlForm =
    "scheme://[user:password@]host[:port][/path][?name=value&...]";

// The scheme of `text`, lowercased; kInvalidArgument when there is none.
Result<std::string> parse_url_scheme(std::string_view text);

// kInvalidArgument quoting `form`, the expected form of the URL's scheme,
// when `text` is not a URL.
Result<BackendUrl> parse_backend_url(std::string_view text,
                                     std::string_view form = kGenericUrlForm);
}  // namespace cachepack

#endif  // CACHEPACK_URL_H_
