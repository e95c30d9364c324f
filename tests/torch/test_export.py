"""A cache dir PyTorch filled itself (the cold run's), packed by cachepack,
warms fresh processes both ways: as a blob through load_cache_artifacts()
and as a bundle populated into an empty dir."""

from __future__ import annotations

import re

import pytest

from torchsuite.blobs import Listed
from torchsuite.catalog import MODEL_NAMES, MODELS, warm_start_problems
from torchsuite.lab import Lab

pytestmark = pytest.mark.parametrize("model", MODEL_NAMES)


def on_disk(listed: list[Listed]) -> set[Listed]:
    """What a PyTorch cache dir keeps of these artifacts: the newest content
    of a single-file key, and PGO keys in their file-name form (PyTorch
    writes `code_state_<key with <>:"/\\|?* as _>.pkl` and keeps no other)."""
    newest: dict[tuple[str, str], Listed] = {}
    kept: set[Listed] = set()
    for a in listed:
        if a.type in ("inductor", "aot_autograd"):  # One file per content.
            kept.add(a)
            continue
        key = re.sub(r'[<>:"/\\|?*]', "_", a.key) if a.type == "pgo" else a.key
        newest[(a.type, key)] = Listed(a.type, key, a.size, a.sha256)
    return kept | set(newest.values())


@pytest.mark.jobs("export_blob")
def test_pack_of_the_cold_dir_holds_the_cold_blobs_artifacts(lab: Lab, model: str) -> None:
    cold = lab.cold(model)
    in_blob = [Listed(**a) for a in cold.report["save"]["torch_groups"]]
    assert set(lab.export_blob(model).listed) == on_disk(in_blob)


@pytest.mark.jobs("export_blob")
def test_loading_the_blob_packed_from_the_cold_dir_hits_every_graph(lab: Lab, model: str) -> None:
    report = lab.export_blob(model).report
    assert report["load"]["cache_info"] is not None
    assert warm_start_problems(MODELS[model], report["run"]["counters"]) == []


@pytest.mark.jobs("export_bundle")
def test_populating_the_bundle_packed_from_the_cold_dir_hits_every_graph(
    lab: Lab, model: str
) -> None:
    run = lab.export_bundle(model)
    assert run.populate is not None
    assert run.populate.returncode == 0
    assert warm_start_problems(MODELS[model], run.report["run"]["counters"]) == []


@pytest.mark.jobs("export_blob", "export_bundle")
def test_warm_starts_from_the_exported_dir_reproduce_the_cold_outputs(lab: Lab, model: str) -> None:
    cold = lab.cold(model)
    for run in (lab.export_blob(model), lab.export_bundle(model)):
        assert run.report["run"]["outputs"] == cold.report["run"]["outputs"], run.packed.name
