// cachepack.open(): a bundle or a PyTorch Mega-Cache blob, told apart by its
// bytes (bundle::is_bundle), memory-mapped and read lazily. Also how every
// other call turns its Python input (a path, an open Bundle, bytes) into
// artifacts, so that they all read inputs by one rule.
#ifndef CACHEPACK_PYTHON_NATIVE_BUNDLE_H_
#define CACHEPACK_PYTHON_NATIVE_BUNDLE_H_

#include <pybind11/pybind11.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cachepack/artifact.h"
#include "cachepack/artifact_source.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/environment.h"
#include "cachepack/megacache.h"
#include "python/native/mapped_file.h"

namespace cachepack::python {

namespace py = pybind11;

// What an open Bundle reads from; immutable once opened, so any number of
// threads may use it without the GIL.
struct BundleState {
  std::string path;
  std::shared_ptr<const MappedFile> file;
  bool allow_older_version = false;
  bool trusted = false;  // Opened with trusted keys: SHA-256 checked on read.
  // A cachepack bundle: its reader, over `file`.
  std::optional<bundle::BundleReader> reader;
  // A Mega-Cache blob: views into `file`, and the position of the last
  // artifact of each (type, key), which is the one read.
  std::optional<megacache::Blob> blob;
  std::vector<ArtifactView> artifacts;
  std::map<std::pair<std::string, std::string>, size_t> last_position;
};

// The Python-facing handle (cachepack._native.Bundle). Every method takes a
// reference to the state first, so close() on another thread never pulls
// the bytes from under a call in progress.
class NativeBundle {
 public:
  explicit NativeBundle(std::shared_ptr<const BundleState> state)
      : state_(std::move(state)) {}

  // kInvalidArgument once closed.
  std::shared_ptr<const BundleState> state() const;
  void close() { state_.reset(); }
  bool closed() const { return state_ == nullptr; }

 private:
  std::shared_ptr<const BundleState> state_;
};

// Ed25519 public keys from Python: str paths of PEM files, or bytes (32 raw
// bytes, or PEM text).
std::vector<bundle::PublicKey> trusted_keys_from_python(py::handle keys);

// The bytes of an input given from Python, held for as long as this lives:
// an open Bundle's map, a mapped file for a path, or a bytes-like object's
// buffer. Construct and destroy with the GIL held.
struct InputBytes {
  explicit InputBytes(py::handle source);

  ByteSpan data;
  std::string name;  // The path, or empty for bytes.
  bool allow_older_version = false;
  std::shared_ptr<const void> owner;
  std::unique_ptr<PythonBytes> buffer;
};

// True for anything InputBytes takes (anything but an iterable of artifacts).
bool is_input_bytes(py::handle source);

// A bundle reader over `input`'s bytes, for a call that reads every entry:
// the structure checked first, as `cachepack verify` checks it; with
// `trusted`, a trusted signature required and every SHA-256 checked.
Result<bundle::BundleReader> read_whole_bundle(
    const InputBytes& input, const std::vector<bundle::PublicKey>& trusted);

// The artifacts of a bundle or blob given as input, for populate and pack.
// A blob cannot be signed: trusted keys refuse it (kPermissionDenied).
struct LoadedArtifacts {
  std::optional<megacache::Blob> blob;
  std::vector<ArtifactView> views;
  std::unique_ptr<ArtifactSource> source;
  // With read_environment: what the bundle recorded (environment_of()),
  // empty for a blob or a bundle that recorded none; or why it could not be
  // read (kDataLoss / kInvalidJson).
  Result<std::optional<Environment>> environment = std::nullopt;
};
Result<std::unique_ptr<LoadedArtifacts>> load_artifacts(
    const InputBytes& input, const std::vector<bundle::PublicKey>& trusted,
    bool read_environment = false);

void register_bundle(py::module_& m);

}  // namespace cachepack::python

#endif  // CACHEPACK_PYTHON_NATIVE_BUNDLE_H_
