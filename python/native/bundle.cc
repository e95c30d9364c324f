#include "python/native/bundle.h"

#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <set>

#include "cachepack/artifact_types.h"
#include "cachepack/bundle_convert.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/hash.h"
#include "python/native/errors.h"

namespace cachepack::python {
namespace {

using bundle::BundleReader;

Error not_in_bundle(const BundleState& s, const std::string& type,
                    const std::string& key) {
  return Error(ErrorCode::kNotFound, ErrorReason::kUnspecified,
               "no artifact of type '" + type + "' with this key",
               ErrorLocation{.file = s.path, .key = key});
}

Error blob_cannot_be_trusted(const std::string& file) {
  return Error(ErrorCode::kPermissionDenied, ErrorReason::kSignature,
               "a PyTorch Mega-Cache blob carries no signature; convert it "
               "to a signed bundle (cachepack.write(..., sign_key=...)) to "
               "require trusted keys",
               ErrorLocation{.file = file});
}

bool registered(std::string_view type) {
  return ArtifactTypes::global().contains(type);
}

// Whether the entry's content lies in the file as is: every chunk stored
// raw, so the stored bytes are the content and a view can stand for it.
bool stored_raw(const bundle::EntryInfo& e) {
  if (e.stored_size != e.original_size) return false;
  if (e.chunks.empty()) return e.codec == bundle::Codec::kRaw;
  for (const auto& c : e.chunks) {
    if (c.codec != bundle::Codec::kRaw) return false;
  }
  return true;
}

// The raw entry's bytes in the map, checked as BundleReader::read() checks
// them: XXH3-128 of the stored bytes, and SHA-256 when trust is required.
Result<ByteSpan> raw_content(const BundleState& s, const bundle::EntryInfo& e) {
  ByteSpan stored = s.file->bytes().subspan(e.offset, e.stored_size);
  auto mismatch = [&](std::string what) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch,
        "entry's stored bytes do not match their " + what,
        ErrorLocation{.file = s.path, .offset = e.offset, .key = e.key});
  };
  if (bundle::xxh3_128(stored) != e.xxh3) return mismatch("XXH3-128");
  if (s.trusted && sha256(stored) != e.sha256) return mismatch("SHA-256");
  return stored;
}

std::shared_ptr<const BundleState> open_state(
    const std::string& path, const std::vector<bundle::PublicKey>& trusted,
    bool allow_older_version) {
  auto state = std::make_shared<BundleState>();
  state->path = path;
  state->allow_older_version = allow_older_version;
  state->file = unwrap(MappedFile::open(path));
  ByteSpan data = state->file->bytes();
  if (bundle::is_bundle(data)) {
    bundle::ReaderOptions options;
    options.trusted_keys = trusted;
    options.verify_sha256_on_read = !trusted.empty();
    options.allow_older_version = allow_older_version;
    state->reader.emplace(
        unwrap(named(BundleReader::from_bytes(data, options), path)));
    state->trusted = !trusted.empty();
    return state;
  }
  if (!trusted.empty()) throw NativeError(blob_cannot_be_trusted(path));
  state->blob.emplace(unwrap(named(megacache::parse(data), path)));
  state->artifacts = state->blob->artifacts();
  for (size_t i = 0; i < state->artifacts.size(); ++i) {
    const ArtifactView& a = state->artifacts[i];
    state->last_position[{a.type, a.key}] = i;
  }
  return state;
}

NativeBundle open_bundle(const std::string& path, py::handle trusted_keys,
                         bool allow_older_version) {
  auto trusted = trusted_keys_from_python(trusted_keys);
  py::gil_scoped_release release;
  return NativeBundle(open_state(path, trusted, allow_older_version));
}

// (type, key, size, sha256 hex, registered) per artifact, in stored order.
py::list list_artifacts(const NativeBundle& b) {
  auto s = b.state();
  std::vector<bundle::ListedArtifact> listed;
  {
    py::gil_scoped_release release;
    if (s->reader) {
      listed = unwrap(named(bundle::list_bundle(*s->reader), s->path));
    } else {
      listed.reserve(s->artifacts.size());
      for (const ArtifactView& a : s->artifacts) {
        listed.push_back({.type = a.type,
                          .key = a.key,
                          .size = a.content.size(),
                          .stored_size = a.content.size(),
                          .sha256 = sha256_hex(a.content)});
      }
    }
  }
  py::list out;
  for (const auto& a : listed) {
    out.append(py::make_tuple(text_to_python(a.type), text_to_python(a.key),
                              a.size, a.sha256, registered(a.type)));
  }
  return out;
}

py::object read_artifact(const NativeBundle& b, py::handle type_object,
                         py::handle key_object) {
  std::string type = text_from_python(type_object, "type");
  std::string key = text_from_python(key_object, "key");
  auto s = b.state();
  if (s->blob) {
    auto it = s->last_position.find({type, key});
    if (it == s->last_position.end()) {
      throw NativeError(not_in_bundle(*s, type, key));
    }
    return borrowed_view(s->file, s->artifacts[it->second].content);
  }
  std::optional<ByteSpan> view;
  Bytes copy;
  {
    py::gil_scoped_release release;
    const BundleReader& r = *s->reader;
    auto position = unwrap(named(r.find(type, key), s->path));
    if (!position) throw NativeError(not_in_bundle(*s, type, key));
    auto entry = unwrap(named(r.entry(*position), s->path));
    if (stored_raw(entry)) {
      view = unwrap(raw_content(*s, entry));
    } else {
      copy = unwrap(named(r.read(entry), s->path));
    }
  }
  if (view) return borrowed_view(s->file, *view);
  return py::bytes(reinterpret_cast<const char*>(copy.data()), copy.size());
}

std::string crc_hex(uint32_t crc) {
  return to_hex(std::array<std::byte, 4>{std::byte(crc >> 24),
                                         std::byte(crc >> 16),
                                         std::byte(crc >> 8), std::byte(crc)});
}

py::dict verify(const NativeBundle& b, py::handle trusted_keys) {
  auto trusted = trusted_keys_from_python(trusted_keys);
  auto s = b.state();
  py::dict out;
  if (s->blob) {
    // Parsing at open checked the whole blob: CRC, every length and string.
    if (!trusted.empty()) throw NativeError(blob_cannot_be_trusted(s->path));
    const megacache::Blob& blob = *s->blob;
    uint64_t content = 0;
    for (const auto& a : s->artifacts) content += a.content.size();
    std::set<std::string> types;
    for (const auto& g : blob.groups) types.insert(g.type);
    out["format"] = "pytorch-megacache";
    out["entries"] = s->artifacts.size();
    out["original_bytes"] = content;
    out["stored_bytes"] = blob.size;
    out["valid_signatures"] = 0;
    out["trusted_signatures"] = 0;
    out["summary"] = std::to_string(s->artifacts.size()) + " artifacts in " +
                     std::to_string(blob.groups.size()) + " groups of " +
                     std::to_string(types.size()) + " types, " +
                     std::to_string(blob.size) + " bytes, crc32 " +
                     crc_hex(blob.crc);
    return out;
  }
  std::string summary;
  bundle::VerifyReport report;
  {
    py::gil_scoped_release release;
    bundle::ReaderOptions options;
    options.trusted_keys = trusted;
    options.verify_sha256_on_read = !trusted.empty();
    options.allow_older_version = s->allow_older_version;
    options.verify_structure = true;
    auto reader = unwrap(
        named(BundleReader::from_bytes(s->file->bytes(), options), s->path));
    summary = unwrap(named(bundle::verify_bundle(reader), s->path));
    report = unwrap(named(reader.verify_structure(), s->path));
  }
  out["format"] = "cachepack";
  out["entries"] = report.entries;
  out["original_bytes"] = report.original_bytes;
  out["stored_bytes"] = report.stored_bytes;
  out["valid_signatures"] = report.valid_signatures;
  out["trusted_signatures"] = report.trusted_signatures;
  out["summary"] = summary;
  return out;
}

py::dict metadata(const NativeBundle& b) {
  auto s = b.state();
  py::dict out;
  if (!s->reader) return out;
  const bundle::Metadata& m = s->reader->metadata();
  out["producer"] = text_to_python(m.producer);
  out["producer_version"] = text_to_python(m.producer_version);
  if (m.creation_unix_seconds) {
    out["creation_unix_seconds"] = *m.creation_unix_seconds;
  }
  py::dict user;
  for (const auto& [k, v] : m.user) user[text_to_python(k)] = text_to_python(v);
  out["user"] = user;
  return out;
}

py::bytes to_megacache(const NativeBundle& b) {
  auto s = b.state();
  if (s->blob) {
    ByteSpan data = s->file->bytes();
    return py::bytes(reinterpret_cast<const char*>(data.data()), data.size());
  }
  Bytes blob;
  {
    py::gil_scoped_release release;
    blob = unwrap(named(bundle::bundle_to_megacache(*s->reader), s->path));
  }
  return py::bytes(reinterpret_cast<const char*>(blob.data()), blob.size());
}

}  // namespace

std::shared_ptr<const BundleState> NativeBundle::state() const {
  if (!state_) throw_invalid_argument("the bundle is closed");
  return state_;
}

std::vector<bundle::PublicKey> trusted_keys_from_python(py::handle keys) {
  std::vector<bundle::PublicKey> out;
  if (keys.is_none()) return out;
  for (py::handle key : keys) {
    if (py::isinstance<py::bytes>(key)) {
      std::string raw = key.cast<std::string>();
      if (raw.size() == bundle::kPublicKeySize) {
        bundle::PublicKey k;
        std::memcpy(k.data(), raw.data(), k.size());
        out.push_back(k);
      } else {
        out.push_back(unwrap(bundle::public_key_from_pem(raw)));
      }
    } else if (py::isinstance<py::str>(key)) {
      out.push_back(unwrap(bundle::load_public_key(key.cast<std::string>())));
    } else {
      throw_invalid_argument(
          "a trusted key is a PEM file's path (str) or a public key (bytes)");
    }
  }
  return out;
}

bool is_input_bytes(py::handle source) {
  return py::isinstance<NativeBundle>(source) ||
         py::isinstance<py::str>(source) || PyObject_CheckBuffer(source.ptr());
}

InputBytes::InputBytes(py::handle source) {
  if (py::isinstance<NativeBundle>(source)) {
    auto s = source.cast<const NativeBundle&>().state();
    data = s->file->bytes();
    name = s->path;
    allow_older_version = s->allow_older_version;
    owner = std::move(s);
  } else if (py::isinstance<py::str>(source)) {
    name = source.cast<std::string>();
    auto file = unwrap(MappedFile::open(name));
    data = file->bytes();
    owner = std::move(file);
  } else if (PyObject_CheckBuffer(source.ptr())) {
    buffer = std::make_unique<PythonBytes>(source);
    data = buffer->bytes();
  } else {
    throw_invalid_argument(
        "an input is a path, a Bundle, or the bytes of a bundle or blob");
  }
}

Result<BundleReader> read_whole_bundle(
    const InputBytes& input, const std::vector<bundle::PublicKey>& trusted) {
  bundle::ReaderOptions options;
  options.trusted_keys = trusted;
  options.verify_sha256_on_read = !trusted.empty();
  options.allow_older_version = input.allow_older_version;
  options.verify_structure = true;
  return named(BundleReader::from_bytes(input.data, options), input.name);
}

Result<std::unique_ptr<LoadedArtifacts>> load_artifacts(
    const InputBytes& input, const std::vector<bundle::PublicKey>& trusted,
    bool read_environment) {
  auto out = std::make_unique<LoadedArtifacts>();
  if (bundle::is_bundle(input.data)) {
    CP_ASSIGN_OR_RETURN(auto reader, read_whole_bundle(input, trusted));
    if (read_environment) {
      out->environment = named(environment_of(reader), input.name);
    }
    CP_ASSIGN_OR_RETURN(
        out->source,
        named(BundleArtifactSource::open(std::move(reader)), input.name));
    return out;
  }
  if (!trusted.empty()) {
    return tl::unexpected(blob_cannot_be_trusted(input.name));
  }
  CP_ASSIGN_OR_RETURN(auto blob,
                      named(megacache::parse(input.data), input.name));
  out->blob.emplace(std::move(blob));
  out->views = out->blob->artifacts();
  out->source = std::make_unique<ViewArtifactSource>(out->views);
  return out;
}

void register_bundle(py::module_& m) {
  py::class_<NativeBundle>(m, "Bundle")
      .def_property_readonly(
          "path", [](const NativeBundle& b) { return b.state()->path; })
      .def_property_readonly("format",
                             [](const NativeBundle& b) {
                               return b.state()->reader ? "cachepack"
                                                        : "pytorch-megacache";
                             })
      .def_property_readonly("closed", &NativeBundle::closed)
      .def("__len__",
           [](const NativeBundle& b) {
             auto s = b.state();
             return s->reader ? s->reader->size() : s->artifacts.size();
           })
      .def("artifacts", &list_artifacts)
      .def("read", &read_artifact, py::arg("type"), py::arg("key"))
      .def("verify", &verify, py::arg("trusted_keys"))
      .def("metadata", &metadata)
      .def("to_megacache", &to_megacache)
      .def("close", &NativeBundle::close);
  m.def("open", &open_bundle, py::arg("path"), py::arg("trusted_keys"),
        py::arg("allow_older_version"));
}

}  // namespace cachepack::python
