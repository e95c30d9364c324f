"""blob -> bundle -> blob gives PyTorch back the same blob, which still warms."""

from __future__ import annotations

import pytest

from torchsuite.catalog import MODEL_NAMES, MODELS, warm_start_problems
from torchsuite.lab import Lab

pytestmark = pytest.mark.parametrize("model", MODEL_NAMES)


@pytest.mark.jobs("round_trip")
def test_blob_to_bundle_to_blob_is_byte_exact(lab: Lab, model: str) -> None:
    cold = lab.cold(model)
    assert lab.round_trip(model).rebuilt.read_bytes() == cold.blob.read_bytes()


@pytest.mark.jobs("round_trip", "load_original")
def test_torch_loads_the_rebuilt_blob_with_the_original_cache_info(lab: Lab, model: str) -> None:
    original = lab.load_original(model)
    rebuilt = lab.round_trip(model).report["load"]["cache_info"]
    assert rebuilt is not None, "load_cache_artifacts(rebuilt) returned None"
    # Same types in the same (populate) order, same keys per type.
    assert list(rebuilt.items()) == list(original.report["load"]["cache_info"].items())
    assert {t: len(keys) for t, keys in rebuilt.items()} == MODELS[model].blob_types


@pytest.mark.jobs("round_trip")
def test_compiling_after_loading_the_rebuilt_blob_hits_every_graph(lab: Lab, model: str) -> None:
    counters = lab.round_trip(model).report["run"]["counters"]
    assert warm_start_problems(MODELS[model], counters) == []


@pytest.mark.jobs("round_trip")
def test_compiling_after_loading_the_rebuilt_blob_reproduces_the_cold_outputs(
    lab: Lab, model: str
) -> None:
    cold = lab.cold(model)
    assert lab.round_trip(model).report["run"]["outputs"] == cold.report["run"]["outputs"]
