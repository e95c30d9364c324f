// The keys of torch 2.13's autotune cache, with Python's os.path rules
// (posixpath) where PyTorch builds paths.
#include <string>
#include <string_view>

#include "artifacts/pytorch_hash.h"
#include "cachepack/autotune.h"
#include "cachepack/hash.h"

namespace cachepack::autotune {
namespace {

std::string_view basename(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

std::string_view dirname(std::string_view p) {
  size_t slash = p.rfind('/');
  if (slash == std::string_view::npos) return {};
  std::string_view head = p.substr(0, slash + 1);
  if (head.find_first_not_of('/') == std::string_view::npos) return head;
  while (head.ends_with('/')) head.remove_suffix(1);
  return head;
}

std::string join(std::string_view a, std::string_view b) {
  if (b.starts_with('/') || a.empty()) return std::string(b);
  std::string out(a);
  if (!a.ends_with('/')) out += '/';
  out += b;
  return out;
}

// AUTOTUNE_CACHE_KEY_STRATEGY.key(*parts): sha256 hex of the concatenation.
std::string autotune_key(std::initializer_list<ByteSpan> parts) {
  Sha256 h;
  for (ByteSpan part : parts) h.update(part);
  Sha256Digest d = h.finish();
  return to_hex(d);
}

// Python's s[1:3] on the code points of UTF-8 text.
std::string_view code_points_1_to_3(std::string_view s) {
  auto is_lead = [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  };
  size_t begin = std::string_view::npos, end = s.size();
  int seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!is_lead(s[i])) continue;
    if (seen == 1) begin = i;
    if (seen == 3) {
      end = i;
      break;
    }
    ++seen;
  }
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, end - begin);
}

}  // namespace

std::string prepared_key(std::string_view kernel_file,
                         std::string_view cache_key_tag) {
  std::string text(basename(kernel_file));
  text += ':';
  text += cache_key_tag;
  return autotune_key({as_bytes(text)});
}

std::string local_cache_path(std::string_view kernel_file,
                             std::string_view prepared_key,
                             ByteSpan torch_key) {
  std::string name = autotune_key({as_bytes(prepared_key), torch_key});
  return join(dirname(kernel_file), name + ".best_config");
}

std::string artifact_key(std::string_view local_cache_path) {
  // os.path.join(*path.split("/")[-2:])
  size_t last = local_cache_path.rfind('/');
  if (last == std::string_view::npos) return std::string(local_cache_path);
  std::string_view name = local_cache_path.substr(last + 1);
  std::string_view rest = local_cache_path.substr(0, last);
  size_t prev = rest.rfind('/');
  std::string_view dir =
      prev == std::string_view::npos ? rest : rest.substr(prev + 1);
  return join(dir, name);
}

std::string remote_cache_id(ByteSpan torch_key, std::string_view backend_hash,
                            std::string_view configs_hash) {
  std::string torch_hex = to_hex(torch_key);
  return autotune_key({as_bytes(torch_hex), as_bytes(backend_hash),
                       as_bytes(configs_hash),
                       as_bytes("autotune-best-config-v2")});
}

std::string code_hash(std::string_view code) {
  return "c" + pytorch_sha256_hash(as_bytes(code));
}

std::string comment_stripped_hash(std::string_view code) {
  std::string stripped;
  stripped.reserve(code.size());
  size_t i = 0;
  while (i < code.size()) {
    size_t hash = code.find('#', i);
    if (hash == std::string_view::npos) {
      stripped.append(code.substr(i));
      break;
    }
    stripped.append(code.substr(i, hash - i));
    size_t newline = code.find('\n', hash);
    if (newline == std::string_view::npos) break;
    i = newline;
  }
  return code_hash(stripped);
}

std::string bundle_key(std::string_view code_hash,
                       std::string_view backend_hash) {
  return autotune_key({as_bytes(code_hash), as_bytes(backend_hash),
                       as_bytes("bundled-autotune-best-configs-v1")});
}

Result<std::string> bundle_entry_artifact_key(std::string_view basename) {
  auto unsafe = [&](std::string_view why) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidKey,
                      "bundle entry name " + std::string(why) +
                          ": it could name a file outside the cache dir",
                      ErrorLocation{.key = std::string(basename)});
  };
  if (basename.empty() || basename == "." || basename == "..") {
    return unsafe("is empty, \".\" or \"..\"");
  }
  if (basename.find('/') != std::string_view::npos ||
      basename.find('\0') != std::string_view::npos) {
    return unsafe("holds '/' or NUL");
  }
  // _splitext_nodot: os.path.splitext, leading dots not starting an
  // extension, and the extension without its dot.
  std::string_view root = basename, ext;
  size_t dot = basename.rfind('.');
  if (dot != std::string_view::npos && basename.find_first_not_of('.') < dot) {
    root = basename.substr(0, dot);
    ext = basename.substr(dot + 1);
  }
  std::string_view sub = code_points_1_to_3(root);
  if (sub == "..") return unsafe("puts it under \"..\"");
  std::string name = std::string(root) + "." + std::string(ext);
  // "<cache>/./<name>" is "<cache>/<name>".
  if (sub.empty() || sub == ".") return name;
  return std::string(sub) + "/" + name;
}

KernelKeys kernel_keys(const KernelKeyInputs& in) {
  KernelKeys keys;
  keys.prepared_key = prepared_key(in.kernel_file, in.cache_key_tag);
  keys.local_path =
      local_cache_path(in.kernel_file, keys.prepared_key, in.torch_key);
  keys.artifact_key = artifact_key(keys.local_path);
  if (in.backend_hash) {
    keys.remote_cache_id =
        remote_cache_id(in.torch_key, *in.backend_hash, in.configs_hash);
  }
  return keys;
}

}  // namespace cachepack::autotune
