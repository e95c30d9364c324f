"""docs/REMOTE.md's "ship a warm cache to production", executed: the build
machine signs the cold run's artifacts and pushes them to a real
redis-server; the fleet machine pulls with the trusted public key, populates
an empty PyTorch cache dir, and its first call hits every graph."""

from __future__ import annotations

import pytest

from torchsuite.catalog import MODELS, warm_start_problems
from torchsuite.lab import Lab

pytestmark = [pytest.mark.jobs("ship"), pytest.mark.parametrize("model", ["mlp"])]


def test_pull_rebuilds_the_signed_bundle_byte_for_byte(lab: Lab, model: str) -> None:
    shipped = lab.ship(model)
    assert shipped.pulled.read_bytes() == shipped.bundle.read_bytes()
    assert shipped.push["signatures"] == 1
    assert shipped.pull["trusted_signatures"] == 1
    assert shipped.pull["blobs_fetched"] == shipped.push["blobs"] > 0


def test_a_second_pull_fetches_nothing(lab: Lab, model: str) -> None:
    again = lab.ship(model).pull_again
    assert again["blobs_fetched"] == 0
    assert again["bytes_fetched"] == 0
    assert again["blobs_from_out"] == again["blobs"]


def test_populate_of_the_pulled_bundle_writes_every_artifact(lab: Lab, model: str) -> None:
    summary = lab.ship(model).summary
    assert summary.ok
    counts = {t: c.stored + c.superseded for t, c in summary.by_type.items()}
    assert counts == MODELS[model].blob_types


def test_first_call_on_the_fleet_machine_hits_every_graph(lab: Lab, model: str) -> None:
    run = lab.ship(model).report["run"]
    assert warm_start_problems(MODELS[model], run["counters"]) == []
    assert run["outputs"] == lab.cold(model).report["run"]["outputs"]
