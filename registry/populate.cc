#include "registry/populate.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <ranges>
#include <set>
#include <thread>

#include "backends/multi_value.h"
#include "util/text.h"

namespace cachepack {
namespace {

constexpr size_t kBatch = 64;  // Requests per put_many/get_many round trip.

PutMode mode_for(PopulatePolicy policy) {
  return policy == PopulatePolicy::kSkipExisting ? PutMode::kInsertIfAbsent
                                                 : PutMode::kOverwrite;
}

Error artifact_error(ErrorCode code, const ArtifactView& a, std::string msg,
                     const std::string& url) {
  return Error(code, ErrorReason::kUnspecified,
               a.type + " artifact: " + std::move(msg),
               ErrorLocation{.file = url, .key = std::string(a.key)});
}

// What reading an artifact back after writing it found.
enum class Readback { kMatch, kMissing, kDiffers };

Result<Readback> compare(const Result<std::optional<Bytes>>& read,
                         ByteSpan content) {
  if (!read) return tl::unexpected(read.error());
  if (!*read) return Readback::kMissing;
  return std::ranges::equal(**read, content) ? Readback::kMatch
                                             : Readback::kDiffers;
}

// A multi-valued key matches when any of its values is the content.
Result<Readback> compare(const Result<std::vector<Bytes>>& read,
                         ByteSpan content) {
  if (!read) return tl::unexpected(read.error());
  if (read->empty()) return Readback::kMissing;
  for (const auto& v : *read) {
    if (std::ranges::equal(v, content)) return Readback::kMatch;
  }
  return Readback::kDiffers;
}

// Turns a write result (and, under kVerify, the read-back) into an outcome.
void settle(const ArtifactView& a, const Result<bool>& put,
            const Result<Readback>* readback, Backend& backend,
            ArtifactResult& out) {
  out.type = a.type;
  out.key = a.key;
  out.bytes = a.content.size();
  if (!put) {
    out.outcome = PopulateOutcome::kFailed;
    out.error = put.error();
    return;
  }
  if (!*put) {
    out.outcome = PopulateOutcome::kSkipped;
    return;
  }
  out.outcome = PopulateOutcome::kStored;
  if (readback == nullptr) return;
  if (!*readback) {
    out.outcome = PopulateOutcome::kFailed;
    out.error = readback->error();
  } else if (**readback == Readback::kMissing) {
    out.outcome = PopulateOutcome::kFailed;
    out.error = artifact_error(ErrorCode::kDataLoss, a,
                               "verify: missing right after it was stored",
                               backend.url());
  } else if (**readback == Readback::kDiffers) {
    out.outcome = PopulateOutcome::kFailed;
    out.error =
        artifact_error(ErrorCode::kDataLoss, a,
                       "verify: the " + std::to_string(a.content.size()) +
                           " bytes stored read back different",
                       backend.url());
  }
}

class ProgressReporter {
 public:
  ProgressReporter(const PopulateOptions& options, uint64_t total)
      : callback_(options.progress) {
    progress_.total = total;
  }
  void done(const ArtifactResult& r) {
    if (!callback_) return;
    std::lock_guard lock(mutex_);
    ++progress_.done;
    progress_.bytes_done += r.bytes;
    progress_.last = &r;
    callback_(progress_);
  }

 private:
  std::function<void(const PopulateProgress&)> callback_;
  std::mutex mutex_;
  PopulateProgress progress_;
};

}  // namespace

std::string_view to_string(PopulatePolicy policy) {
  switch (policy) {
    case PopulatePolicy::kSkipExisting:
      return "skip-existing";
    case PopulatePolicy::kOverwrite:
      return "overwrite";
    case PopulatePolicy::kVerify:
      return "verify";
  }
  return "?";
}

Result<PopulatePolicy> parse_populate_policy(std::string_view text) {
  for (auto p : {PopulatePolicy::kSkipExisting, PopulatePolicy::kOverwrite,
                 PopulatePolicy::kVerify}) {
    if (text == to_string(p)) return p;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown populate policy '" + std::string(text) +
                        "'; expected skip-existing, overwrite or verify");
}

uint64_t PopulateReport::stored() const {
  uint64_t n = 0;
  for (const auto& [_, t] : by_type) n += t.stored;
  return n;
}
uint64_t PopulateReport::skipped() const {
  uint64_t n = 0;
  for (const auto& [_, t] : by_type) n += t.skipped;
  return n;
}
uint64_t PopulateReport::failed() const {
  uint64_t n = 0;
  for (const auto& [_, t] : by_type) n += t.failed;
  return n;
}

Result<PopulateReport> populate(std::span<const ArtifactView> artifacts,
                                Backend& backend,
                                const PopulateOptions& options) {
  if (options.threads == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "populate needs at least one thread");
  }
  if (options.precheck) {
    if (auto ok = options.precheck(); !ok) return tl::unexpected(ok.error());
  }
  PopulateReport report;
  report.artifacts.resize(artifacts.size());
  ProgressReporter progress(options, artifacts.size());
  const PutMode mode = mode_for(options.policy);
  const bool verify = options.policy == PopulatePolicy::kVerify;

  // Keys that hold several values (PyTorch's FX-graph and AOTAutograd
  // directories) get PyTorch's own semantics: this content is added next
  // to the others, and "existing" means this very content.
  MultiValued* multi = dynamic_cast<MultiValued*>(&backend);
  auto is_multi = [&](const ArtifactView& a) {
    return multi != nullptr && multi->multi_valued(a.type);
  };
  auto write_one = [&](size_t i) {
    const ArtifactView& a = artifacts[i];
    Result<bool> put =
        is_multi(a)
            ? multi->add(a.type, a.key, a.content, mode, options.deadline)
            : backend.put(a.type, a.key, a.content, mode, options.deadline);
    std::optional<Result<Readback>> rb;
    if (verify && put && *put) {
      rb = is_multi(a)
               ? compare(multi->get_all(a.type, a.key, options.deadline),
                         a.content)
               : compare(backend.get(a.type, a.key, options.deadline),
                         a.content);
    }
    settle(a, put, rb ? &*rb : nullptr, backend, report.artifacts[i]);
    progress.done(report.artifacts[i]);
  };

  if (options.threads == 1) {
    for (size_t begin = 0; begin < artifacts.size(); begin += kBatch) {
      size_t end = std::min(artifacts.size(), begin + kBatch);
      std::vector<size_t> batched;
      std::vector<PutRequest> puts;
      for (size_t i = begin; i < end; ++i) {
        if (is_multi(artifacts[i])) {
          write_one(i);
          continue;
        }
        batched.push_back(i);
        puts.push_back(
            {artifacts[i].type, artifacts[i].key, artifacts[i].content});
      }
      auto put_results = backend.put_many(puts, mode, options.deadline);
      std::vector<Result<std::optional<Bytes>>> reads;
      if (verify) {
        std::vector<KeyRef> refs;
        for (const auto& p : puts) refs.push_back({p.ns, p.key});
        reads = backend.get_many(refs, options.deadline);
      }
      for (size_t j = 0; j < batched.size(); ++j) {
        size_t i = batched[j];
        Result<bool> put =
            j < put_results.size()
                ? std::move(put_results[j])
                : Result<bool>(tl::unexpected(
                      Error(ErrorCode::kInternal, ErrorReason::kUnspecified,
                            "backend answered fewer puts than asked")));
        std::optional<Result<Readback>> rb;
        if (verify && put && *put) {
          rb = j < reads.size()
                   ? compare(reads[j], artifacts[i].content)
                   : Result<Readback>(tl::unexpected(
                         Error(ErrorCode::kInternal, ErrorReason::kUnspecified,
                               "backend answered fewer gets than asked")));
        }
        settle(artifacts[i], put, rb ? &*rb : nullptr, backend,
               report.artifacts[i]);
        progress.done(report.artifacts[i]);
      }
    }
  } else {
    // Artifacts sharing (type, key) go to the same worker, which handles
    // its share in input order: the last of them wins under kOverwrite,
    // the first under kSkipExisting, exactly as in a serial run.
    unsigned n = static_cast<unsigned>(std::min<size_t>(
        options.threads, std::max<size_t>(1, artifacts.size())));
    std::vector<std::vector<size_t>> shares(n);
    for (size_t i = 0; i < artifacts.size(); ++i) {
      size_t h = std::hash<std::string>{}(artifacts[i].type) * 31 +
                 std::hash<std::string>{}(artifacts[i].key);
      shares[h % n].push_back(i);
    }
    auto worker = [&](const std::vector<size_t>& share) {
      for (size_t i : share) write_one(i);
    };
    std::vector<std::thread> pool;
    for (const auto& share : shares) {
      pool.emplace_back(worker, std::cref(share));
    }
    for (auto& t : pool) t.join();
  }

  for (const auto& r : report.artifacts) {
    TypeSummary& t = report.by_type[r.type];
    switch (r.outcome) {
      case PopulateOutcome::kStored:
        ++t.stored;
        t.bytes_stored += r.bytes;
        report.info.add(r.type, r.key);
        break;
      case PopulateOutcome::kSkipped:
        ++t.skipped;
        report.info.add(r.type, r.key);
        break;
      case PopulateOutcome::kFailed:
        ++t.failed;
        break;
    }
  }
  return report;
}

Result<std::vector<Artifact>> export_artifacts(Backend& backend,
                                               const ExportSelection& selection,
                                               Deadline deadline) {
  std::vector<std::string> namespaces = selection.namespaces;
  if (namespaces.empty() && selection.keys.empty()) {
    auto all = backend.namespaces(deadline);
    if (!all) return tl::unexpected(all.error());
    namespaces = std::move(*all);
  }
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()),
                   namespaces.end());
  MultiValued* multi = dynamic_cast<MultiValued*>(&backend);
  std::vector<Artifact> out;
  for (const auto& ns : namespaces) {
    auto keys = backend.list(ns, deadline);
    if (!keys) return tl::unexpected(keys.error());
    std::sort(keys->begin(), keys->end());
    if (multi != nullptr && multi->multi_valued(ns)) {
      for (const auto& key : *keys) {
        auto values = multi->get_all(ns, key, deadline);
        if (!values) return tl::unexpected(values.error());
        for (auto& v : *values) out.push_back(Artifact{ns, key, std::move(v)});
      }
      continue;
    }
    for (size_t begin = 0; begin < keys->size(); begin += kBatch) {
      size_t end = std::min(keys->size(), begin + kBatch);
      std::vector<KeyRef> refs;
      for (size_t i = begin; i < end; ++i) refs.push_back({ns, (*keys)[i]});
      auto got = backend.get_many(refs, deadline);
      for (size_t i = begin; i < end; ++i) {
        auto& r = got.at(i - begin);
        if (!r) return tl::unexpected(r.error());
        if (!*r) continue;  // Removed since list().
        out.push_back(Artifact{ns, (*keys)[i], std::move(**r)});
      }
    }
  }
  std::set<std::string_view> whole(namespaces.begin(), namespaces.end());
  for (const auto& k : selection.keys) {
    if (whole.contains(k.ns)) continue;  // Already exported.
    auto r = backend.get(k.ns, k.key, deadline);
    if (!r) return tl::unexpected(r.error());
    if (!*r) {
      return make_error(
          ErrorCode::kNotFound,
          "export: no " + std::string(k.ns) + " entry under key",
          ErrorLocation{.file = backend.url(), .key = std::string(k.key)});
    }
    out.push_back(
        Artifact{std::string(k.ns), std::string(k.key), std::move(**r)});
  }
  return out;
}

}  // namespace cachepack
