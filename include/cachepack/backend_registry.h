// Which URL schemes open which backends. A BackendRegistry maps a scheme
// ("file") to its URL form, shown when a URL of that scheme is malformed,
// and to the function that opens a parsed URL of it. A new registry is
// empty: register_builtin_backends() and register_remote_backends() add
// cachepack's own schemes, registry_with_all_backends() (all_backends.h)
// builds one holding them all, and users add their own next to them.
#ifndef CACHEPACK_BACKEND_REGISTRY_H_
#define CACHEPACK_BACKEND_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/backend.h"
#include "cachepack/error.h"
#include "cachepack/url.h"

namespace cachepack {

// Thread-safe. Not copyable or movable: an open function may hold a
// reference to the registry it was registered with (tiered:// opens its
// inner URLs through it).
class BackendRegistry {
 public:
  // Opens a backend from a URL of the scheme it was registered for. URL
  // mistakes are bad_backend_url() errors quoting the scheme's form.
  using OpenFn =
      std::function<Result<std::unique_ptr<Backend>>(const BackendUrl& url)>;

  struct Scheme {
    std::string scheme;    // "file"
    std::string url_form;  // As registered: the backend's kUrlForm.
  };

  BackendRegistry() = default;
  BackendRegistry(const BackendRegistry&) = delete;
  BackendRegistry& operator=(const BackendRegistry&) = delete;

  // Registers `scheme` (lowercase, as URLs are matched after lowercasing
  // theirs); kAlreadyExists if it is taken, kInvalidArgument without an
  // open function.
  Result<void> register_scheme(std::string scheme, std::string_view url_form,
                               OpenFn open);

  // Parses `url` and opens it with its scheme's function. A malformed URL
  // is kInvalidArgument with the scheme's form; an unknown scheme is
  // kInvalidArgument naming the registered ones. `readonly=1` (or true,
  // yes) in the query of any scheme is handled here, never by the scheme:
  // reads work, every write fails with kPermissionDenied naming the URL.
  Result<std::unique_ptr<Backend>> open(std::string_view url) const;

  // Every registered scheme with its URL form, sorted by scheme.
  std::vector<Scheme> schemes() const;

 private:
  struct Opener {
    std::string url_form;
    OpenFn open;
  };
  mutable std::shared_mutex mutex_;
  std::map<std::string, Opener, std::less<>> openers_;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKEND_REGISTRY_H_
