// torch's _isolation_context / _isolation_key (context.py) over
// caller-supplied values; util/python_json.h writes json.dumps's text.
#include <algorithm>

#include "cachepack/hash.h"
#include "cachepack/runtime_isolation.h"
#include "util/python_json.h"

namespace cachepack::runtime {
namespace {

template <size_t N>
bool known(const std::string_view (&forms)[N], std::string_view form) {
  return std::find(std::begin(forms), std::end(forms), form) != std::end(forms);
}

template <size_t N>
Result<void> check_names(const ContextSelection& selection,
                         const std::string_view (&forms)[N],
                         std::string_view side) {
  if (!selection.selected()) return {};
  for (const std::string& form : *selection.selected()) {
    if (!known(forms, form)) {
      return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                        "isolation schema: " + std::string(side) +
                            " has no form named \"" + form + "\"");
    }
  }
  return {};
}

Result<Json> runtime_form(std::string_view form, const std::string& text) {
  auto parsed =
      parse_json_text(text, "runtime context form " + std::string(form));
  if (!parsed || !parsed->is_object()) {
    return make_error(
        ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson,
        "runtime context form " + std::string(form) +
            " must be the JSON text of a dict" +
            (parsed ? std::string() : ": " + parsed.error().message()));
  }
  return std::move(*parsed);
}

Json optional_string(const std::optional<std::string>& s) {
  return s ? Json(*s) : Json(nullptr);
}

}  // namespace

ContextSelection ContextSelection::only(
    std::initializer_list<std::string_view> forms) {
  ContextSelection s(false);
  s.selected_.emplace();
  for (std::string_view f : forms) s.selected_->emplace(f);
  return s;
}

ContextSelection ContextSelection::only(std::span<const std::string> forms) {
  ContextSelection s(false);
  s.selected_.emplace(forms.begin(), forms.end());
  return s;
}

bool ContextSelection::includes(std::string_view form) const {
  if (selected_) return selected_->contains(form);
  return all_;
}

Result<std::string> isolation_context_json(const IsolationSchema& schema,
                                           const IsolationContext& context) {
  CP_TRY(check_names(schema.runtime_context, kRuntimeForms, "runtime_context"));
  CP_TRY(check_names(schema.compile_context, kCompileForms, "compile_context"));

  // {form: value for form in forms if selected} or None.
  Json runtime = Json::object();
  const std::string* runtime_texts[] = {&context.inductor_configs,
                                        &context.torch_determinism_configs,
                                        &context.cuda_matmul_precision_configs};
  for (size_t i = 0; i < std::size(kRuntimeForms); ++i) {
    if (!schema.runtime_context.includes(kRuntimeForms[i])) continue;
    CP_ASSIGN_OR_RETURN(runtime[std::string(kRuntimeForms[i])],
                        runtime_form(kRuntimeForms[i], *runtime_texts[i]));
  }
  Json compile = Json::object();
  const std::optional<std::string>* compile_values[] = {
      &context.torch_version_hash, &context.triton_version_hash,
      &context.runtime, &context.runtime_version,
      &context.accelerator_properties};
  for (size_t i = 0; i < std::size(kCompileForms); ++i) {
    if (!schema.compile_context.includes(kCompileForms[i])) continue;
    compile[std::string(kCompileForms[i])] =
        optional_string(*compile_values[i]);
  }
  Json whole = Json::object();
  whole["runtime_context"] = runtime.empty() ? Json(nullptr) : runtime;
  whole["compile_context"] = compile.empty() ? Json(nullptr) : compile;
  return python_json_dumps(whole, {.sort_keys = true});
}

Result<std::string> isolation_key(const IsolationSchema& schema,
                                  const IsolationContext& context) {
  CP_ASSIGN_OR_RETURN(std::string text,
                      isolation_context_json(schema, context));
  return sha256_hex(as_bytes(text)).substr(0, 32);
}

}  // namespace cachepack::runtime
