// A long command's progress on a terminal: one stderr line rewritten in
// place, such as "pack: 1200/4000 artifacts, 310.2 MiB of 1.0 GiB,
// 95.1 MiB/s, ETA 8s". Only on stderr, so stdout stays clean for pipes.
#ifndef CACHEPACK_TOOLS_PROGRESS_H_
#define CACHEPACK_TOOLS_PROGRESS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "cachepack/artifact_source.h"

namespace cachepack::cli {

// --quiet (no progress line, only failures and errors) and --progress (a
// progress line even when stderr is not a terminal, for logs).
struct ProgressFlags {
  bool quiet = false;
  bool forced = false;

  // Shown when forced, or when stderr is a terminal and not quiet.
  bool shown() const;
};

void add_progress_flags(CLI::App* cmd, ProgressFlags& flags);

class ProgressLine {
 public:
  ProgressLine(std::string label, bool shown);
  // Ends the line, if one was drawn, so later messages start on their own.
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // What the whole job holds, when known: the line then shows "of" and an
  // estimate of the time left. 0 = unknown.
  void set_total(uint64_t artifacts, uint64_t bytes);
  // Adds what `source` holds to the totals.
  void add_to_total(const ArtifactSource& source);
  // The work done so far; redraws at most ten times a second (and always
  // when the totals are reached). Safe from several threads.
  void update(uint64_t artifacts, uint64_t bytes);

 private:
  using Clock = std::chrono::steady_clock;
  void draw();

  const std::string label_;
  const bool shown_;
  const Clock::time_point start_ = Clock::now();
  std::mutex mutex_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
  uint64_t total_artifacts_ = 0, total_bytes_ = 0;
  uint64_t artifacts_ = 0, bytes_ = 0;
};

}  // namespace cachepack::cli

#endif  // CACHEPACK_TOOLS_PROGRESS_H_
