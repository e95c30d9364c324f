#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

#include "tools/inputs.h"

namespace cachepack::cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string duration_text(double seconds) {
  auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600)
    return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

}  // namespace

bool ProgressFlags::shown() const {
  return forced || (!quiet && ::isatty(STDERR_FILENO) == 1);
}

void add_progress_flags(CLI::App* cmd, ProgressFlags& flags) {
  cmd->add_flag("--quiet", flags.quiet,
                "Print only failures: no summary, no progress line");
  cmd->add_flag("--progress", flags.forced,
                "Show the progress line on stderr even when it is not a "
                "terminal (it is shown on a terminal unless --quiet)");
}

ProgressLine::ProgressLine(std::string label, bool shown)
    : label_(std::move(label)), shown_(shown) {}

ProgressLine::~ProgressLine() {
  if (!shown_) return;
  std::lock_guard lock(mutex_);
  if (!drawn_) return;
  draw();
  std::fputc('\n', stderr);
}

void ProgressLine::set_total(uint64_t artifacts, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  total_artifacts_ = artifacts;
  total_bytes_ = bytes;
}

void ProgressLine::add_to_total(const ArtifactSource& source) {
  std::lock_guard lock(mutex_);
  total_artifacts_ += source.size();
  for (size_t i = 0; i < source.size(); ++i) total_bytes_ += source.at(i).size;
}

void ProgressLine::update(uint64_t artifacts, uint64_t bytes) {
  if (!shown_) return;
  std::lock_guard lock(mutex_);
  artifacts_ = artifacts;
  bytes_ = bytes;
  bool complete = total_artifacts_ != 0 && artifacts >= total_artifacts_;
  Clock::time_point now = Clock::now();
  if (!complete && drawn_ && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  draw();
}

void ProgressLine::draw() {
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string line = label_ + ": " + std::to_string(artifacts_);
  if (total_artifacts_ != 0) line += "/" + std::to_string(total_artifacts_);
  line += " artifacts, " + human(bytes_);
  if (total_bytes_ != 0) line += " of " + human(total_bytes_);
  if (elapsed > 0) {
    double rate = static_cast<double>(bytes_) / elapsed;
    line += ", " + human(static_cast<uint64_t>(rate)) + "/s";
    if (total_bytes_ > bytes_ && rate > 0) {
      line += ", ETA " +
              duration_text(static_cast<double>(total_bytes_ - bytes_) / rate);
    }
  }
  // Back to the line's start, the new text, then clear what a longer
  // earlier text left.
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace cachepack::cli
