// push and pull: shipping a bundle through a backend, version after version,
// moving only the entries that changed (cachepack/ship.h, docs/REMOTE.md).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cachepack/all_backends.h"
#include "cachepack/ship.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"

namespace cachepack::cli {
namespace {

Result<std::unique_ptr<Backend>> open_backend(const std::string& url) {
  CP_ASSIGN_OR_RETURN(auto backends, registry_with_all_backends());
  return backends->open(url);
}

// Progress on stderr, only when it is a terminal: one line rewritten in
// place, about a hundred times at most.
std::function<void(const ShipProgress&)> terminal_progress(const char* verb) {
  if (::isatty(STDERR_FILENO) == 0) return nullptr;
  return [verb](const ShipProgress& p) {
    std::fprintf(stderr, "\r%s: %llu/%llu blobs, %llu/%llu MiB", verb,
                 static_cast<unsigned long long>(p.blobs_done),
                 static_cast<unsigned long long>(p.blobs_total),
                 static_cast<unsigned long long>(p.bytes_done >> 20),
                 static_cast<unsigned long long>(p.bytes_total >> 20));
    if (p.blobs_done == p.blobs_total) std::fputc('\n', stderr);
  };
}

}  // namespace

void add_push_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string bundle;
    std::string url;
    std::string name;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "push",
      "Store a bundle in a backend under a name, as content-addressed blobs "
      "plus a manifest; blobs the backend already holds are not sent again");
  cmd->add_option("BUNDLE", args->bundle, "cachepack bundle (.cpk)")
      ->required();
  cmd->add_option("URL", args->url,
                  "Backend: redis://..., http(s)://..., file:///dir")
      ->required();
  cmd->add_option("--name", args->name, "Name to pull it by")->required();
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    CP_ASSIGN_OR_RETURN(auto backend, open_backend(args->url));
    PushOptions options;
    if (!args->json) options.progress = terminal_progress("push");
    CP_ASSIGN_OR_RETURN(
        auto r, push_bundle(args->bundle, *backend, args->name, options));
    if (args->json) {
      nlohmann::json doc = {{"name", args->name},
                            {"url", backend->url()},
                            {"bundle_bytes", r.bundle_bytes},
                            {"entries", r.entries},
                            {"blobs", r.blobs},
                            {"blobs_uploaded", r.blobs_uploaded},
                            {"bytes_uploaded", r.bytes_uploaded},
                            {"blobs_present", r.blobs_present},
                            {"manifest_bytes", r.manifest_bytes},
                            {"signatures", r.signatures}};
      std::cout << doc.dump(2) << "\n";
    } else {
      std::cout << "pushed " << args->bundle << " as '" << args->name << "' to "
                << backend->url() << ": " << r.entries << " entries in "
                << r.blobs << " blobs, " << r.blobs_uploaded << " uploaded ("
                << r.bytes_uploaded << " bytes), " << r.blobs_present
                << " already there; manifest " << r.manifest_bytes << " bytes, "
                << r.signatures << " signature(s)\n";
    }
    return kExitOk;
  }));
}

void add_pull_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string url;
    std::string name;
    std::string out;
    std::vector<std::string> trusted_key_files;
    std::string have;
    bool fsync = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "pull",
      "Rebuild a pushed bundle into OUT, fetching only the entries that OUT "
      "(its previous version) or --have do not already hold; OUT is "
      "replaced only by a complete, verified bundle");
  cmd->add_option("URL", args->url, "Backend the bundle was pushed to")
      ->required();
  cmd->add_option("OUT", args->out, "Bundle file to create or update")
      ->required();
  cmd->add_option("--name", args->name, "Name it was pushed under")->required();
  cmd->add_option("--trusted-key", args->trusted_key_files,
                  "Public key (PEM); the bundle must be signed by one of the "
                  "given keys, checked before anything is fetched")
      ->take_all();
  cmd->add_option("--have", args->have,
                  "A local cache (torch:///dir, file:///dir) whose artifacts "
                  "need not be fetched");
  cmd->add_flag("--fsync", args->fsync,
                "fsync the new bundle and its directory before renaming");
  cmd->add_flag("--json", args->json, "One JSON object on stdout");
  cmd->callback(run(exit_code, [args]() -> Result<int> {
    PullOptions options;
    // Keys loaded as every reading command loads them.
    CP_ASSIGN_OR_RETURN(
        auto read,
        bundle_read_options({.trusted_key_files = args->trusted_key_files},
                            BundleUse::kEverything));
    options.trusted_keys = std::move(read.trusted_keys);
    CP_ASSIGN_OR_RETURN(auto backend, open_backend(args->url));
    std::unique_ptr<Backend> have;
    if (!args->have.empty()) {
      CP_ASSIGN_OR_RETURN(have, open_backend(args->have));
      options.have = have.get();
    }
    options.fsync = args->fsync;
    if (!args->json) options.progress = terminal_progress("pull");
    CP_ASSIGN_OR_RETURN(auto r,
                        pull_bundle(*backend, args->name, args->out, options));
    if (!r.previous_output_note.empty()) {
      std::cerr << "cachepack: previous " << args->out
                << " not reused: " << r.previous_output_note << "\n";
    }
    if (args->json) {
      nlohmann::json doc = {{"name", args->name},
                            {"url", backend->url()},
                            {"out", args->out},
                            {"bundle_bytes", r.bundle_bytes},
                            {"bundle_sha256", r.bundle_sha256},
                            {"entries", r.entries},
                            {"blobs", r.blobs},
                            {"blobs_fetched", r.blobs_fetched},
                            {"bytes_fetched", r.bytes_fetched},
                            {"blobs_from_out", r.blobs_from_out},
                            {"bytes_from_out", r.bytes_from_out},
                            {"blobs_from_have", r.blobs_from_have},
                            {"bytes_from_have", r.bytes_from_have},
                            {"manifest_bytes", r.manifest_bytes},
                            {"trusted_signatures", r.trusted_signatures}};
      std::cout << doc.dump(2) << "\n";
    } else {
      std::cout << "pulled '" << args->name << "' from " << backend->url()
                << " into " << args->out << ": " << r.entries << " entries in "
                << r.blobs << " blobs, " << r.blobs_fetched << " fetched ("
                << r.bytes_fetched << " bytes + manifest " << r.manifest_bytes
                << "), " << r.blobs_from_out << " kept from the previous file, "
                << r.blobs_from_have << " from --have";
      if (!options.trusted_keys.empty()) {
        std::cout << "; signed by a trusted key";
      }
      std::cout << "\n";
    }
    return kExitOk;
  }));
}

}  // namespace cachepack::cli
