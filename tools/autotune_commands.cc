// autotune key, ls, bundle and unbundle: PyTorch's autotune cache
// (docs/AUTOTUNE.md) seen from the command line.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cachepack/all_backends.h"
#include "cachepack/autotune.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/megacache.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"
#include "util/file.h"

namespace cachepack::cli {
namespace {

using Json = nlohmann::ordered_json;
using autotune::Record;

Result<Bytes> from_hex(std::string_view text, std::string_view what) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) break;
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  if (out.size() * 2 != text.size()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        std::string(what) + " is not hex: \"" + std::string(text) + "\"");
  }
  return out;
}

// One `autotune key` computation; the fields of a --batch line.
struct KeyRequest {
  std::optional<std::string> kernel_file, cache_key_tag, torch_key,
      backend_hash, configs_hash, code, code_hash, bundle_entry;
};

Result<Json> compute_keys(const KeyRequest& r) {
  Json out = Json::object();
  if (r.kernel_file) {
    if (!r.torch_key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a kernel file's keys need the torch key");
    }
    CP_ASSIGN_OR_RETURN(Bytes torch_key, from_hex(*r.torch_key, "torch key"));
    autotune::KernelKeys keys =
        autotune::kernel_keys({.kernel_file = *r.kernel_file,
                               .cache_key_tag = r.cache_key_tag.value_or(""),
                               .torch_key = torch_key,
                               .backend_hash = r.backend_hash,
                               .configs_hash = r.configs_hash.value_or("")});
    out["prepared_key"] = keys.prepared_key;
    out["local_path"] = keys.local_path;
    out["artifact_key"] = keys.artifact_key;
    if (keys.remote_cache_id) out["remote_cache_id"] = *keys.remote_cache_id;
  }
  std::optional<std::string> code_hash = r.code_hash;
  if (r.code) code_hash = autotune::comment_stripped_hash(*r.code);
  if (code_hash) {
    out["code_hash"] = *code_hash;
    if (r.backend_hash) {
      out["bundle_key"] = autotune::bundle_key(*code_hash, *r.backend_hash);
    }
  }
  if (r.bundle_entry) {
    CP_ASSIGN_OR_RETURN(out["bundle_entry_key"],
                        autotune::bundle_entry_artifact_key(*r.bundle_entry));
  }
  return out;
}

Result<KeyRequest> request_from_json(const std::string& line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson,
                      "a --batch line is not a JSON object: " + line);
  }
  KeyRequest r;
  auto field = [&](const char* name, std::optional<std::string>& into) {
    auto it = j.find(name);
    if (it != j.end() && it->is_string()) into = it->get<std::string>();
  };
  field("kernel_file", r.kernel_file);
  field("cache_key_tag", r.cache_key_tag);
  field("torch_key", r.torch_key);
  field("backend_hash", r.backend_hash);
  field("configs_hash", r.configs_hash);
  field("code", r.code);
  field("code_hash", r.code_hash);
  field("bundle_entry", r.bundle_entry);
  return r;
}

// A record found somewhere, for ls and bundle.
struct Listed {
  std::string where;  // "local", "remote <cache id>", "bundle <key>".
  std::string key;    // Its key there (a basename inside a bundle).
  Result<Record> record;
};

bool is_remote_cache_id(std::string_view ns) {
  return ns.size() == 64 &&
         ns.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Every record of a bundle file's autotune entries, or of a backend: local
// records, per-kernel remote ones and the entries of bundles.
Result<std::vector<Listed>> collect(const std::string& source,
                                    const BundleReadFlags& flags,
                                    bool local_only) {
  std::vector<Listed> out;
  if (bundle::is_bundle_file(source)) {
    CP_ASSIGN_OR_RETURN(auto reader,
                        open_bundle(source, flags, BundleUse::kEverything));
    CP_ASSIGN_OR_RETURN(auto entries, reader.entries());
    for (const auto& e : entries) {
      if (e.type != autotune::kLocalNamespace) continue;
      CP_ASSIGN_OR_RETURN(Bytes bytes, reader.read(e));
      out.push_back(
          {"local", e.key, with_key(Record::parse(as_chars(bytes)), e.key)});
    }
    return out;
  }
  if (source.find("://") == std::string::npos) {
    // A Mega-Cache blob (torch.compiler.save_cache_artifacts()).
    CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(source));
    CP_ASSIGN_OR_RETURN(auto blob,
                        in_file(megacache::parse(file.bytes()), source));
    for (const ArtifactView& a : blob.artifacts()) {
      if (a.type != autotune::kLocalNamespace) continue;
      out.push_back({"local", a.key,
                     with_key(Record::parse(as_chars(a.content)), a.key)});
    }
    return out;
  }
  CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
  CP_ASSIGN_OR_RETURN(auto backend, backends->open(source));
  CP_ASSIGN_OR_RETURN(auto namespaces, backend->namespaces());
  std::sort(namespaces.begin(), namespaces.end());
  for (const std::string& ns : namespaces) {
    bool local = ns == autotune::kLocalNamespace;
    bool bundled = ns == autotune::kBundleCacheId;
    bool remote = is_remote_cache_id(ns);
    if (!(local || (!local_only && (bundled || remote)))) continue;
    CP_ASSIGN_OR_RETURN(auto keys, backend->list(ns));
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      CP_ASSIGN_OR_RETURN(auto bytes, backend->get(ns, key));
      if (!bytes) continue;  // Removed since listed.
      if (!bundled) {
        out.push_back({local ? "local" : "remote " + ns, key,
                       with_key(Record::parse(as_chars(*bytes)), key)});
        continue;
      }
      auto entries = autotune::parse_bundle(as_chars(*bytes));
      if (!entries) {
        out.push_back(
            {"bundle " + key, "", tl::unexpected(std::move(entries.error()))});
        continue;
      }
      for (auto& [name, record] : *entries) {
        out.push_back({"bundle " + key, name, std::move(record)});
      }
    }
  }
  return out;
}

void add_key_command(CLI::App& parent, int& exit_code) {
  struct Args {
    KeyRequest request;
    std::string code_file;
    bool batch = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "key",
      "PyTorch's autotune keys (JSON): a kernel's prepared key, local "
      ".best_config path, artifact key and remote cache id; a compile's code "
      "hash and bundle key");
  auto opt = [&](const char* name, std::optional<std::string>& into,
                 const char* help) { cmd->add_option(name, into, help); };
  opt("--kernel-file", args->request.kernel_file, "The kernel's .py path");
  opt("--cache-key-tag", args->request.cache_key_tag,
      "torch.compiler.config.cache_key_tag (default \"\")");
  opt("--torch-key", args->request.torch_key, "codecache.torch_key(), as hex");
  opt("--backend-hash", args->request.backend_hash,
      "Triton's backend hash (inductor_meta[\"backend_hash\"])");
  opt("--configs-hash", args->request.configs_hash,
      "The kernel's configs hash");
  opt("--code-hash", args->request.code_hash, "The compile's code hash");
  cmd->add_option("--code", args->code_file,
                  "The compile's code file; its hash ignores # comments")
      ->type_name("FILE");
  opt("--bundle-entry", args->request.bundle_entry,
      "A bundle entry's basename: where unbundling writes it");
  cmd->add_flag("--batch", args->batch,
                "Read one JSON object of these fields (snake_case, code as "
                "text) per stdin line; print one result per line");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    if (!args->batch) {
      KeyRequest r = args->request;
      if (!args->code_file.empty()) {
        CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(args->code_file));
        r.code = std::string(as_chars(file.bytes()));
      }
      CP_ASSIGN_OR_RETURN(Json out, compute_keys(r));
      std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace)
                << "\n";
      return kExitOk;
    }
    std::string line;
    while (std::getline(std::cin, line)) {
      CP_ASSIGN_OR_RETURN(KeyRequest r, request_from_json(line));
      CP_ASSIGN_OR_RETURN(Json out, compute_keys(r));
      std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace)
                << "\n";
    }
    return kExitOk;
  }));
}

// One `autotune select` line: {"record": {...}, "configs_hash": "...",
// "candidates": [{"kwargs": {...}, "num_warps": 4, "num_stages": 1}],
// "coordinate_descent_tuning": false}.
Result<Json> select_parsed(const std::string& line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("record") ||
      !j.value("configs_hash", Json()).is_string()) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson,
                      "a select line needs \"record\" and a string "
                      "\"configs_hash\": " +
                          line);
  }
  CP_ASSIGN_OR_RETURN(Record record, Record::parse(j["record"].dump()));
  std::vector<autotune::TritonConfig> candidates;
  const Json candidate_list = j.value("candidates", Json::array());
  for (const Json& c : candidate_list) {
    autotune::TritonConfig config;
    const Json kwargs = c.value("kwargs", Json::object());
    for (const auto& [k, v] : kwargs.items()) {
      config.kwargs.emplace_back(k, v.dump());
    }
    if (!c.value("num_warps", Json()).is_number_integer() ||
        !c.value("num_stages", Json()).is_number_integer()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "a candidate needs integer num_warps and num_stages: " + c.dump());
    }
    config.num_warps = c["num_warps"].get<int64_t>();
    config.num_stages = c["num_stages"].get<int64_t>();
    candidates.push_back(std::move(config));
  }
  autotune::SelectOptions options{
      .coordinate_descent_tuning = j.value("coordinate_descent_tuning", false)};
  CP_ASSIGN_OR_RETURN(
      auto selection,
      autotune::select(record, j["configs_hash"].get<std::string>(), candidates,
                       options));
  Json out = Json::object();
  if (!selection) {
    out["selected"] = nullptr;
    return out;
  }
  Json config = Json::object();
  Json kwargs = Json::object();
  for (const auto& [k, text] : selection->config.kwargs) {
    kwargs[k] = Json::parse(text);
  }
  config["kwargs"] = std::move(kwargs);
  config["num_warps"] = selection->config.num_warps;
  config["num_stages"] = selection->config.num_stages;
  out["selected"] = std::move(config);
  out["candidate"] =
      selection->candidate ? Json(*selection->candidate) : Json(nullptr);
  out["found_by_coordesc"] = selection->found_by_coordesc;
  out["extra_options"] = selection->extra_options
                             ? Json::parse(*selection->extra_options)
                             : Json(nullptr);
  return out;
}

// select_parsed, with a field of the wrong JSON type (nlohmann throws on
// value<bool>() of a string) as a usage error.
Result<Json> select_line(const std::string& line) {
  try {
    return select_parsed(line);
  } catch (const Json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidJson,
                      std::string("a select line has a field of the wrong "
                                  "type (") +
                          e.what() + "): " + line);
  }
}

void add_select_subcommand(CLI::App& parent, int& exit_code) {
  CLI::App* cmd = parent.add_subcommand(
      "select",
      "Which config PyTorch would use from a best-config record: reads one "
      "JSON object per stdin line ({\"record\", \"configs_hash\", "
      "\"candidates\": [{\"kwargs\", \"num_warps\", \"num_stages\"}], "
      "\"coordinate_descent_tuning\"}) and prints one result per line");
  cmd->callback(run(exit_code, []() -> Result<int> {
    std::string line;
    while (std::getline(std::cin, line)) {
      CP_ASSIGN_OR_RETURN(Json out, select_line(line));
      std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace)
                << "\n";
    }
    return kExitOk;
  }));
}

void add_ls_subcommand(CLI::App& parent, int& exit_code) {
  struct Args {
    std::string source;
    std::optional<std::string> configs_hash;
    bool json = false;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "ls",
      "Best-config records of a cache (URL) or bundle: kernel, config, the "
      "autotuning time it saves, and whether a kernel with --configs-hash "
      "would accept it");
  cmd->add_option("SOURCE", args->source,
                  "Backend URL, cachepack bundle or Mega-Cache blob")
      ->required();
  cmd->add_option("--configs-hash", args->configs_hash,
                  "Say per record whether it would be accepted");
  cmd->add_flag("--json", args->json, "One JSON object per line");
  add_allow_older_version_flag(cmd, args->read);
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    CP_ASSIGN_OR_RETURN(auto listed, collect(args->source, args->read, false));
    int64_t total_ms = 0;
    size_t records = 0, unreadable = 0, accepted = 0;
    for (const Listed& l : listed) {
      Json row = Json::object();
      row["where"] = l.where;
      row["key"] = l.key;
      if (!l.record) {
        ++unreadable;
        row["error"] = l.record.error().to_string();
      } else {
        ++records;
        const Record& r = *l.record;
        int64_t ms = r.time_taken_ms().value_or(0);
        total_ms += ms;
        row["config"] = r.describe_config();
        row["time_taken_ms"] = ms;
        row["found_by_coordesc"] = r.found_by_coordesc();
        row["configs_hash"] = r.configs_hash().value_or("");
        if (args->configs_hash) {
          bool ok = r.configs_hash() == *args->configs_hash;
          accepted += ok;
          row["accepted"] = ok;
        }
      }
      if (args->json) {
        std::cout << row.dump(-1, ' ', false, Json::error_handler_t::replace)
                  << "\n";
        continue;
      }
      std::cout << l.where << "  " << l.key << "\n";
      if (!l.record) {
        std::cout << "    unreadable: " << row["error"].get<std::string>()
                  << "\n";
        continue;
      }
      std::cout << "    " << row["config"].get<std::string>() << "\n"
                << "    saves " << row["time_taken_ms"].get<int64_t>() << " ms"
                << (l.record->found_by_coordesc() ? ", coordesc" : "")
                << ", configs_hash " << row["configs_hash"].get<std::string>();
      if (args->configs_hash) {
        std::cout << (row["accepted"].get<bool>() ? ", accepted"
                                                  : ", not accepted");
      }
      std::cout << "\n";
    }
    if (!args->json) {
      std::cout << records << " record(s), " << total_ms
                << " ms of autotuning saved";
      if (args->configs_hash) std::cout << ", " << accepted << " accepted";
      if (unreadable) std::cout << ", " << unreadable << " unreadable";
      std::cout << "\n";
    }
    return unreadable ? kExitFailed : kExitOk;
  }));
}

// --code-hash or --code FILE, and --backend-hash: a bundle's key.
struct BundleKeyArgs {
  std::string code_hash, code_file, backend_hash;
};

void add_bundle_key_flags(CLI::App* cmd, BundleKeyArgs& args) {
  cmd->add_option("--code-hash", args.code_hash, "The compile's code hash");
  cmd->add_option("--code", args.code_file,
                  "The compile's code file (hashed without # comments)")
      ->type_name("FILE");
  cmd->add_option("--backend-hash", args.backend_hash, "Triton's backend hash");
}

Result<std::optional<std::string>> bundle_key_of(const BundleKeyArgs& args) {
  std::string code_hash = args.code_hash;
  if (!args.code_file.empty()) {
    CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(args.code_file));
    code_hash = autotune::comment_stripped_hash(as_chars(file.bytes()));
  }
  if (code_hash.empty() && args.backend_hash.empty()) return std::nullopt;
  if (code_hash.empty() || args.backend_hash.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a bundle key needs the code (--code-hash or --code) "
                      "and --backend-hash");
  }
  return autotune::bundle_key(code_hash, args.backend_hash);
}

void add_bundle_subcommand(CLI::App& parent, int& exit_code) {
  struct Args {
    std::string source, dest;
    BundleKeyArgs key;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "bundle",
      "Bundle the local best-config records of SOURCE (URL or bundle) into "
      "one entry of DEST under PyTorch's bundled-autotune-v1 id and key");
  cmd->add_option("SOURCE", args->source,
                  "Backend URL, cachepack bundle or Mega-Cache blob")
      ->required();
  cmd->add_option("DEST", args->dest, "Backend URL")->required();
  add_bundle_key_flags(cmd, args->key);
  add_allow_older_version_flag(cmd, args->read);
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    CP_ASSIGN_OR_RETURN(auto key, bundle_key_of(args->key));
    if (!key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "bundle needs --code-hash or --code, and "
                        "--backend-hash");
    }
    CP_ASSIGN_OR_RETURN(auto listed, collect(args->source, args->read, true));
    autotune::BundleEntries entries;
    int64_t ms = 0;
    for (Listed& l : listed) {
      if (!l.record) return tl::unexpected(std::move(l.record.error()));
      size_t slash = l.key.rfind('/');
      std::string name =
          slash == std::string::npos ? l.key : l.key.substr(slash + 1);
      ms += l.record->time_taken_ms().value_or(0);
      entries.emplace_back(std::move(name), std::move(*l.record));
    }
    CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
    CP_ASSIGN_OR_RETURN(auto dest, backends->open(args->dest));
    std::string json = autotune::bundle_to_json(entries);
    CP_TRY(dest->put(autotune::kBundleCacheId, *key, as_bytes(json),
                     PutMode::kOverwrite));
    std::cout << "bundled " << entries.size() << " record(s) (" << ms
              << " ms of autotuning) into " << autotune::kBundleCacheId << "/"
              << *key << "\n";
    return kExitOk;
  }));
}

void add_unbundle_subcommand(CLI::App& parent, int& exit_code) {
  struct Args {
    std::string source, dest;
    BundleKeyArgs key;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "unbundle",
      "Expand SOURCE's autotune bundles (one with --code-hash/--code and "
      "--backend-hash, else all) into DEST's local records, where PyTorch's "
      "bundler writes them");
  cmd->add_option("SOURCE", args->source, "Backend URL")->required();
  cmd->add_option("DEST", args->dest, "Backend URL (torch://DIR for PyTorch)")
      ->required();
  add_bundle_key_flags(cmd, args->key);
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    CP_ASSIGN_OR_RETURN(auto key, bundle_key_of(args->key));
    CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
    CP_ASSIGN_OR_RETURN(auto source, backends->open(args->source));
    CP_ASSIGN_OR_RETURN(auto dest, backends->open(args->dest));
    std::vector<std::string> keys;
    if (key) {
      keys.push_back(*key);
    } else {
      CP_ASSIGN_OR_RETURN(keys, source->list(autotune::kBundleCacheId));
      std::sort(keys.begin(), keys.end());
    }
    autotune::Expanded total;
    size_t bundles = 0;
    for (const std::string& k : keys) {
      CP_ASSIGN_OR_RETURN(auto bytes, source->get(autotune::kBundleCacheId, k));
      if (!bytes) {
        if (key) {
          return make_error(ErrorCode::kNotFound,
                            "no autotune bundle under this key",
                            ErrorLocation{.url = source->url(), .key = k});
        }
        continue;
      }
      CP_ASSIGN_OR_RETURN(
          auto entries, with_key(autotune::parse_bundle(as_chars(*bytes)), k));
      CP_ASSIGN_OR_RETURN(auto expanded,
                          with_key(autotune::expand_bundle(entries, *dest), k));
      ++bundles;
      total.records += expanded.records;
      total.time_taken_ms += expanded.time_taken_ms;
      total.time_saved_ns += expanded.time_saved_ns;
    }
    std::cout << "unbundled " << bundles << " bundle(s): " << total.records
              << " record(s), " << total.time_taken_ms
              << " ms of autotuning saved\n";
    return kExitOk;
  }));
}

}  // namespace

void add_autotune_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "autotune",
      "PyTorch's autotune cache: keys, best-config records and bundles "
      "(docs/AUTOTUNE.md)");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  cachepack autotune ls torch:///tmp/torchinductor_$USER\n"
      "  cachepack autotune ls model.cpk --configs-hash 5f1e...\n"
      "  cachepack autotune bundle torch:///tmp/cache redis://cache-host:6379 "
      "--code-hash c0de... --backend-hash b4ck...\n"
      "  cachepack autotune unbundle redis://cache-host:6379 "
      "torch:///tmp/cache\n");
  add_key_command(*cmd, exit_code);
  add_ls_subcommand(*cmd, exit_code);
  add_select_subcommand(*cmd, exit_code);
  add_bundle_subcommand(*cmd, exit_code);
  add_unbundle_subcommand(*cmd, exit_code);
}

}  // namespace cachepack::cli
