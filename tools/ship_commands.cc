// push and pull: shipping a bundle through a backend, version after version,
// moving only the entries that changed (cachepack/ship.h, docs/REMOTE.md).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cachepack/ship.h"
#include "tools/bundle_input.h"
#include "tools/commands.h"
#include "tools/inputs.h"
#include "tools/progress.h"

namespace cachepack::cli {

void add_push_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string bundle;
    std::string url;
    std::string name;
    bool json = false;
    ProgressFlags progress;
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
  add_progress_flags(cmd, args->progress);
  cmd->footer(
      "Examples:\n"
      "  cachepack push model.cpk redis://cache-host:6379 --name resnet-v42\n"
      "  cachepack push model.cpk https://cache.example.com/cp --name "
      "nightly\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        CP_ASSIGN_OR_RETURN(auto backend, open_url(args->url));
        PushOptions options;
        ProgressLine progress("push", args->progress.shown() && !args->json);
        options.progress = [&progress](const ShipProgress& p) {
          progress.set_total(p.blobs_total, p.bytes_total);
          progress.update(p.blobs_done, p.bytes_done);
        };
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
          print_json(doc);
        } else if (!args->progress.quiet) {
          std::cout << "pushed " << args->bundle << " as '" << args->name
                    << "' to " << backend->url() << ": " << r.entries
                    << " entries in " << r.blobs << " blobs, "
                    << r.blobs_uploaded << " uploaded (" << r.bytes_uploaded
                    << " bytes), " << r.blobs_present
                    << " already there; manifest " << r.manifest_bytes
                    << " bytes, " << r.signatures << " signature(s)\n";
        }
        return kExitOk;
      },
      &args->json));
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
    ProgressFlags progress;
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
  add_progress_flags(cmd, args->progress);
  cmd->footer(
      "Examples:\n"
      "  cachepack pull redis://cache-host:6379 model.cpk --name resnet-v42 "
      "--trusted-key release.pem.pub\n"
      "  cachepack pull https://cache.example.com/cp model.cpk --name nightly "
      "--have torch:///tmp/torchinductor_$USER\n");
  cmd->callback(run(
      exit_code,
      [args]() -> Result<int> {
        PullOptions options;
        // Keys loaded as every reading command loads them.
        CP_ASSIGN_OR_RETURN(
            auto read,
            bundle_read_options({.trusted_key_files = args->trusted_key_files},
                                BundleUse::kEverything));
        options.trusted_keys = std::move(read.trusted_keys);
        CP_ASSIGN_OR_RETURN(auto backend, open_url(args->url));
        std::unique_ptr<Backend> have;
        if (!args->have.empty()) {
          CP_ASSIGN_OR_RETURN(have, open_url(args->have));
          options.have = have.get();
        }
        options.fsync = args->fsync;
        ProgressLine progress("pull", args->progress.shown() && !args->json);
        options.progress = [&progress](const ShipProgress& p) {
          progress.set_total(p.blobs_total, p.bytes_total);
          progress.update(p.blobs_done, p.bytes_done);
        };
        CP_ASSIGN_OR_RETURN(
            auto r, pull_bundle(*backend, args->name, args->out, options));
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
          print_json(doc);
        } else if (!args->progress.quiet) {
          std::cout << "pulled '" << args->name << "' from " << backend->url()
                    << " into " << args->out << ": " << r.entries
                    << " entries in " << r.blobs << " blobs, "
                    << r.blobs_fetched << " fetched (" << r.bytes_fetched
                    << " bytes + manifest " << r.manifest_bytes << "), "
                    << r.blobs_from_out << " kept from the previous file, "
                    << r.blobs_from_have << " from --have";
          if (!options.trusted_keys.empty()) {
            std::cout << "; signed by a trusted key";
          }
          std::cout << "\n";
        }
        return kExitOk;
      },
      &args->json));
}

}  // namespace cachepack::cli
