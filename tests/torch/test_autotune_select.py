"""`cachepack autotune select` (autotune::select) against torch 2.13's own
_load_cached_autotuning on generated records and candidate lists: the same
record accepted or refused, the same candidate picked, the same config rebuilt.

Without Triton (CPU torch), triton_compat.Config is `object`; the test gives
the module a stand-in with triton.Config's constructor so the rebuild path runs.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
from typing import Any

import pytest

from torchsuite.cachepack import Cachepack

torch = pytest.importorskip("torch")

from torch._inductor.runtime import autotune_cache  # noqa: E402

CASES = 1500
VALUES: list[Any] = [1, 2, 4, 8, 8.0, True, False, None, "x", 0]


class _Config:
    """triton.Config's constructor and the attributes torch reads."""

    def __init__(self, kwargs: dict[str, Any], num_warps: float = 4, num_stages: float = 2) -> None:
        self.kwargs = kwargs
        self.num_warps = num_warps
        self.num_stages = num_stages


def _record(rng: random.Random) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for name in rng.sample(["XBLOCK", "YBLOCK", "R0_BLOCK"], rng.randint(0, 3)):
        rec[name] = rng.choice(VALUES)
    rec["num_warps"] = rng.choice([2, 4, 4.0, 8])
    rec["num_stages"] = rng.choice([1, 2])
    choice = rng.random()
    if choice < 0.8:
        rec["configs_hash"] = "h"
    elif choice < 0.9:
        rec["configs_hash"] = "other"
    rec["found_by_coordesc"] = rng.choice([True, False, 0, 1])
    rec["time_taken_ms"] = rng.randint(0, 100)
    rec["triton_cache_hash"] = rng.choice([None, "t"])
    if rng.random() < 0.2:
        rec["extra_options"] = rng.choice([{"maxnreg": 64}, None, {}])
    if rng.random() < 0.1:
        rec["time_saved_ns"] = 5
    keys = list(rec)
    rng.shuffle(keys)
    return {k: rec[k] for k in keys}


def _candidates(rng: random.Random, rec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for _ in range(rng.randint(0, 4)):
        kwargs = {
            k: v
            for k, v in rec.items()
            if k in ("XBLOCK", "YBLOCK", "R0_BLOCK", "found_by_coordesc") and rng.random() < 0.9
        }
        if rng.random() < 0.3:
            kwargs[rng.choice(["XBLOCK", "R0_BLOCK", "ZBLOCK"])] = rng.choice(VALUES)
        warps = rec["num_warps"] if rng.random() < 0.8 else 16
        out.append({"kwargs": kwargs, "num_warps": int(warps), "num_stages": rec["num_stages"]})
    return out


def _torch_select(case: dict[str, Any]) -> dict[str, Any]:
    configs = [
        _Config(dict(c["kwargs"]), c["num_warps"], c["num_stages"]) for c in case["candidates"]
    ]
    meta = {"coordinate_descent_tuning": case["coordinate_descent_tuning"]}
    got = autotune_cache._load_cached_autotuning(
        copy.deepcopy(case["record"]), case["configs_hash"], configs, meta
    )
    if got is None:
        return {"selected": None}
    index = next((i for i, c in enumerate(configs) if c is got), None)
    return {
        "selected": {
            "kwargs": got.kwargs,
            "num_warps": got.num_warps,
            "num_stages": got.num_stages,
        },
        "candidate": index,
        "found_by_coordesc": getattr(got, "found_by_coordesc", False),
        "extra_options": got.extra_options,
    }


def test_selection_matches_torch(cachepack: Cachepack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autotune_cache, "Config", _Config)
    assert not autotune_cache.HAS_WARP_SPEC
    rng = random.Random(2013)
    cases = []
    for _ in range(CASES):
        rec = _record(rng)
        cases.append(
            {
                "record": rec,
                "configs_hash": "h",
                "candidates": _candidates(rng, rec),
                "coordinate_descent_tuning": rng.random() < 0.5,
            }
        )
    proc = subprocess.run(
        [str(cachepack.binary), "autotune", "select"],
        input="".join(json.dumps(c) + "\n" for c in cases),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    ours = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(ours) == CASES
    kinds = {"refused": 0, "candidate": 0, "rebuilt": 0, "coordesc": 0}
    for case, mine in zip(cases, ours, strict=True):
        theirs = _torch_select(case)
        assert mine == theirs, f"case {case!r}"
        if theirs["selected"] is None:
            kinds["refused"] += 1
        elif theirs["candidate"] is not None:
            kinds["candidate"] += 1
        elif theirs["found_by_coordesc"]:
            kinds["coordesc"] += 1
        else:
            kinds["rebuilt"] += 1
    # Every rule is exercised many times.
    assert min(kinds.values()) >= 50, kinds
