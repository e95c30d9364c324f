#include "cachepack/environment.h"

#include <sys/utsname.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "util/file.h"

namespace cachepack {
namespace {

// Insertion-ordered, so the text follows environment_fields() and the same
// environment always gives the same bytes.
using Json = nlohmann::ordered_json;

constexpr std::array<EnvironmentField, 13> kFields = {{
    {"cachepack_version", "cachepack", &Environment::cachepack_version},
    {"torch_version", "torch", &Environment::torch_version},
    {"torch_git", "torch git", &Environment::torch_git},
    {"python_version", "Python", &Environment::python_version},
    {"triton_version", "Triton", &Environment::triton_version},
    {"cuda_version", "CUDA", &Environment::cuda_version},
    {"rocm_version", "ROCm", &Environment::rocm_version},
    {"gpu_name", "GPU", &Environment::gpu_name},
    {"gpu_capability", "GPU compute capability", &Environment::gpu_capability},
    {"cpu_arch", "CPU architecture", &Environment::cpu_arch},
    {"vector_isa", "vector ISA", &Environment::vector_isa},
    {"os", "OS", &Environment::os},
    {"libc", "libc", &Environment::libc},
}};

// What a difference in each field does to PyTorch (torch 2.13, checked in
// docs/PYTORCH.md and the research notes behind it; later releases from
// shared/notes/pytorch-cache-spec.md). An FX graph's key hashes torch_key()
// (a digest of torch's own sources) and CacheBase.get_system(): the Triton
// key, and on a GPU host the device name and the CUDA or HIP version.
// AOTAutograd keys extend the FX graph details, so they carry the same.
// Precompile entries also store a SystemInfo and refuse to load on a
// mismatch.
struct Consequence {
  std::string_view field;
  EnvironmentSeverity severity;
  std::string_view effect;
};

constexpr std::array<Consequence, 13> kConsequences = {{
    // A different torch is a different torch_key(), which every FX graph
    // and AOTAutograd key hashes (and autotune's cache id, and
    // SystemInfo): nothing hits. The git hash tells two builds of one
    // version apart.
    {"torch_version", EnvironmentSeverity::kBlocks, "no artifact can hit"},
    {"torch_git", EnvironmentSeverity::kBlocks, "no artifact can hit"},
    // get_system() puts triton_key() into every FX graph key on a GPU host,
    // and SystemInfo compares the Triton version.
    {"triton_version", EnvironmentSeverity::kBlocks, "no artifact can hit"},
    // get_system() puts torch.version.cuda (or .hip) into every FX graph
    // key; SystemInfo compares the toolkit version.
    {"cuda_version", EnvironmentSeverity::kBlocks, "no artifact can hit"},
    {"rocm_version", EnvironmentSeverity::kBlocks, "no artifact can hit"},
    // get_system() puts the device name (gcnArchName on ROCm) into every FX
    // graph key; SystemInfo compares it.
    {"gpu_name", EnvironmentSeverity::kBlocks, "no artifact can hit"},
    // Triton compiles for the device's target architecture, and its
    // backend hash, part of autotune's cache id, names it: kernels and
    // tuned configs made for one capability are not used on another.
    {"gpu_capability", EnvironmentSeverity::kBlocks,
     "its GPU kernels and tuned configs were made for another architecture"},
    // Inductor's CPU kernels are C++ written for the host's architecture
    // and the vector ISA it picked (the vector width is part of the code),
    // and newer PyTorch records both in a precompile entry's SystemInfo
    // (machine, vector ISA) and refuses it on a mismatch.
    {"cpu_arch", EnvironmentSeverity::kBlocks,
     "its CPU kernels were generated for another architecture"},
    {"vector_isa", EnvironmentSeverity::kBlocks,
     "its CPU kernels were generated for another vector ISA"},
    // Not in any cache key: torch_key() hashes torch's sources, which are
    // the same for every Python. Only a precompile entry's SystemInfo
    // compares it, so those entries refuse to load while the FX graphs,
    // AOTAutograd entries and profiles still hit.
    {"python_version", EnvironmentSeverity::kWarns,
     "precompile entries will not load; other artifacts can still hit"},
    // Neither is in a key. They matter only to kernel binaries, which a
    // warm start builds again here (docs/PYTORCH.md).
    {"os", EnvironmentSeverity::kWarns,
     "not in PyTorch's cache keys; artifacts can still hit"},
    {"libc", EnvironmentSeverity::kWarns,
     "not in PyTorch's cache keys; artifacts can still hit"},
    // The bundle format is versioned on its own; PyTorch never sees it.
    {"cachepack_version", EnvironmentSeverity::kWarns,
     "not in PyTorch's cache keys; artifacts can still hit"},
}};

const Consequence* consequence_of(std::string_view field) {
  for (const Consequence& c : kConsequences) {
    if (c.field == field) return &c;
  }
  return nullptr;
}

std::string_view label_of(std::string_view field) {
  for (const EnvironmentField& f : kFields) {
    if (f.name == field) return f.label;
  }
  return field;
}

tl::unexpected<Error> json_error(std::string message, std::string_view source,
                                 std::optional<uint64_t> offset = {}) {
  return make_error(
      ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson,
      "not a valid environment: " + std::move(message),
      ErrorLocation{.file = std::string(source), .offset = offset});
}

// nlohmann's messages start with "[json.exception.parse_error.101] ",
// which says nothing to a user.
std::string without_exception_tag(std::string text) {
  if (text.starts_with("[json.exception.")) {
    size_t end = text.find("] ");
    if (end != std::string::npos) text.erase(0, end + 2);
  }
  return text;
}

}  // namespace

std::span<const EnvironmentField> environment_fields() { return kFields; }

std::string environment_to_json(const Environment& env, int indent) {
  Json j = Json::object();
  for (const EnvironmentField& f : kFields) {
    if (const auto& value = env.*f.member) j[std::string(f.name)] = *value;
  }
  for (const auto& [key, text] : env.extra) {
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    j[key] = value.is_discarded() ? Json(text) : std::move(value);
  }
  // Keys and values may come from anywhere; invalid UTF-8 is replaced
  // rather than thrown on.
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

Result<Environment> environment_from_json(std::string_view json,
                                          std::string_view source) {
  Json j;
  try {
    j = Json::parse(json);
  } catch (const Json::parse_error& e) {
    std::optional<uint64_t> offset;
    if (e.byte > 0) offset = e.byte - 1;
    return json_error(without_exception_tag(e.what()), source, offset);
  } catch (const Json::exception& e) {
    return json_error(without_exception_tag(e.what()), source);
  }
  if (!j.is_object()) {
    return json_error(
        "expected a JSON object, got " + std::string(j.type_name()), source);
  }
  Environment env;
  for (const auto& [key, value] : j.items()) {
    const EnvironmentField* field = nullptr;
    for (const EnvironmentField& f : kFields) {
      if (f.name == key) field = &f;
    }
    if (field == nullptr) {
      env.extra[key] =
          value.dump(-1, ' ', false, Json::error_handler_t::replace);
      continue;
    }
    if (value.is_null()) continue;
    if (!value.is_string()) {
      return json_error("field " + key + " must be a string or null, got " +
                            std::string(value.type_name()),
                        source);
    }
    env.*field->member = value.get<std::string>();
  }
  return env;
}

Result<Environment> read_environment_file(const std::string& path) {
  CP_ASSIGN_OR_RETURN(Bytes bytes, read_file(path));
  return environment_from_json(
      std::string_view(reinterpret_cast<const char*>(bytes.data()),
                       bytes.size()),
      path);
}

Environment current_native_environment() {
  Environment env;
  env.cachepack_version = std::string(bundle::kProducerVersion);
  struct utsname u;
  if (::uname(&u) == 0) {
    env.cpu_arch = u.machine;
    env.os = std::string(u.sysname) + " " + u.release;
  }
#ifdef __GLIBC__
  // The C library's own answer, not the headers': a binary built on one
  // glibc runs on newer ones.
  env.libc = std::string("glibc ") + ::gnu_get_libc_version();
#endif
  return env;
}

Environment merge_environments(const Environment& base,
                               const Environment& over) {
  Environment out = base;
  for (const EnvironmentField& f : kFields) {
    if (over.*f.member) out.*f.member = over.*f.member;
  }
  for (const auto& [key, value] : over.extra) out.extra[key] = value;
  return out;
}

std::string_view to_string(EnvironmentSeverity severity) {
  switch (severity) {
    case EnvironmentSeverity::kBlocks:
      return "blocks";
    case EnvironmentSeverity::kWarns:
      return "warns";
  }
  return "warns";
}

EnvironmentSeverity severity_of(std::string_view field) {
  const Consequence* c = consequence_of(field);
  return c ? c->severity : EnvironmentSeverity::kWarns;
}

std::string EnvironmentDifference::message() const {
  std::string_view label = label_of(field);
  std::string out = recorded.empty()
                        ? "made without " + std::string(label)
                        : "made with " + std::string(label) + " " + recorded;
  out += "; here " + (target.empty() ? std::string("none") : target);
  if (const Consequence* c = consequence_of(field)) {
    out += ": ";
    out += c->effect;
  }
  return out;
}

std::vector<EnvironmentDifference> compare_environments(
    const Environment& recorded, const Environment& target) {
  std::vector<EnvironmentDifference> out;
  for (const EnvironmentField& f : kFields) {
    const auto& r = recorded.*f.member;
    const auto& t = target.*f.member;
    if (!r || !t || *r == *t) continue;
    out.push_back({.field = std::string(f.name),
                   .recorded = *r,
                   .target = *t,
                   .severity = severity_of(f.name)});
  }
  return out;
}

std::string UncomparedField::message() const {
  std::string shown = value.empty() ? "none" : value;
  if (side == Side::kNotRecorded) {
    return field + " not recorded (here " + shown + ")";
  }
  return field + " unknown here (made with " + shown + ")";
}

std::vector<UncomparedField> uncompared_fields(const Environment& recorded,
                                               const Environment& target) {
  std::vector<UncomparedField> out;
  for (const EnvironmentField& f : kFields) {
    const auto& r = recorded.*f.member;
    const auto& t = target.*f.member;
    if (r.has_value() == t.has_value()) continue;
    out.push_back({.field = std::string(f.name),
                   .side = r ? UncomparedField::Side::kUnknownHere
                             : UncomparedField::Side::kNotRecorded,
                   .value = r ? *r : *t,
                   .severity = severity_of(f.name)});
  }
  return out;
}

Result<std::vector<EnvironmentDifference>> require_compatible_environment(
    const Environment& recorded, const Environment& target,
    std::string_view source) {
  std::vector<EnvironmentDifference> warnings;
  std::string blocking;
  size_t blocks = 0;
  for (EnvironmentDifference& d : compare_environments(recorded, target)) {
    if (d.severity == EnvironmentSeverity::kBlocks) {
      blocking += "\n  " + d.message();
      ++blocks;
    } else {
      warnings.push_back(std::move(d));
    }
  }
  if (blocks == 0) return warnings;
  // One line per difference; the file, if any, ends the last one.
  return make_error(ErrorCode::kInvalidArgument,
                    ErrorReason::kEnvironmentMismatch,
                    "the artifacts cannot hit here: " + std::to_string(blocks) +
                        (blocks == 1 ? " difference" : " differences") +
                        " from the environment they were made in:" + blocking,
                    ErrorLocation{.file = std::string(source)});
}

Result<std::vector<std::string>> environment_warnings(
    const Result<std::optional<Environment>>& recorded,
    const Environment& target, std::string_view source, bool ignore,
    std::string_view override_name) {
  const std::string overridden = " (" + std::string(override_name) + ")";
  std::vector<std::string> warnings;
  if (!recorded) {
    if (!ignore) return tl::unexpected(recorded.error());
    warnings.push_back(recorded.error().to_string() + overridden);
    return warnings;
  }
  if (!*recorded) return warnings;
  if (ignore) {
    for (const auto& d : compare_environments(**recorded, target)) {
      warnings.push_back(
          d.message() +
          (d.severity == EnvironmentSeverity::kBlocks ? overridden : ""));
    }
    return warnings;
  }
  CP_ASSIGN_OR_RETURN(auto differences, require_compatible_environment(
                                            **recorded, target, source));
  for (const auto& d : differences) warnings.push_back(d.message());
  return warnings;
}

Result<std::optional<Environment>> environment_of(
    const bundle::BundleReader& reader) {
  const auto& user = reader.metadata().user;
  auto it = user.find(std::string(kEnvironmentMetadataKey));
  if (it == user.end()) return std::optional<Environment>();
  auto env = environment_from_json(it->second, reader.path());
  if (!env) {
    // The bundle is intact (its index is checksummed); what it recorded
    // is not an environment, so the input is not what it claims.
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidJson,
                      "metadata " + std::string(kEnvironmentMetadataKey) +
                          ": " + env.error().message(),
                      ErrorLocation{.file = reader.path()});
  }
  return std::optional<Environment>(std::move(*env));
}

void record_environment(bundle::WriterOptions& options,
                        const Environment& env) {
  options.user_metadata[std::string(kEnvironmentMetadataKey)] =
      environment_to_json(env);
}

}  // namespace cachepack
