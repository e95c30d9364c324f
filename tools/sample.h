// A deterministic sample compile cache: artifacts of the five types torch
// 2.13 writes (docs/PYTORCH.md), shaped like the real ones (keys in
// PyTorch's forms, pickle-like and JSON contents), for the README's
// end-to-end run, tests and benchmarks.
#ifndef CACHEPACK_TOOLS_SAMPLE_H_
#define CACHEPACK_TOOLS_SAMPLE_H_

#include <cstdint>
#include <vector>

#include "cachepack/artifact.h"

namespace cachepack {

// `graphs` compiled graphs' worth of artifacts; same seed, same bytes.
std::vector<Artifact> sample_artifacts(int graphs = 4, uint64_t seed = 1);

}  // namespace cachepack

#endif  // CACHEPACK_TOOLS_SAMPLE_H_
