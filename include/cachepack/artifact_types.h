// Type descriptors: what each artifact type's keys and contents must look
// like. PyTorch's types are built in (the five torch 2.13 registers, and
// the in-process types of later releases: inductor_triton, triton_runtime,
// inductor_cpp); users may register their own at run time, as PyTorch's
// CacheArtifactFactory allows. A type that is not registered is still
// carried unchanged everywhere (PyTorch adds types in any release); only
// its rules are unknown.
#ifndef CACHEPACK_ARTIFACT_TYPES_H_
#define CACHEPACK_ARTIFACT_TYPES_H_

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack {

// Returns an error naming the rule that (key, content) breaks.
using ArtifactCheck =
    std::function<Result<void>(std::string_view key, ByteSpan content)>;

struct TypeDescriptor {
  std::string name;
  // Human description of the keys PyTorch produces for this type.
  std::string key_form;
  // Rules that must hold for the artifact to be usable at all (PyTorch
  // enforces them when loading: inductor_triton keys are the SHA-256 of the
  // content). Empty means no such rule.
  ArtifactCheck required;
  // Whether the key has the exact form PyTorch's producers give it. Stricter
  // than `required`: hand-made blobs legitimately break it.
  ArtifactCheck canonical;
};

enum class CheckLevel {
  kRequired,   // Only the rules loading depends on.
  kCanonical,  // Also the exact key form PyTorch produces.
};

// Thread-safe. Lookups return copies of descriptors, so a registration on
// another thread never invalidates what a caller holds.
class ArtifactTypes {
 public:
  // A registry holding PyTorch's types.
  ArtifactTypes();

  // The process-wide registry the readers use by default.
  static ArtifactTypes& global();

  // kAlreadyExists if the name is taken; kInvalidArgument if the name is
  // empty or not valid UTF-8.
  Result<void> register_type(TypeDescriptor descriptor);

  bool contains(std::string_view name) const;
  std::optional<TypeDescriptor> find(std::string_view name) const;
  std::vector<std::string> names() const;  // Sorted.

  // kUnknownType if the type is not registered; kInvalidKey /
  // kInvalidContent (with the key in the error) if a rule is broken.
  Result<void> check(std::string_view type, std::string_view key,
                     ByteSpan content,
                     CheckLevel level = CheckLevel::kRequired) const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, TypeDescriptor, std::less<>> types_;
};

// The built-in type names.
inline constexpr std::string_view kInductor = "inductor";
inline constexpr std::string_view kAutotune = "autotune";
inline constexpr std::string_view kAotAutograd = "aot_autograd";
inline constexpr std::string_view kPgo = "pgo";
inline constexpr std::string_view kPrecompile = "precompile";
inline constexpr std::string_view kInductorTriton = "inductor_triton";
// Newer PyTorch: a Triton runtime cache bundle, loaded before every other
// type (graphs may launch kernels while they load).
inline constexpr std::string_view kTritonRuntime = "triton_runtime";
// Newer PyTorch: a pickled dict of compiled C++ kernel binaries, tied to
// the producing host's paths.
inline constexpr std::string_view kInductorCpp = "inductor_cpp";

}  // namespace cachepack

#endif  // CACHEPACK_ARTIFACT_TYPES_H_
