"""The suite's models and what torch 2.13 (CPU) does with each, cold and warm.

Imported by the parent (no torch here): the runner reads the environment a
model needs, the tests read what a cold run and a warm start must count.
Figures come from /work/scratch/torch-research/FINDINGS.md, sections 2-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Model:
    name: str
    # TORCH_COMPILE_JOB_ID: without a job id PyTorch neither writes nor reads
    # a PGO profile (pgo.get_cache_key() is None).
    job_id: str | None = None
    # torch._dynamo.config.caching_precompile: save_cache_artifacts() then
    # also writes a `precompile` entry, and torch.compile() loads it.
    caching_precompile: bool = False
    # Artifacts per type in the blob of a cold run (group order).
    blob_types: dict[str, int] = field(default_factory=dict)
    cold_fx_graphs: int = 1  # FX graphs compiled cold (fxgraph_cache_miss).
    cold_frames: int = 1  # Dynamo frames traced cold.
    # A warm start: FX graphs and AOTAutograd entries looked up (all must
    # hit), and Dynamo frames traced (0 when a precompile entry is loaded).
    warm_fx_graphs: int = 1
    warm_autograd: int = 1
    warm_frames: int = 1


PGO_JOB_ID = "cachepack-torch-suite"

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        # Inference MLP under no_grad: 1 FX graph + its AOTAutograd entry.
        Model("mlp", blob_types={"inductor": 1, "aot_autograd": 1}),
        # A convolution, relu + mean, and a linear layer.
        Model("conv", blob_types={"inductor": 1, "aot_autograd": 1}),
        # Batch sizes 2..6: cold compiles a static graph, then a dynamic one
        # and saves the PGO profile twice (same key, new content). A warm
        # start reads the profile and compiles only the dynamic graph.
        Model(
            "dynamic",
            job_id=PGO_JOB_ID,
            blob_types={"inductor": 2, "aot_autograd": 2, "pgo": 2},
            cold_fx_graphs=2,
            cold_frames=2,
        ),
        # Forward + backward + SGD step: forward and backward FX graphs under
        # one AOTAutograd entry.
        Model(
            "train",
            blob_types={"inductor": 2, "aot_autograd": 1},
            cold_fx_graphs=2,
            warm_fx_graphs=2,
        ),
        # The MLP with caching_precompile: the warm start loads the whole
        # compiled frame (graph inline) and traces nothing.
        Model(
            "precompile",
            caching_precompile=True,
            blob_types={"inductor": 1, "aot_autograd": 1, "precompile": 1},
            warm_fx_graphs=0,
            warm_autograd=0,
            warm_frames=0,
        ),
    )
}

MODEL_NAMES = tuple(MODELS)

# The artifact types torch 2.13 registers (CacheArtifactFactory), each with
# the place its populate_cache() writes under the cache dir.
TORCH_TYPES = ("inductor", "aot_autograd", "autotune", "pgo", "precompile")


def cold_run_problems(model: Model, counters: dict[str, dict[str, int]]) -> list[str]:
    """Why `counters` are not those of a cold compile of `model` (empty: they are)."""
    inductor = counters.get("inductor", {})
    autograd = counters.get("aot_autograd", {})
    problems = []
    if inductor.get("fxgraph_cache_miss", 0) != model.cold_fx_graphs:
        problems.append(
            f"fxgraph_cache_miss {inductor.get('fxgraph_cache_miss', 0)} "
            f"!= {model.cold_fx_graphs} graphs"
        )
    for group, name in (
        ("inductor", "fxgraph_cache_hit"),
        ("aot_autograd", "autograd_cache_hit"),
        ("dynamo_cache", "dynamo_cache_hit"),
    ):
        if counters.get(group, {}).get(name, 0):
            problems.append(f"{group}.{name} = {counters[group][name]} in a cold run")
    if autograd.get("autograd_cache_miss", 0) < 1:
        problems.append("no aot_autograd.autograd_cache_miss in a cold run")
    frames = counters.get("frames", {}).get("total", 0)
    if frames != model.cold_frames:
        problems.append(f"frames.total {frames} != {model.cold_frames}")
    return problems


def warm_start_problems(model: Model, counters: dict[str, dict[str, int]]) -> list[str]:
    """Why `counters` do not show a warm start of `model` that hit everything."""
    inductor = counters.get("inductor", {})
    autograd = counters.get("aot_autograd", {})
    dynamo_cache = counters.get("dynamo_cache", {})
    problems = []
    for group, name in (
        ("inductor", "fxgraph_cache_miss"),
        ("aot_autograd", "autograd_cache_miss"),
        ("dynamo_cache", "dynamo_cache_miss"),
    ):
        if counters.get(group, {}).get(name, 0):
            problems.append(f"{group}.{name} = {counters[group][name]}")
    if inductor.get("fxgraph_cache_hit", 0) != model.warm_fx_graphs:
        problems.append(
            f"inductor.fxgraph_cache_hit {inductor.get('fxgraph_cache_hit', 0)} "
            f"!= {model.warm_fx_graphs}"
        )
    if autograd.get("autograd_cache_hit", 0) != model.warm_autograd:
        problems.append(
            f"aot_autograd.autograd_cache_hit {autograd.get('autograd_cache_hit', 0)} "
            f"!= {model.warm_autograd}"
        )
    want_precompile_hits = 1 if model.caching_precompile else 0
    if dynamo_cache.get("dynamo_cache_hit", 0) != want_precompile_hits:
        problems.append(
            f"dynamo_cache.dynamo_cache_hit {dynamo_cache.get('dynamo_cache_hit', 0)} "
            f"!= {want_precompile_hits}"
        )
    frames = counters.get("frames", {}).get("total", 0)
    if frames != model.warm_frames:
        problems.append(f"frames.total {frames} != {model.warm_frames}")
    return problems
