#include "python/native/writing.h"

#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>

#include "cachepack/bundle_convert.h"
#include "cachepack/bundle_format.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bundle_writer.h"
#include "python/native/bundle.h"
#include "python/native/errors.h"

namespace cachepack::python {
namespace {

namespace py = pybind11;
using bundle::BundleWriter;

// What `cachepack convert --dict` holds back to make dictionaries from.
constexpr uint64_t kDictionaryTrainingBytes = 16 << 20;

std::optional<bundle::SigningKey> signing_key(py::handle key) {
  if (key.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(key)) {
    return unwrap(bundle::SigningKey::load_pem(key.cast<std::string>()));
  }
  if (py::isinstance<py::bytes>(key)) {
    return unwrap(bundle::SigningKey::from_pem(key.cast<std::string>()));
  }
  throw_invalid_argument(
      "sign_key is a private key PEM file's path (str) or its PEM (bytes)");
}

// Adds a bundle's or blob's artifacts (a path, a Bundle, bytes) and
// finishes: a blob's artifacts may be borrowed until finish() returns.
bundle::WriteStats add_input_and_finish(BundleWriter& writer,
                                        py::handle source) {
  InputBytes input(source);
  py::gil_scoped_release release;
  if (bundle::is_bundle(input.data)) {
    auto reader = unwrap(read_whole_bundle(input, {}));
    unwrap(named(bundle::add_bundle(writer, reader), input.name));
  } else {
    unwrap(named(bundle::add_megacache(writer, input.data), input.name));
  }
  return unwrap(writer.finish());
}

// Adds (type, key, content) triples, each copied or compressed by add()
// before the next is taken, and finishes.
bundle::WriteStats add_triples_and_finish(BundleWriter& writer,
                                          py::handle source) {
  if (!py::isinstance<py::iterable>(source)) {
    throw_invalid_argument(
        "a source is the bytes of a blob or bundle, a path, a Bundle, or an "
        "iterable of (type, key, content)");
  }
  for (py::handle item : py::iter(source)) {
    if (!py::isinstance<py::sequence>(item) || py::len(item) != 3) {
      throw_invalid_argument("artifacts are (type, key, content) triples");
    }
    auto triple = py::reinterpret_borrow<py::sequence>(item);
    std::string type = text_from_python(triple[0], "type");
    std::string key = text_from_python(triple[1], "key");
    PythonBytes content(triple[2]);
    py::gil_scoped_release release;
    unwrap(writer.add(type, key, content.bytes()));
  }
  py::gil_scoped_release release;
  return unwrap(writer.finish());
}

py::dict write_bundle(const std::string& path, py::handle source, bool append,
                      int level, int threads, bool dictionaries,
                      py::handle sign_key,
                      std::map<std::string, std::string> metadata) {
  std::optional<bundle::SigningKey> key = signing_key(sign_key);
  bundle::WriterOptions options;
  options.level = level;
  options.threads = threads;
  options.user_metadata = std::move(metadata);
  if (dictionaries) options.train_dictionaries_bytes = kDictionaryTrainingBytes;
  if (key) options.signing_keys.push_back(&*key);
  std::optional<BundleWriter> writer;
  {
    py::gil_scoped_release release;
    writer.emplace(unwrap(append ? BundleWriter::append(path, options)
                                 : BundleWriter::create(path, options)));
  }
  bundle::WriteStats stats = is_input_bytes(source)
                                 ? add_input_and_finish(*writer, source)
                                 : add_triples_and_finish(*writer, source);
  py::dict out;
  out["entries"] = stats.entries;
  out["added"] = stats.added;
  out["original_bytes"] = stats.original_bytes;
  out["stored_bytes"] = stats.stored_bytes;
  out["file_size"] = stats.file_size;
  return out;
}

py::bytes keygen(const std::string& path) {
  bundle::PublicKey key;
  {
    py::gil_scoped_release release;
    key = unwrap(bundle::write_key_pair(path));
  }
  return py::bytes(reinterpret_cast<const char*>(key.data()), key.size());
}

}  // namespace

void register_writing(py::module_& m) {
  m.def("write", &write_bundle, py::arg("path"), py::arg("source"),
        py::arg("append"), py::arg("level"), py::arg("threads"),
        py::arg("dictionaries"), py::arg("sign_key"), py::arg("metadata"));
  m.def("keygen", &keygen, py::arg("path"));
}

}  // namespace cachepack::python
