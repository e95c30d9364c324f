#include "tools/sample.h"

#include <random>
#include <string>

#include "artifacts/pytorch_hash.h"
#include "cachepack/artifact_types.h"
#include "cachepack/hash.h"

namespace cachepack {
namespace {

// Pickle-like bytes: a protocol header, repeated opcodes and names, and some
// noise, so compression behaves as on real caches.
Bytes pickle_like(std::mt19937_64& rng, size_t size, std::string_view tag) {
  Bytes out = to_bytes("\x80\x04\x95");
  std::string names[] = {"torch._inductor",
                         "CompiledFxGraph",
                         "buf0",
                         "triton_poi_fused_add_0",
                         "cuda",
                         "stride",
                         std::string(tag)};
  while (out.size() < size) {
    if (rng() % 4 == 0) {
      out.push_back(static_cast<std::byte>(rng() & 0xff));
    } else {
      const std::string& n = names[rng() % std::size(names)];
      out.push_back(std::byte{0x8c});
      out.push_back(static_cast<std::byte>(n.size()));
      append_bytes(out, as_bytes(n));
    }
  }
  out.resize(size);
  return out;
}

}  // namespace

std::vector<Artifact> sample_artifacts(int graphs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Artifact> out;
  for (int g = 0; g < graphs; ++g) {
    std::string tag = "graph" + std::to_string(g);
    Bytes fx = pickle_like(rng, 4096 + rng() % 60000, tag);
    out.push_back({std::string(kInductor),
                   "f" + pytorch_sha256_hash(as_bytes(tag + "fx")),
                   std::move(fx)});
    Bytes aot = pickle_like(rng, 2048 + rng() % 20000, tag);
    out.push_back({std::string(kAotAutograd),
                   "a" + pytorch_sha256_hash(as_bytes(tag + "aot")),
                   std::move(aot)});
    for (int k = 0; k < 3; ++k) {
      std::string json =
          "{\"XBLOCK\": " + std::to_string(64 << (rng() % 4)) +
          ", \"num_warps\": " + std::to_string(1 << (rng() % 4)) +
          ", \"num_stages\": 1, \"configs_hash\": \"" +
          sha256_hex(as_bytes(tag + std::to_string(k))) +
          "\", \"found_by_coordesc\": false, "
          "\"time_taken_ms\": " +
          std::to_string(rng() % 5000) + "}";
      std::string key =
          sha256_hex(as_bytes(tag + "kernel" + std::to_string(k)));
      out.push_back(
          {std::string(kAutotune),
           key.substr(0, 2) + "/" + sha256_hex(as_bytes(key)) + ".best_config",
           to_bytes(json)});
    }
  }
  out.push_back(
      {std::string(kPgo), "job-sample:None:", pickle_like(rng, 512, "pgo")});
  out.push_back({std::string(kPrecompile),
                 sha256_hex(as_bytes("model.forward:12")),
                 pickle_like(rng, 3000, "precompile")});
  return out;
}

}  // namespace cachepack
