#include "cachepack/artifact_types.h"

#include <algorithm>
#include <mutex>

#include "cachepack/hash.h"
#include "util/text.h"

namespace cachepack {
namespace {

tl::unexpected<Error> invalid_key(std::string_view type, std::string_view key,
                                  std::string_view rule) {
  return make_error(
      ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
      std::string(type) + " key breaks its rule: " + std::string(rule),
      ErrorLocation{.key = std::string(key)});
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  return std::all_of(s.begin(), s.end(), pred);
}

bool is_base32_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

bool is_hex_lower(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// PyTorch's sha256_hash(): a prefix letter and 51 lowercase base32 chars.
ArtifactCheck prefixed_base32_key(std::string type, char prefix) {
  return [type, prefix](std::string_view key, ByteSpan) -> Result<void> {
    if (key.size() != 52 || key[0] != prefix ||
        !all_of(key.substr(1), is_base32_lower)) {
      return invalid_key(type, key,
                         std::string("'") + prefix +
                             "' followed by 51 characters of [a-z2-7]");
    }
    return {};
  };
}

Result<void> check_sha256_hex_key(std::string_view type, std::string_view key) {
  if (key.size() != 64 || !all_of(key, is_hex_lower)) {
    return invalid_key(type, key, "64 lowercase hex digits (a SHA-256)");
  }
  return {};
}

std::vector<TypeDescriptor> builtin_types() {
  std::vector<TypeDescriptor> types;
  types.push_back({std::string(kInductor),
                   "FX graph key: 'f' + 51 chars of [a-z2-7]", nullptr,
                   prefixed_base32_key(std::string(kInductor), 'f')});
  types.push_back({std::string(kAotAutograd),
                   "AOTAutograd key: 'a' + 51 chars of [a-z2-7]", nullptr,
                   prefixed_base32_key(std::string(kAotAutograd), 'a')});
  types.push_back(
      {std::string(kAutotune),
       "'<2 chars>/<64 hex>.best_config', relative to the cache dir; "
       "content is ASCII JSON",
       nullptr, [](std::string_view key, ByteSpan content) -> Result<void> {
         constexpr std::string_view kSuffix = ".best_config";
         bool ok = key.size() == 2 + 1 + 64 + kSuffix.size() && key[2] == '/' &&
                   all_of(key.substr(3, 64), is_hex_lower) &&
                   key.substr(67) == kSuffix;
         if (!ok) {
           return invalid_key(kAutotune, key,
                              "'<2 chars>/<64 hex digits>.best_config'");
         }
         for (std::byte b : content) {
           if (static_cast<uint8_t>(b) >= 0x80) {
             return make_error(ErrorCode::kInvalidArgument,
                               ErrorReason::kInvalidContent,
                               "autotune content is not ASCII JSON",
                               ErrorLocation{.key = std::string(key)});
           }
         }
         return {};
       }});
  types.push_back(
      {std::string(kPgo),
       "'<job_id>:<rank>:<tag>' or 'mast:<name>:<version>:<rank>:<tag>'",
       nullptr, [](std::string_view key, ByteSpan) -> Result<void> {
         if (std::count(key.begin(), key.end(), ':') < 2) {
           return invalid_key(kPgo, key, "'<job_id>:<rank>:<tag>'");
         }
         return {};
       }});
  types.push_back({std::string(kPrecompile),
                   "source id: SHA-256 hex of qualname and first line", nullptr,
                   [](std::string_view key, ByteSpan) {
                     return check_sha256_hex_key(kPrecompile, key);
                   }});
  // Types keyed by the SHA-256 hex of their content, which PyTorch checks
  // when it loads them ("Corrupt ..." otherwise).
  for (std::string_view name :
       {kInductorTriton, kTritonRuntime, kInductorCpp}) {
    ArtifactCheck required = [name](std::string_view key,
                                    ByteSpan content) -> Result<void> {
      CP_TRY(check_sha256_hex_key(name, key));
      std::string actual = sha256_hex(content);
      if (actual != key) {
        return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidContent,
                          std::string(name) +
                              " content does not hash to its key "
                              "(SHA-256 of content is " +
                              actual + ")",
                          ErrorLocation{.key = std::string(key)});
      }
      return {};
    };
    types.push_back(
        {std::string(name), "SHA-256 hex of the content", required, required});
  }
  return types;
}

}  // namespace

ArtifactTypes::ArtifactTypes() {
  for (auto& t : builtin_types()) {
    std::string name = t.name;
    types_.emplace(std::move(name), std::move(t));
  }
}

ArtifactTypes& ArtifactTypes::global() {
  static ArtifactTypes registry;
  return registry;
}

Result<void> ArtifactTypes::register_type(TypeDescriptor descriptor) {
  if (descriptor.name.empty() || !is_valid_utf8(descriptor.name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a type name must be non-empty UTF-8");
  }
  std::unique_lock lock(mutex_);
  if (types_.contains(descriptor.name)) {
    return make_error(
        ErrorCode::kAlreadyExists,
        "artifact type '" + descriptor.name + "' is already registered");
  }
  std::string name = descriptor.name;
  types_.emplace(std::move(name), std::move(descriptor));
  return {};
}

bool ArtifactTypes::contains(std::string_view name) const {
  std::shared_lock lock(mutex_);
  return types_.find(name) != types_.end();
}

std::optional<TypeDescriptor> ArtifactTypes::find(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = types_.find(name);
  if (it == types_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ArtifactTypes::names() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, _] : types_) out.push_back(name);
  return out;
}

Result<void> ArtifactTypes::check(std::string_view type, std::string_view key,
                                  ByteSpan content, CheckLevel level) const {
  auto descriptor = find(type);
  if (!descriptor) {
    return make_error(
        ErrorCode::kUnimplemented, ErrorReason::kUnknownType,
        "artifact type '" + printable(type) + "' is not registered",
        ErrorLocation{.key = std::string(key)});
  }
  if (descriptor->required) {
    CP_TRY(descriptor->required(key, content));
  }
  if (level == CheckLevel::kCanonical && descriptor->canonical) {
    CP_TRY(descriptor->canonical(key, content));
  }
  return {};
}

}  // namespace cachepack
