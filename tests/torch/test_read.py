"""Reading real blobs: cachepack sees what PyTorch's own deserializer sees."""

from __future__ import annotations

from collections import Counter

import pytest

from torchsuite.blobs import Listed
from torchsuite.cachepack import Cachepack
from torchsuite.catalog import MODEL_NAMES, MODELS, cold_run_problems
from torchsuite.lab import Lab

pytestmark = [pytest.mark.jobs("cold"), pytest.mark.parametrize("model", MODEL_NAMES)]


def test_cold_run_compiles_every_graph_from_empty_dirs(lab: Lab, model: str) -> None:
    run = lab.cold(model)
    assert run.report["files_before"] == 0
    assert cold_run_problems(MODELS[model], run.report["run"]["counters"]) == []


def test_cold_blob_holds_the_types_the_model_produces(lab: Lab, model: str) -> None:
    run = lab.cold(model)
    counts = Counter(a["type"] for a in run.report["save"]["torch_groups"])
    assert dict(counts) == MODELS[model].blob_types
    assert list(counts) == list(MODELS[model].blob_types)  # Group order = record order.


def test_verify_accepts_every_cold_blob(lab: Lab, cachepack: Cachepack, model: str) -> None:
    step = cachepack.run("verify", lab.cold(model).blob)
    assert step.returncode == 0, step.describe()
    assert step.stdout.startswith("ok: ")


def test_ls_lists_every_group_as_torchs_deserializer_reads_it(
    lab: Lab, cachepack: Cachepack, model: str
) -> None:
    run = lab.cold(model)
    torch_groups = [Listed(**a) for a in run.report["save"]["torch_groups"]]
    assert cachepack.ls(run.blob) == torch_groups


def test_ls_equals_what_load_cache_artifacts_sees_in_a_single_save_blob(
    lab: Lab, cachepack: Cachepack, model: str
) -> None:
    # One save: each type in one group, so torch's dict() of the groups drops
    # nothing (with repeated groups it keeps only each type's last group).
    run = lab.cold(model)
    torch_view = [Listed(**a) for a in run.report["save"]["torch_view"]]
    assert cachepack.ls(run.blob) == torch_view
