"""`redis://...?layout=pytorch` against PyTorch's own Redis remote caches
(docs/REMOTE.md): a fleet machine with an empty cache dir and PyTorch's
remote caches on starts warm from a Redis that cachepack populated, and what
PyTorch itself wrote to Redis packs into a bundle that warms a fresh cache dir.
Real torch 2.13, a real redis-server, the `redis` client from PyPI.

The build machine compiles with PyTorch's remote caches on (the fill run
below), not the suite's shared cold run: AOTAutograd's cache key pickles
torch._functorch.config, enable_remote_autograd_cache included, so a process
with TORCHINDUCTOR_AUTOGRAD_REMOTE_CACHE=1 looks up other AOTAutograd keys
than one without it (FX graph keys leave the remote-cache flags out). A
bundle for a fleet must come from a compile with the fleet's setting."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from torchsuite.cachepack import Cachepack, parse_populate
from torchsuite.catalog import MODELS, warm_start_problems
from torchsuite.redis_server import RedisServer
from torchsuite.runner import Runner

# The two models cover every type PyTorch has a CPU remote cache for: FX
# graphs, AOTAutograd entries and (dynamic, with a job id) the PGO profile.
MODELS_WITH_REMOTE = ("mlp", "dynamic")
each_model = pytest.mark.parametrize("model", MODELS_WITH_REMOTE)

CACHE_IDS = {
    "inductor": "fx-graph-v1",
    "aot_autograd": "autograd-experimental",
    "pgo": "dynamo-pgo",
}


@dataclass(frozen=True)
class Fill:
    """A build machine's compile with PyTorch's Redis caches on."""

    blob: Path  # Its Mega-Cache blob: what cachepack bundles.
    report: dict[str, Any]
    server: RedisServer  # The Redis PyTorch filled (running until the module ends).


@pytest.fixture(scope="module")
def fills() -> Iterator[dict[str, Fill]]:
    made: dict[str, Fill] = {}
    yield made
    for fill in made.values():
        fill.server.stop()


def fill_of(model: str, runner: Runner, fills: dict[str, Fill]) -> Fill:
    if model not in fills:
        run = runner.new_dir(model, "remote_redis_fill")
        server = RedisServer(run.root / "redis")
        blob = run.root / "cold.bin"
        args = ("run", "--model", model, "--save-blob", str(blob))
        try:
            report = runner.child(run, MODELS[model], *args, env=server.torch_env())
        except Exception:
            server.stop()
            raise
        fills[model] = Fill(blob, report, server)
    return fills[model]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


def test_torch_names_the_remote_keys_and_cache_ids_cachepack_writes() -> None:
    # Read from torch's source (the parent process does not import torch).
    spec = importlib.util.find_spec("torch")
    assert spec is not None
    assert spec.origin is not None
    torch_dir = Path(spec.origin).parent
    remote_cache = (torch_dir / "_inductor" / "remote_cache.py").read_text()
    assert "version = 1  # consistency between various types of keys" in remote_cache
    assert 'self._key_fmt = f"pt2:{cache_id}::{{key}}:c{version}"' in remote_cache
    sources = {
        "fx-graph-v1": "_inductor/codecache.py",
        "autograd-experimental": "_functorch/_aot_autograd/autograd_cache.py",
        "dynamo-pgo": "_dynamo/pgo.py",
    }
    for cache_id, path in sources.items():
        source = (torch_dir / path).read_text()
        assert f'"{cache_id}"' in source
        assert '"data": base64.b64encode(content).decode("ascii")' in source
    assert set(sources) == set(CACHE_IDS.values())


@each_model
def test_fleet_machine_gets_remote_hits_from_a_populated_redis(
    runner: Runner,
    fills: dict[str, Fill],
    cachepack: Cachepack,
    redis_server: RedisServer,
    model: str,
) -> None:
    fill = fill_of(model, runner, fills)
    run = runner.new_dir(model, "remote_redis_warm")
    bundle = run.root / "build.cpk"
    cachepack.check("convert", fill.blob, bundle)
    populate = cachepack.check("populate", bundle, redis_server.url())
    summary = parse_populate(populate.stdout)
    assert summary.ok
    assert summary.failed == 0

    # Exactly PyTorch's keys and values: pt2:<cache id>::<key>:c1 holding
    # {"data": base64(artifact bytes), ...}.
    listed = {(a.type, a.key): a.sha256 for a in cachepack.ls(bundle)}
    stored = {}
    for name in redis_server.client.scan_iter("pt2:*"):
        value = json.loads(redis_server.client.get(name))
        stored[name.decode()] = hashlib.sha256(base64.b64decode(value["data"])).hexdigest()
    assert stored == {f"pt2:{CACHE_IDS[t]}::{k}:c1": sha for (t, k), sha in listed.items()}

    before = redis_server.stats()
    env = redis_server.torch_env()
    report = runner.child(run, MODELS[model], "run", "--model", model, env=env)
    after = redis_server.stats()
    assert report["files_before"] == 0  # An empty local cache dir.
    assert warm_start_problems(MODELS[model], report["run"]["counters"]) == []
    # Every hit came from Redis, and PyTorch asked it for nothing it lacked.
    expect = MODELS[model].warm_fx_graphs + MODELS[model].warm_autograd
    if "pgo" in MODELS[model].blob_types:
        assert report["run"]["pgo_profile_loaded"]
        expect += 1
    assert after["keyspace_hits"] - before["keyspace_hits"] >= expect
    assert after["keyspace_misses"] == before["keyspace_misses"]
    assert report["run"]["outputs"] == fill.report["run"]["outputs"]


@each_model
def test_bundle_packed_from_a_redis_torch_filled_warms_a_fresh_cache_dir(
    runner: Runner, fills: dict[str, Fill], cachepack: Cachepack, model: str
) -> None:
    fill = fill_of(model, runner, fills)
    counters = fill.report["run"]["counters"]
    assert counters["inductor"]["fxgraph_cache_miss"] == MODELS[model].cold_fx_graphs

    fleet = runner.new_dir(model, "remote_redis_export")
    packed = fleet.root / "from-redis.cpk"
    cachepack.check("pack", fill.server.url(), packed)
    got = {(a.type, a.key) for a in cachepack.ls(packed)}
    saved = fill.report["save"]["cache_info"]
    assert got == {(t, k) for t, keys in saved.items() for k in keys}

    cachepack.check("populate", packed, f"torch://{fleet.cache}")
    # The fleet's setting (see the module doc), against an empty Redis: every
    # hit is local, from the populated dir.
    empty = RedisServer(fleet.root / "redis")
    try:
        report = runner.child(fleet, MODELS[model], "run", "--model", model, env=empty.torch_env())
        assert empty.stats()["keyspace_hits"] == 0
    finally:
        empty.stop()
    assert warm_start_problems(MODELS[model], report["run"]["counters"]) == []
    assert report["run"]["outputs"] == fill.report["run"]["outputs"]
