// Isolation contexts of torch 2.13's runtime caching module
// (torch/_inductor/runtime/caching/context.py): an IsolationSchema selects
// which forms of the runtime context (inductor, determinism and matmul
// precision configs) and of the compile context (torch and Triton version
// hashes, runtime, runtime version, accelerator properties) a key depends
// on, and isolation_key() is torch's _isolation_key(schema):
// sha256(json.dumps(context, sort_keys=True)).hexdigest()[:32], byte for
// byte. The caller supplies the values (the Python package takes them from
// torch). docs/RUNTIME.md.
#ifndef CACHEPACK_RUNTIME_ISOLATION_H_
#define CACHEPACK_RUNTIME_ISOLATION_H_

#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "cachepack/error.h"

namespace cachepack::runtime {

// The form names, in torch's order (forms_of_context()).
inline constexpr std::string_view kRuntimeForms[] = {
    "inductor_configs", "torch_determinism_configs",
    "cuda_matmul_precision_configs"};
inline constexpr std::string_view kCompileForms[] = {
    "torch_version_hash", "triton_version_hash", "runtime", "runtime_version",
    "accelerator_properties"};

// One side of a schema: True (every form), False (none), or a
// SelectedRuntimeContext / SelectedCompileContext dict, of which the forms
// mapped to True are taken.
class ContextSelection {
 public:
  ContextSelection(bool all) : all_(all) {}  // NOLINT: True / False.
  static ContextSelection only(std::initializer_list<std::string_view> forms);
  static ContextSelection only(std::span<const std::string> forms);

  bool includes(std::string_view form) const;
  // A dict selection (even an empty one) rather than True / False.
  bool is_selection() const { return selected_.has_value(); }
  const std::optional<std::set<std::string, std::less<>>>& selected() const {
    return selected_;
  }

 private:
  bool all_ = false;
  std::optional<std::set<std::string, std::less<>>> selected_;
};

// torch's IsolationSchema; the default is _DEFAULT_ISOLATION_SCHEMA.
struct IsolationSchema {
  ContextSelection runtime_context = true;
  ContextSelection compile_context = true;
};

// The values of every form, as torch's _RuntimeContext / _CompileContext
// return them. Runtime forms are dicts, given as JSON text (json.dumps of
// the dict, any key order); compile forms are a str or None (nullopt).
struct IsolationContext {
  std::string inductor_configs = "{}";
  std::string torch_determinism_configs = "{}";
  std::string cuda_matmul_precision_configs = "{}";
  std::optional<std::string> torch_version_hash;
  std::optional<std::string> triton_version_hash;
  std::optional<std::string> runtime;
  std::optional<std::string> runtime_version;
  std::optional<std::string> accelerator_properties;
};

// json.dumps(_isolation_context(schema), sort_keys=True): the text the key
// hashes. A side with no form selected is null, as in torch.
// kInvalidArgument / kInvalidKey for a form name torch does not have (torch
// ignores it); kInvalidArgument / kInvalidJson for a selected runtime form
// whose text is not a JSON object.
Result<std::string> isolation_context_json(const IsolationSchema& schema,
                                           const IsolationContext& context);

// torch's _isolation_key(schema): the first 32 hex digits of the sha256 of
// isolation_context_json().
Result<std::string> isolation_key(const IsolationSchema& schema,
                                  const IsolationContext& context);

}  // namespace cachepack::runtime

#endif  // CACHEPACK_RUNTIME_ISOLATION_H_
