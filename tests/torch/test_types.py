"""torch 2.13 has no memory-only artifact type: each of its types has a
place in the cache directory, and cachepack writes every artifact there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from torchsuite.cachepack import Cachepack, parse_populate
from torchsuite.catalog import MODEL_NAMES, MODELS, TORCH_TYPES
from torchsuite.lab import Lab


def test_torch_registers_exactly_the_five_types_that_live_in_its_cache_dir(
    torch_probe: dict[str, Any],
) -> None:
    assert torch_probe["torch"].startswith("2.13.")
    assert torch_probe["registered_types"] == sorted(TORCH_TYPES)


@pytest.mark.jobs("cold")
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_populate_places_every_artifact_of_the_cold_blob_in_a_torch_dir(
    lab: Lab, cachepack: Cachepack, tmp_path: Path, model: str
) -> None:
    # --strict-types: an artifact of a type with no place in the directory
    # (a memory-only type) would fail instead of being skipped.
    cold = lab.cold(model)
    step = cachepack.run("populate", cold.blob, f"torch://{tmp_path}", "--strict-types")
    assert step.returncode == 0, step.describe()
    summary = parse_populate(step.stdout)
    assert summary.failed == 0
    # Only a key saved twice (dynamic's PGO profile) is skipped: the older one.
    assert {t: c.stored + c.superseded for t, c in summary.by_type.items()} == MODELS[
        model
    ].blob_types
    assert summary.skipped == sum(c.superseded for c in summary.by_type.values())
