"""A signed bundle populated into an empty PyTorch cache dir warms a fresh
process: every graph hits, nothing is loaded through Python, and the
outputs are the cold run's, bit for bit."""

from __future__ import annotations

import pytest

from torchsuite import tree
from torchsuite.catalog import MODEL_NAMES, MODELS, warm_start_problems
from torchsuite.lab import Lab

pytestmark = pytest.mark.jobs("warm_dir")
each_model = pytest.mark.parametrize("model", MODEL_NAMES)


@each_model
def test_populate_of_the_signed_bundle_writes_every_artifact(lab: Lab, model: str) -> None:
    run = lab.warm_dir(model)
    summary = run.summary
    assert run.populate.returncode == 0
    assert summary.ok
    assert summary.failed == 0
    assert summary.url == run.url
    # Of one (type, key) saved twice (the dynamic model's PGO profile) only
    # the newest is written, as PyTorch's own populate leaves it on disk.
    counts = {t: c.stored + c.superseded for t, c in summary.by_type.items()}
    assert counts == MODELS[model].blob_types
    assert all(c.skipped == c.superseded and c.failed == 0 for c in summary.by_type.values())


@each_model
@pytest.mark.jobs("load_original")
def test_populated_dir_holds_exactly_the_files_torch_load_writes(lab: Lab, model: str) -> None:
    by_torch = lab.load_original(model)
    assert tree.without_locks(lab.warm_dir(model).files) == tree.without_locks(
        by_torch.report["load"]["files"]
    )


@each_model
def test_warm_start_from_populated_dir_hits_every_graph(lab: Lab, model: str) -> None:
    run = lab.warm_dir(model)
    assert "load" not in run.report  # Nothing went through load_cache_artifacts().
    assert warm_start_problems(MODELS[model], run.report["run"]["counters"]) == []


@each_model
def test_warm_start_from_populated_dir_reproduces_the_cold_outputs_bit_for_bit(
    lab: Lab, model: str
) -> None:
    cold = lab.cold(model)
    assert lab.warm_dir(model).report["run"]["outputs"] == cold.report["run"]["outputs"]


WARM_STARTS = ("round_trip", "warm_dir", "export_blob", "export_bundle")


@pytest.mark.jobs(*WARM_STARTS)
@pytest.mark.parametrize("start", WARM_STARTS)
@pytest.mark.parametrize("model", ["dynamic"])
def test_every_warm_start_loads_the_pgo_profile(lab: Lab, model: str, start: str) -> None:
    cold = lab.cold(model)
    run = getattr(lab, start)(model).report["run"]
    assert not cold.report["run"]["pgo_profile_loaded"]
    assert run["pgo_profile_loaded"]  # torch._dynamo.pgo._INIT_CODE_STATE is set.
    log = run["pgo_log"]
    assert any("get_code_state" in line and "hit local" in line for line in log), log
    # With the profile the first call compiles the dynamic graph at once.
    assert cold.report["run"]["counters"]["stats"]["unique_graphs"] == 2
    assert run["counters"]["stats"]["unique_graphs"] == 1
    assert run["counters"]["frames"]["total"] == 1
