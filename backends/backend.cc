#include "cachepack/backend.h"

#include <algorithm>

namespace cachepack {

Clock::duration Deadline::remaining() const {
  if (is_never()) return std::chrono::hours(24 * 365);
  auto now = Clock::now();
  return at_ > now ? at_ - now : Clock::duration::zero();
}

namespace {

template <typename T>
Result<T> deadline_error(std::string_view op, const std::string& url) {
  return make_error(ErrorCode::kDeadlineExceeded,
                    std::string(op) + " on " + url +
                        ": deadline expired before the operation started");
}

}  // namespace

tl::unexpected<Error> Backend::backend_error(ErrorCode code,
                                             std::string_view op,
                                             std::string message,
                                             std::string_view key) const {
  ErrorLocation where{.url = url()};
  if (!key.empty()) where.key = std::string(key);
  return make_error(code, std::string(op) + ": " + std::move(message),
                    std::move(where));
}

std::vector<std::string> Backend::notices() const {
  std::lock_guard lock(notices_mutex_);
  return notices_;
}

void Backend::notice(std::string text) const {
  std::lock_guard lock(notices_mutex_);
  if (std::find(notices_.begin(), notices_.end(), text) == notices_.end()) {
    notices_.push_back(std::move(text));
  }
}

void Backend::add_time(Clock::time_point start) {
  counters_.nanos +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
          .count();
}

void Backend::count_get(const Result<std::optional<Bytes>>& r) {
  if (!r) {
    ++counters_.errors;
  } else if (*r) {
    ++counters_.hits;
    counters_.bytes_out += (*r)->size();
  } else {
    ++counters_.misses;
  }
}

void Backend::count_put(const Result<bool>& r, size_t bytes) {
  if (!r) {
    ++counters_.errors;
  } else if (*r) {
    ++counters_.puts;
    counters_.bytes_in += bytes;
  } else {
    ++counters_.puts_skipped;
  }
}

Result<std::optional<Bytes>> Backend::get(std::string_view ns,
                                          std::string_view key,
                                          Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<std::optional<Bytes>>("get", url());
  }
  auto start = Clock::now();
  auto r = do_get(ns, key, deadline);
  count_get(r);
  add_time(start);
  return r;
}

Result<bool> Backend::put(std::string_view ns, std::string_view key,
                          ByteSpan value, PutMode mode, Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<bool>("put", url());
  }
  auto start = Clock::now();
  auto r = do_put(ns, key, value, mode, deadline);
  count_put(r, value.size());
  add_time(start);
  return r;
}

Result<bool> Backend::put_stream(std::string_view ns, std::string_view key,
                                 ContentSource& source, PutMode mode,
                                 Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<bool>("put", url());
  }
  auto start = Clock::now();
  auto r = do_put_stream(ns, key, source, mode, deadline);
  count_put(r, static_cast<size_t>(source.size()));
  add_time(start);
  return r;
}

Result<bool> Backend::do_put_stream(std::string_view ns, std::string_view key,
                                    ContentSource& source, PutMode mode,
                                    Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto value,
                      with_key(read_all(source, std::string(ns) + " artifact"),
                               std::string(key)));
  return do_put(ns, key, value, mode, deadline);
}

Result<bool> Backend::contains(std::string_view ns, std::string_view key,
                               Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<bool>("contains", url());
  }
  auto start = Clock::now();
  auto r = do_contains(ns, key, deadline);
  if (!r) ++counters_.errors;
  add_time(start);
  return r;
}

Result<bool> Backend::remove(std::string_view ns, std::string_view key,
                             Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<bool>("remove", url());
  }
  auto start = Clock::now();
  auto r = do_remove(ns, key, deadline);
  if (!r) {
    ++counters_.errors;
  } else if (*r) {
    ++counters_.removes;
  }
  add_time(start);
  return r;
}

Result<std::vector<std::string>> Backend::list(std::string_view ns,
                                               Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<std::vector<std::string>>("list", url());
  }
  auto start = Clock::now();
  auto r = do_list(ns, deadline);
  if (!r) ++counters_.errors;
  add_time(start);
  return r;
}

Result<std::vector<std::string>> Backend::namespaces(Deadline deadline) {
  if (deadline.expired()) {
    ++counters_.errors;
    return deadline_error<std::vector<std::string>>("namespaces", url());
  }
  auto start = Clock::now();
  auto r = do_namespaces(deadline);
  if (!r) ++counters_.errors;
  add_time(start);
  return r;
}

std::vector<Result<std::optional<Bytes>>> Backend::get_many(
    std::span<const KeyRef> keys, Deadline deadline) {
  auto start = Clock::now();
  auto results = do_get_many(keys, deadline);
  for (const auto& r : results) count_get(r);
  add_time(start);
  return results;
}

std::vector<Result<bool>> Backend::put_many(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline) {
  auto start = Clock::now();
  auto results = do_put_many(requests, mode, deadline);
  for (size_t i = 0; i < results.size() && i < requests.size(); ++i) {
    count_put(results[i], requests[i].value.size());
  }
  add_time(start);
  return results;
}

Result<bool> Backend::do_contains(std::string_view ns, std::string_view key,
                                  Deadline deadline) {
  CP_ASSIGN_OR_RETURN(auto r, do_get(ns, key, deadline));
  return r.has_value();
}

std::vector<Result<std::optional<Bytes>>> Backend::do_get_many(
    std::span<const KeyRef> keys, Deadline deadline) {
  std::vector<Result<std::optional<Bytes>>> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    if (deadline.expired()) {
      out.push_back(deadline_error<std::optional<Bytes>>("get", url()));
    } else {
      out.push_back(do_get(k.ns, k.key, deadline));
    }
  }
  return out;
}

std::vector<Result<bool>> Backend::do_put_many(
    std::span<const PutRequest> requests, PutMode mode, Deadline deadline) {
  std::vector<Result<bool>> out;
  out.reserve(requests.size());
  for (const auto& r : requests) {
    if (deadline.expired()) {
      out.push_back(deadline_error<bool>("put", url()));
    } else {
      out.push_back(do_put(r.ns, r.key, r.value, mode, deadline));
    }
  }
  return out;
}

BackendStats Backend::stats() const {
  BackendStats s;
  s.hits = counters_.hits;
  s.misses = counters_.misses;
  s.puts = counters_.puts;
  s.puts_skipped = counters_.puts_skipped;
  s.removes = counters_.removes;
  s.bytes_in = counters_.bytes_in;
  s.bytes_out = counters_.bytes_out;
  s.errors = counters_.errors;
  s.time = std::chrono::nanoseconds(counters_.nanos.load());
  return s;
}

}  // namespace cachepack
