// convert, inspect, cat, keygen, sign and append: making, reading and
// signing cachepack bundles (docs/BUNDLE.md).
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cachepack/bundle_convert.h"
#include "cachepack/bundle_listing.h"
#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_signing.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/environment.h"
#include "cachepack/megacache.h"
#include "tools/bundle_input.h"
#include "tools/cli_output.h"
#include "tools/commands.h"
#include "tools/environment_flags.h"
#include "tools/pack_flags.h"
#include "tools/progress.h"
#include "util/file.h"
#include "util/file_lock.h"
#include "util/text.h"

namespace cachepack::cli {
namespace {

using bundle::BundleReader;
using bundle::BundleWriter;
using bundle::WriterOptions;

// append --env replaces the environment a bundle recorded. Where the two
// differ in PyTorch's cache keys, the older artifacts cannot hit where the
// newer ones can, and the bundle no longer says so: warn, once per
// difference. A bundle that cannot be read here is left to append to
// report.
void warn_if_environment_changes(const std::string& path,
                                 const WriterOptions& options) {
  auto it = options.user_metadata.find(std::string(kEnvironmentMetadataKey));
  if (it == options.user_metadata.end()) return;
  auto reader = BundleReader::open(
      path, bundle::ReaderOptions{.allow_older_version = true});
  if (!reader) return;
  auto before = environment_of(*reader);
  auto after = environment_from_json(it->second);
  if (!before || !*before || !after) return;
  for (const auto& d : compare_environments(**before, *after)) {
    if (d.severity != EnvironmentSeverity::kBlocks) continue;
    std::cerr << "cachepack: warning: " << path << ": --env changes " << d.field
              << " from " << printable(d.recorded) << " to "
              << printable(d.target)
              << "; the artifacts already in the bundle cannot hit where the "
                 "new ones do\n";
  }
}

std::string ratio_text(uint64_t original, uint64_t stored) {
  if (stored == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", double(original) / double(stored));
  return buf;
}

Result<std::string> convert(const std::string& in, const std::string& out,
                            const std::string& to, const PackFlags& flags,
                            const BundleReadFlags& read_flags,
                            ProgressLine& progress) {
  // A bundle input is opened (and its structure checked) before anything
  // is written.
  std::optional<BundleReader> source;
  if (bundle::is_bundle_file(in)) {
    CP_ASSIGN_OR_RETURN(auto reader,
                        open_bundle(in, read_flags, BundleUse::kEverything));
    source.emplace(std::move(reader));
  }
  bool to_bundle =
      to.empty() ? bundle::has_bundle_extension(out) : to == "cachepack";
  if (!to_bundle) {
    CP_TRY(refuse_env_for_blob(flags.env_file, out));
    CP_TRY(refuse_compression_for_blob(flags.compression, out));
    Bytes blob;
    if (source) {
      CP_ASSIGN_OR_RETURN(blob,
                          in_file(bundle::bundle_to_megacache(*source), in));
    } else {
      CP_ASSIGN_OR_RETURN(auto file, MappedFile::open(in));
      // Blob to blob: parsed and rewritten, which normalises it.
      CP_ASSIGN_OR_RETURN(
          auto parsed,
          in_file(megacache::parse(file.bytes(), flags.blob_options()), in));
      megacache::Writer writer;
      for (const auto& g : parsed.groups) {
        std::vector<megacache::KeyedContent> entries;
        for (const auto& a : g.artifacts) entries.push_back({a.key, a.content});
        CP_TRY(writer.append_group(g.type, entries));
      }
      ByteSpan bytes = writer.bytes();
      blob.assign(bytes.begin(), bytes.end());
    }
    if (out == "-") {
      std::cout.write(reinterpret_cast<const char*>(blob.data()),
                      static_cast<std::streamsize>(blob.size()));
      CP_TRY(flush_stdout());
    } else {
      CP_TRY(write_file_replacing(out, blob));
    }
    return "wrote " + out + ": pytorch-megacache, " +
           std::to_string(blob.size()) + " bytes";
  }
  std::unique_ptr<bundle::SigningKey> key;
  CP_ASSIGN_OR_RETURN(auto options, writer_options(flags, key));
  options.progress = [&progress](const bundle::WriteStats& s) {
    progress.update(s.added, s.original_bytes);
  };
  // A blob's size is about what it holds; a bundle's is after compression.
  if (!source) {
    std::error_code error;
    uint64_t size = std::filesystem::file_size(in, error);
    if (!error) progress.set_total(0, size);
  }
  // A bundle's environment goes with its artifacts, as recorded (unless
  // --env says otherwise).
  const std::string env_key(kEnvironmentMetadataKey);
  if (source && flags.env_file.empty()) {
    const auto& user = source->metadata().user;
    if (auto it = user.find(env_key); it != user.end()) {
      options.user_metadata[env_key] = it->second;
    }
  }
  CP_ASSIGN_OR_RETURN(
      auto writer,
      out == "-" ? BundleWriter::to_stream(STDOUT_FILENO, options, kStdoutName)
                 : BundleWriter::create(out, options));
  CP_TRY(source ? bundle::add_bundle(writer, *source)
                : bundle::add_file(writer, in, flags.blob_options()));
  CP_ASSIGN_OR_RETURN(auto stats, writer.finish());
  return "wrote " + out + ": cachepack bundle, " +
         std::to_string(stats.entries) + " entries, " +
         std::to_string(stats.original_bytes) + " -> " +
         std::to_string(stats.file_size) + " bytes (ratio " +
         ratio_text(stats.original_bytes, stats.file_size) + ")" +
         (key ? ", signed" : "");
}

nlohmann::json inspect_json(
    const BundleReader& r, const std::vector<bundle::EntryInfo>& entries,
    const std::vector<bundle::GroupInfo>& groups,
    const std::vector<std::pair<std::string, Bytes>>& dictionaries) {
  nlohmann::json j;
  j["format"] = "cachepack";
  j["file_size"] = r.file_size();
  j["header"] = {{"version", r.header().version}, {"flags", r.header().flags}};
  j["footer"] = {{"offset", r.footer_offset()},
                 {"index_offset", r.footer().index_offset},
                 {"index_size", r.footer().index_size},
                 {"previous_footer_offset", r.footer().previous_footer_offset},
                 {"ignored_tail", r.ignored_tail()}};
  const auto& m = r.metadata();
  j["metadata"] = {{"producer", m.producer},
                   {"producer_version", m.producer_version},
                   {"user", m.user}};
  if (m.creation_unix_seconds) {
    j["metadata"]["creation_unix_seconds"] = *m.creation_unix_seconds;
  }
  uint64_t original = 0, stored = 0;
  // A solid block's stored bytes are shared out among its entries by their
  // original size (rounded), for the per-type figures.
  std::vector<bundle::ChunkInfo> blocks =
      r.blocks().value_or(std::vector<bundle::ChunkInfo>());
  uint64_t block_original = 0, block_stored = 0;
  for (const auto& b : blocks) {
    block_original += b.original_size;
    block_stored += b.stored_size;
  }
  std::map<std::string, std::array<uint64_t, 3>> per_type;
  for (const auto& e : entries) {
    original += e.original_size;
    stored += e.stored_size;
    auto& t = per_type[e.type];
    t[0] += 1;
    t[1] += e.original_size;
    t[2] += e.stored_size;
    if (e.block != 0 && e.block_data.original_size > 0) {
      t[2] += static_cast<uint64_t>(
          static_cast<double>(e.block_data.stored_size) *
              static_cast<double>(e.original_size) /
              static_cast<double>(e.block_data.original_size) +
          0.5);
    }
  }
  stored += block_stored;
  j["entries"] = entries.size();
  // Entries that a later one with the same (type, key) shadows: the last
  // stored is the one every command reads.
  std::set<std::pair<std::string_view, std::string_view>> later;
  uint64_t shadowed = 0;
  for (auto e = entries.rbegin(); e != entries.rend(); ++e) {
    if (!later.emplace(e->type, e->key).second) ++shadowed;
  }
  j["shadowed_entries"] = shadowed;
  j["original_bytes"] = original;
  j["stored_bytes"] = stored;
  j["chunk_size"] = r.chunk_size();
  j["solid_blocks"] = {{"count", blocks.size()},
                       {"original_bytes", block_original},
                       {"stored_bytes", block_stored}};
  nlohmann::json types = nlohmann::json::array();
  for (const std::string& t : r.types()) {
    auto it = per_type.find(t);
    if (it == per_type.end()) continue;
    const auto& v = it->second;
    types.push_back({{"type", t},
                     {"registered", registered_type(t)},
                     {"entries", v[0]},
                     {"original_bytes", v[1]},
                     {"stored_bytes", v[2]},
                     {"ratio", v[2] ? double(v[1]) / double(v[2]) : 0.0}});
  }
  j["types"] = types;
  nlohmann::json dicts = nlohmann::json::array();
  for (const auto& [type, d] : dictionaries) {
    dicts.push_back({{"type", type}, {"size", d.size()}});
  }
  j["dictionaries"] = dicts;
  j["megacache_groups"] = groups.size();
  nlohmann::json sigs = nlohmann::json::array();
  for (const auto& s : r.signatures()) {
    sigs.push_back({{"public_key", to_hex(s.public_key)}, {"valid", s.valid}});
  }
  j["signatures"] = sigs;
  return j;
}

void print_inspect(const nlohmann::json& j) {
  std::cout << "format: cachepack bundle version "
            << j["header"]["version"].get<uint32_t>() << ", flags "
            << j["header"]["flags"].get<uint32_t>() << "\n";
  std::cout << "size: " << j["file_size"].get<uint64_t>() << " bytes; index "
            << j["footer"]["index_size"].get<uint64_t>() << " bytes at "
            << j["footer"]["index_offset"].get<uint64_t>() << "; footer at "
            << j["footer"]["offset"].get<uint64_t>() << "\n";
  const auto& m = j["metadata"];
  std::cout << "producer: " << m["producer"].get<std::string>() << " "
            << m["producer_version"].get<std::string>() << "\n";
  if (m.contains("creation_unix_seconds")) {
    std::cout << "created: " << m["creation_unix_seconds"].get<int64_t>()
              << " (unix seconds)\n";
  }
  for (const auto& [k, v] : m["user"].items()) {
    std::cout << "meta: " << k << "=" << v.get<std::string>() << "\n";
  }
  uint64_t original = j["original_bytes"], stored = j["stored_bytes"];
  std::cout << "entries: " << j["entries"].get<uint64_t>() << ", " << original
            << " -> " << stored << " bytes (ratio "
            << ratio_text(original, stored) << ")\n";
  if (uint64_t shadowed = j["shadowed_entries"]; shadowed > 0) {
    std::cout << "shadowed: " << shadowed
              << " entries have the type and key of a later one, which is "
                 "the one read\n";
  }
  for (const auto& t : j["types"]) {
    std::cout << "  " << t["type"].get<std::string>()
              << (t["registered"].get<bool>() ? "" : " (unregistered)") << ": "
              << t["entries"].get<uint64_t>() << " entries, "
              << t["original_bytes"].get<uint64_t>() << " -> "
              << t["stored_bytes"].get<uint64_t>() << " bytes (ratio "
              << ratio_text(t["original_bytes"], t["stored_bytes"]) << ")\n";
  }
  if (uint64_t n = j["solid_blocks"]["count"]; n > 0) {
    std::cout << "solid blocks: " << n << ", "
              << j["solid_blocks"]["original_bytes"].get<uint64_t>() << " -> "
              << j["solid_blocks"]["stored_bytes"].get<uint64_t>()
              << " bytes\n";
  }
  for (const auto& d : j["dictionaries"]) {
    std::cout << "dictionary: " << d["type"].get<std::string>() << ", "
              << d["size"].get<uint64_t>() << " bytes\n";
  }
  if (j["megacache_groups"].get<uint64_t>() > 0) {
    std::cout << "mega-cache groups: " << j["megacache_groups"].get<uint64_t>()
              << "\n";
  }
  if (j["signatures"].empty()) std::cout << "signatures: none\n";
  for (const auto& s : j["signatures"]) {
    std::cout << "signature: ed25519 " << s["public_key"].get<std::string>()
              << (s["valid"].get<bool>() ? " valid" : " INVALID") << "\n";
  }
}

}  // namespace

void add_convert_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string in, out, to;
    PackFlags pack;
    BundleReadFlags read;
    ProgressFlags progress;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Convert between a PyTorch Mega-Cache blob and a cachepack bundle "
      "(input format detected from its bytes)");
  cmd->add_option("IN", args->in, "Blob or bundle")->required();
  cmd->add_option("OUT", args->out, "Output file, or - for stdout")->required();
  cmd->add_option("--to", args->to,
                  "Output format; default: cachepack if OUT ends in .cpk, "
                  "else pytorch (OUT - needs --to)")
      ->check(CLI::IsMember({"cachepack", "pytorch"}));
  add_pack_flags(cmd, args->pack);
  add_allow_older_version_flag(cmd, args->read);
  add_progress_flags(cmd, args->progress);
  cmd->footer(
      "Examples:\n"
      "  cachepack convert megacache.bin model.cpk --level 3 --threads 2\n"
      "  cachepack convert model.cpk megacache.bin\n"
      "  cachepack convert megacache.bin - --to cachepack | ssh host ...\n");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    args->read.strict_types = args->pack.strict_types;
    std::string done;
    {
      ProgressLine progress("convert", args->progress.shown());
      CP_ASSIGN_OR_RETURN(done, convert(args->in, args->out, args->to,
                                        args->pack, args->read, progress));
    }
    // With OUT "-" the data went to stdout; the summary goes to stderr.
    if (!args->progress.quiet) {
      (args->out == "-" ? std::cerr : std::cout) << done << "\n";
    }
    return kExitOk;
  }));
}

void add_inspect_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    bool json = false;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Show a bundle's header, metadata, sizes and ratio per type, "
      "dictionaries and signatures");
  cmd->add_option("BUNDLE", args->path, "cachepack bundle")->required();
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  add_allow_older_version_flag(cmd, args->read);
  add_strict_types_flag(cmd, args->read.strict_types);
  cmd->footer(
      "Examples:\n"
      "  cachepack inspect model.cpk\n"
      "  cachepack inspect model.cpk --json | jq .types\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        auto reader = open_bundle(args->path, args->read, BundleUse::kIndex);
        CP_TRY(reader);
        auto entries = reader->entries();
        auto groups = reader->groups();
        auto dicts = reader->dictionaries();
        for (const Error* e : {entries ? nullptr : &entries.error(),
                               groups ? nullptr : &groups.error(),
                               dicts ? nullptr : &dicts.error()}) {
          if (e) {
            return tl::unexpected(*e);
          }
        }
        nlohmann::json j = inspect_json(*reader, *entries, *groups, *dicts);
        if (args->json) {
          print_json(j);
        } else {
          print_inspect(j);
        }
        return kExitOk;
      },
      &args->json));
}

void add_cat_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path, type, key;
    BundleReadFlags read;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "cat", "Write one artifact's content to stdout (exit 1 if absent)");
  cmd->add_option("BUNDLE", args->path, "cachepack bundle")->required();
  cmd->add_option("TYPE", args->type, "Artifact type")->required();
  cmd->add_option("KEY", args->key, "Artifact key")->required();
  cmd->add_option("--trusted-key", args->read.trusted_key_files,
                  "Require a valid signature by this public key (repeatable)");
  add_allow_older_version_flag(cmd, args->read);
  cmd->footer(
      "Examples:\n"
      "  cachepack cat model.cpk inductor fx_graph_key > graph.pkl\n");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    auto reader = open_bundle(args->path, args->read, BundleUse::kIndex);
    CP_TRY(reader);
    auto got = reader->get(args->type, args->key);
    CP_TRY(got);
    if (!*got) {
      return tl::unexpected(
          Error(ErrorCode::kNotFound, ErrorReason::kUnspecified,
                "no artifact of type '" + args->type + "' with this key",
                ErrorLocation{.file = args->path, .key = args->key}));
    }
    std::cout.write(reinterpret_cast<const char*>((*got)->data()),
                    static_cast<std::streamsize>((*got)->size()));
    auto written = flush_stdout();
    return written ? kExitOk : report(written.error());
  }));
}

void add_keygen_command(CLI::App& app, int& exit_code) {
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "Make an Ed25519 key pair: private key PEM at KEYFILE (mode 0600), "
      "public key at KEYFILE.pub");
  cmd->add_option("--out", *out, "Private key file")->required();
  cmd->footer(
      "Examples:\n"
      "  cachepack keygen --out release.pem   # also writes release.pem.pub\n");
  cmd->callback(run(exit_code, [out]() -> Result<int> {
    auto pub = bundle::write_key_pair(*out);
    CP_TRY(pub);
    std::cout << "wrote " << *out << " and " << *out << ".pub: ed25519 "
              << to_hex(*pub) << "\n";
    return kExitOk;
  }));
}

void add_sign_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path, key;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "sign", "Add an Ed25519 signature over a bundle's index");
  cmd->add_option("BUNDLE", args->path, "cachepack bundle")->required();
  cmd->add_option("--key", args->key, "Private key PEM")->required();
  cmd->footer(
      "Examples:\n"
      "  cachepack sign model.cpk --key release.pem\n");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    auto key = bundle::SigningKey::load_pem(args->key);
    CP_TRY(key);
    CP_TRY(bundle::sign_bundle(args->path, *key));
    std::cout << "signed " << args->path << ": ed25519 "
              << to_hex(key->public_key()) << "\n";
    return kExitOk;
  }));
}

void add_append_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string path;
    std::vector<std::string> sources;
    PackFlags pack;
    bool discard = false;
    ProgressFlags progress;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "append",
      "Add the artifacts of Mega-Cache blobs or bundles to a bundle; an "
      "interrupted append leaves the old bundle readable");
  cmd->add_option("BUNDLE", args->path, "cachepack bundle")->required();
  cmd->add_option("SOURCE", args->sources, "Blobs or bundles")->required();
  add_pack_flags(cmd, args->pack);
  cmd->add_flag("--discard-damaged-tail", args->discard,
                "If the newest version's footer is damaged, drop that version "
                "and append to the previous one");
  add_progress_flags(cmd, args->progress);
  cmd->footer(
      "Examples:\n"
      "  cachepack append model.cpk new_megacache.bin\n"
      "  cachepack append --sign release.pem model.cpk a.bin b.cpk\n");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    std::unique_ptr<bundle::SigningKey> key;
    auto options = writer_options(args->pack, key);
    CP_TRY(options);
    options->discard_damaged_tail = args->discard;
    ProgressLine progress("append", args->progress.shown());
    options->progress = [&progress](const bundle::WriteStats& s) {
      progress.update(s.added, s.original_bytes);
    };
    warn_if_environment_changes(args->path, *options);
    auto writer = BundleWriter::append(args->path, *options);
    CP_TRY(writer);
    for (const std::string& source : args->sources) {
      if (args->pack.strict_types && bundle::is_bundle_file(source)) {
        auto reader = open_bundle(source, BundleReadFlags{.strict_types = true},
                                  BundleUse::kIndex);
        CP_TRY(reader);
      }
      CP_TRY(bundle::add_file(*writer, source, args->pack.blob_options()));
    }
    auto stats = writer->finish();
    CP_TRY(stats);
    if (args->progress.quiet) return kExitOk;
    std::cout << "appended " << stats->added << " entries to " << args->path
              << ": " << stats->entries << " entries, " << stats->file_size
              << " bytes" << (key ? ", signed" : "") << "\n";
    return kExitOk;
  }));
}

}  // namespace cachepack::cli
