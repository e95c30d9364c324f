#include "cachepack/populate.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <ranges>
#include <set>
#include <thread>
#include <unordered_map>

#include "backends/multi_value.h"
#include "cachepack/artifact_types.h"
#include "cachepack/hash.h"
#include "util/text.h"

namespace cachepack {
namespace {

constexpr size_t kBatch = 64;  // Requests per put_many/get_many round trip.
// What one batch may hold in memory, and the size above which an artifact
// is streamed alone rather than batched.
constexpr uint64_t kBatchBytes = uint64_t{32} << 20;
constexpr uint64_t kStreamAbove = uint64_t{4} << 20;

PutMode mode_for(PopulatePolicy policy) {
  return policy == PopulatePolicy::kSkipExisting ? PutMode::kInsertIfAbsent
                                                 : PutMode::kOverwrite;
}

Error artifact_error(ErrorCode code, const SourceArtifact& a, std::string msg,
                     const std::string& url) {
  return Error(code, ErrorReason::kUnspecified,
               a.type + " artifact: " + std::move(msg),
               ErrorLocation{.url = url, .key = a.key});
}

Error out_of_memory(const SourceArtifact& a, const std::string& url) {
  return Error(ErrorCode::kResourceExhausted, ErrorReason::kLimitExceeded,
               a.type + " artifact: out of memory writing " +
                   std::to_string(a.size) + " bytes",
               ErrorLocation{.url = url, .key = a.key});
}

// Passes a source through, hashing it, for verify's read-back.
class HashingSource final : public ContentSource {
 public:
  explicit HashingSource(ContentSource& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  std::optional<Sha256Digest> known_sha256() const override {
    return inner_.known_sha256();
  }
  Result<ByteSpan> next() override {
    auto piece = inner_.next();
    if (piece && !piece->empty()) hash_.update(*piece);
    if (piece && piece->empty() && !digest_) digest_ = hash_.finish();
    return piece;
  }
  // Set once the whole content went through.
  const std::optional<Sha256Digest>& digest() const { return digest_; }

 private:
  ContentSource& inner_;
  Sha256 hash_;
  std::optional<Sha256Digest> digest_;
};

Result<Sha256Digest> digest_of(ContentSource& source) {
  Sha256 hash;
  while (true) {
    CP_ASSIGN_OR_RETURN(auto piece, source.next());
    if (piece.empty()) return hash.finish();
    hash.update(piece);
  }
}

// What reading an artifact back after writing it found.
enum class Readback { kMatch, kMissing, kDiffers };

Result<Readback> compare(const Result<std::optional<Bytes>>& read,
                         const Sha256Digest& want) {
  CP_TRY(read);
  if (!*read) return Readback::kMissing;
  return sha256(**read) == want ? Readback::kMatch : Readback::kDiffers;
}

// A multi-valued key matches when any of its values is the content.
Result<Readback> compare(const Result<std::vector<Bytes>>& read,
                         const Sha256Digest& want) {
  CP_TRY(read);
  if (read->empty()) return Readback::kMissing;
  for (const auto& v : *read) {
    if (sha256(v) == want) return Readback::kMatch;
  }
  return Readback::kDiffers;
}

// Turns a write result (and, under kVerify, the read-back) into an outcome.
void settle(const SourceArtifact& a, const Result<bool>& put,
            const Result<Readback>* readback, const PopulateOptions& options,
            Backend& backend, ArtifactResult& out) {
  if (!put) {
    if (put.error().code() == ErrorCode::kUnimplemented &&
        !options.strict_types) {
      out.outcome = PopulateOutcome::kSkipped;
      out.skip_reason = SkipReason::kUnsupported;
      out.note = put.error().message();
      return;
    }
    out.outcome = PopulateOutcome::kFailed;
    out.error = put.error();
    return;
  }
  if (!*put) {
    out.outcome = PopulateOutcome::kSkipped;
    out.skip_reason = SkipReason::kExists;
    return;
  }
  out.outcome = PopulateOutcome::kStored;
  if (readback == nullptr) return;
  if (!*readback) {
    out.outcome = PopulateOutcome::kFailed;
    out.error = readback->error();
  } else if (**readback == Readback::kMissing) {
    // Not corruption: a size-limited backend (mem://, Redis with
    // maxmemory) evicted it, or another writer removed it.
    out.outcome = PopulateOutcome::kFailed;
    out.error = artifact_error(
        ErrorCode::kResourceExhausted, a,
        "verify: gone right after it was stored (evicted by the backend's "
        "size limit, or removed by another writer)",
        backend.url());
  } else if (**readback == Readback::kDiffers) {
    out.outcome = PopulateOutcome::kFailed;
    out.error = artifact_error(ErrorCode::kDataLoss, a,
                               "verify: the " + std::to_string(a.size) +
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

// Writes the artifacts of one populate() call.
class Populator {
 public:
  Populator(const ArtifactSource& source, Backend& backend,
            const PopulateOptions& options, PopulateReport& report)
      : source_(source),
        backend_(backend),
        options_(options),
        report_(report),
        progress_(options, source.size()),
        mode_(mode_for(options.policy)),
        verify_(options.policy == PopulatePolicy::kVerify),
        multi_(dynamic_cast<MultiValued*>(&backend)) {}

  // Keys that hold several values (PyTorch's FX-graph and AOTAutograd
  // directories) get PyTorch's own semantics: this content is added next
  // to the others, and "existing" means this very content.
  bool is_multi(size_t i) const {
    return multi_ != nullptr && multi_->multi_valued(source_.at(i).type);
  }

  // Marks every single-valued artifact that a later one with the same
  // (type, key) replaces; returns the ones left to write.
  std::vector<size_t> newest_only() {
    std::unordered_map<std::string, size_t> last;
    auto id = [&](size_t i) {
      const auto& a = source_.at(i);
      return std::to_string(a.type.size()) + ":" + a.type + a.key;
    };
    for (size_t i = 0; i < source_.size(); ++i) {
      if (!is_multi(i)) last[id(i)] = i;
    }
    std::vector<size_t> todo;
    for (size_t i = 0; i < source_.size(); ++i) {
      if (is_multi(i) || last[id(i)] == i) {
        todo.push_back(i);
        continue;
      }
      ArtifactResult& r = report_.artifacts[i];
      r.outcome = PopulateOutcome::kSkipped;
      r.skip_reason = SkipReason::kSuperseded;
      r.note = "superseded by the artifact at position " +
               std::to_string(last[id(i)]) + " with the same key";
      progress_.done(r);
    }
    // PyTorch loads triton_runtime before every other type: graphs may
    // launch its kernels while they load.
    std::stable_partition(todo.begin(), todo.end(), [&](size_t i) {
      return source_.at(i).type == kTritonRuntime;
    });
    return todo;
  }

  // One artifact, streamed.
  void write_one(size_t i) {
    const SourceArtifact& a = source_.at(i);
    ArtifactResult& out = report_.artifacts[i];
    auto content = source_.open(i);
    if (!content) {
      settle(a, tl::unexpected(content.error()), nullptr, options_, backend_,
             out);
      progress_.done(out);
      return;
    }
    HashingSource hashed(**content);
    Result<bool> put = false;
    try {
      put = is_multi(i) ? multi_->add_stream(a.type, a.key, hashed, mode_,
                                             options_.deadline)
                        : backend_.put_stream(a.type, a.key, hashed, mode_,
                                              options_.deadline);
    } catch (const std::bad_alloc&) {
      put = tl::unexpected(out_of_memory(a, backend_.url()));
    }
    std::optional<Result<Readback>> rb;
    if (verify_ && put && *put) rb = read_back(i, hashed.digest());
    settle(a, put, rb ? &*rb : nullptr, options_, backend_, out);
    progress_.done(out);
  }

  // Small artifacts in order, batched through put_many (remote backends
  // pipeline them); large and multi-valued ones streamed alone.
  void write_batched(const std::vector<size_t>& todo) {
    std::vector<size_t> batch;
    std::vector<Bytes> held;  // Contents that had to be read into memory.
    std::vector<ByteSpan> contents;
    uint64_t batch_bytes = 0;
    for (size_t i : todo) {
      const SourceArtifact& a = source_.at(i);
      if (is_multi(i) || a.size > kStreamAbove) {
        flush(batch, contents, held, batch_bytes);
        write_one(i);
        continue;
      }
      if (auto view = source_.view(i)) {
        contents.push_back(*view);
      } else {
        Result<Bytes> content = read_content(i);
        if (!content) {
          settle(a, tl::unexpected(content.error()), nullptr, options_,
                 backend_, report_.artifacts[i]);
          progress_.done(report_.artifacts[i]);
          continue;
        }
        held.push_back(std::move(*content));
        contents.push_back(held.back());
      }
      batch.push_back(i);
      batch_bytes += a.size;
      if (batch.size() == kBatch || batch_bytes >= kBatchBytes) {
        flush(batch, contents, held, batch_bytes);
      }
    }
    flush(batch, contents, held, batch_bytes);
  }

 private:
  Result<Bytes> read_content(size_t i) {
    CP_ASSIGN_OR_RETURN(auto content, source_.open(i));
    return read_all(*content, source_.at(i).type + " artifact");
  }

  Result<Readback> read_back(size_t i,
                             const std::optional<Sha256Digest>& streamed) {
    Sha256Digest want{};
    if (streamed) {
      want = *streamed;
    } else {  // The backend did not read it all (it cannot have stored it).
      CP_ASSIGN_OR_RETURN(auto again, source_.open(i));
      CP_ASSIGN_OR_RETURN(auto d, digest_of(*again));
      want = d;
    }
    const SourceArtifact& a = source_.at(i);
    return is_multi(i)
               ? compare(multi_->get_all(a.type, a.key, options_.deadline),
                         want)
               : compare(backend_.get(a.type, a.key, options_.deadline), want);
  }

  void flush(std::vector<size_t>& batch, std::vector<ByteSpan>& contents,
             std::vector<Bytes>& held, uint64_t& batch_bytes) {
    if (batch.empty()) return;
    std::vector<PutRequest> puts;
    for (size_t j = 0; j < batch.size(); ++j) {
      puts.push_back(
          {source_.at(batch[j]).type, source_.at(batch[j]).key, contents[j]});
    }
    auto put_results = backend_.put_many(puts, mode_, options_.deadline);
    std::vector<Result<std::optional<Bytes>>> reads;
    if (verify_) {
      std::vector<KeyRef> refs;
      for (const auto& p : puts) refs.push_back({p.ns, p.key});
      reads = backend_.get_many(refs, options_.deadline);
    }
    auto internal = [](std::string what) {
      return tl::unexpected(Error(ErrorCode::kInternal,
                                  ErrorReason::kUnspecified, std::move(what)));
    };
    for (size_t j = 0; j < batch.size(); ++j) {
      size_t i = batch[j];
      Result<bool> put = j < put_results.size()
                             ? std::move(put_results[j])
                             : Result<bool>(internal(
                                   "backend answered fewer puts than asked"));
      std::optional<Result<Readback>> rb;
      if (verify_ && put && *put) {
        rb = j < reads.size() ? compare(reads[j], sha256(contents[j]))
                              : Result<Readback>(internal(
                                    "backend answered fewer gets than asked"));
      }
      settle(source_.at(i), put, rb ? &*rb : nullptr, options_, backend_,
             report_.artifacts[i]);
      progress_.done(report_.artifacts[i]);
    }
    batch.clear();
    contents.clear();
    held.clear();
    batch_bytes = 0;
  }

  const ArtifactSource& source_;
  Backend& backend_;
  const PopulateOptions& options_;
  PopulateReport& report_;
  ProgressReporter progress_;
  const PutMode mode_;
  const bool verify_;
  MultiValued* const multi_;
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
  ViewArtifactSource source(artifacts);
  return populate(source, backend, options);
}

Result<PopulateReport> populate(const ArtifactSource& source, Backend& backend,
                                const PopulateOptions& options) {
  if (options.threads == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "populate needs at least one thread");
  }
  if (options.precheck) {
    CP_TRY(options.precheck());
  }
  PopulateReport report;
  report.artifacts.resize(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    const SourceArtifact& a = source.at(i);
    report.artifacts[i].type = a.type;
    report.artifacts[i].key = a.key;
    report.artifacts[i].bytes = a.size;
  }
  Populator populator(source, backend, options, report);
  std::vector<size_t> todo = populator.newest_only();
  if (options.threads == 1) {
    populator.write_batched(todo);
  } else {
    // Artifacts sharing (type, key) go to the same worker, which handles
    // its share in input order, exactly as in a serial run.
    unsigned n = static_cast<unsigned>(
        std::min<size_t>(options.threads, std::max<size_t>(1, todo.size())));
    std::vector<std::vector<size_t>> shares(n);
    for (size_t i : todo) {
      size_t h = std::hash<std::string>{}(source.at(i).type) * 31 +
                 std::hash<std::string>{}(source.at(i).key);
      shares[h % n].push_back(i);
    }
    auto worker = [&](const std::vector<size_t>& share) {
      for (size_t i : share) populator.write_one(i);
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
        if (r.skip_reason == SkipReason::kExists)
          report.info.add(r.type, r.key);
        if (r.skip_reason == SkipReason::kSuperseded) ++t.superseded;
        if (r.skip_reason == SkipReason::kUnsupported) ++t.unsupported;
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
    CP_ASSIGN_OR_RETURN(auto all, backend.namespaces(deadline));
    namespaces = std::move(all);
  }
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()),
                   namespaces.end());
  MultiValued* multi = dynamic_cast<MultiValued*>(&backend);
  std::vector<Artifact> out;
  for (const auto& ns : namespaces) {
    CP_ASSIGN_OR_RETURN(auto keys, backend.list(ns, deadline));
    std::sort(keys.begin(), keys.end());
    if (multi != nullptr && multi->multi_valued(ns)) {
      for (const auto& key : keys) {
        CP_ASSIGN_OR_RETURN(auto values, multi->get_all(ns, key, deadline));
        for (auto& v : values) out.push_back(Artifact{ns, key, std::move(v)});
      }
      continue;
    }
    for (size_t begin = 0; begin < keys.size(); begin += kBatch) {
      size_t end = std::min(keys.size(), begin + kBatch);
      std::vector<KeyRef> refs;
      for (size_t i = begin; i < end; ++i) refs.push_back({ns, keys[i]});
      auto got = backend.get_many(refs, deadline);
      for (size_t i = begin; i < end; ++i) {
        auto& r = got.at(i - begin);
        CP_TRY(r);
        if (!*r) continue;  // Removed since list().
        out.push_back(Artifact{ns, keys[i], std::move(**r)});
      }
    }
  }
  std::set<std::string_view> whole(namespaces.begin(), namespaces.end());
  for (const auto& k : selection.keys) {
    if (whole.contains(k.ns)) continue;  // Already exported.
    CP_ASSIGN_OR_RETURN(auto r, backend.get(k.ns, k.key, deadline));
    if (!r) {
      return make_error(
          ErrorCode::kNotFound,
          "export: no " + std::string(k.ns) + " entry under key",
          ErrorLocation{.url = backend.url(), .key = std::string(k.key)});
    }
    out.push_back(
        Artifact{std::string(k.ns), std::string(k.key), std::move(*r)});
  }
  return out;
}

}  // namespace cachepack
