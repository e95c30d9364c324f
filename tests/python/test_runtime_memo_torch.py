"""cachepack.runtime's memoizers and isolation key against real torch 2.13.

torch's side runs in fresh processes (``torch/_inductor/runtime/caching``);
cachepack's side runs in fresh processes too, because both read their
switches (``TORCHINDUCTOR_ENABLE_CACHING_MODULE``, the dump variables) once
per process. One script serves both: it imports ``PersistentMemoizer`` and
``Memoizer`` from torch or from cachepack. Checked:

- a ``PersistentMemoizer`` directory written by torch is replayed by
  cachepack without calling the function, and the reverse; the two sides
  write the same file names with the same bytes (cachepack adds the
  ``dir.lock`` file torch's interface never takes);
- the JSON dump (``TORCHINDUCTOR_DUMP_MEMOIZER_CACHE``) is the same text,
  and each side pre-populates from the other's dump
  (``TORCHINDUCTOR_CACHE_DUMP_FILE_PATH``);
- ``isolation_key(schema)`` equals torch's ``_isolation_key(schema)`` for
  several schemas and after the configs change.

Skipped when torch does not import.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="needs PyTorch (tools/setup.sh)")

MEMO_CHILD = r"""
import pickle, sys
from pathlib import Path

impl, record_dir, replay_dir, memo, out_path = sys.argv[1:6]
if impl == "torch":
    from torch._inductor.runtime.caching.interfaces import Memoizer, PersistentMemoizer
else:
    from cachepack.runtime import Memoizer, PersistentMemoizer

calls = []

def f(x, y=0):
    calls.append((x, y))
    return [x * 2, "r", None, True]

def params_encoder(x, y=0):
    return {"x": x, "y_is_zero": y == 0}

def result_encoder(fn):
    return lambda *a, **k: (lambda r: {"wrapped": r, "n": len(a)})

def result_decoder(fn):
    return lambda *a, **k: (lambda e: e["wrapped"])

ARGS = [((1,), {}), ((2,), {"y": 3}), ((-7,), {"y": (1, b"x", "z")}), ((2**70,), {})]
out = {}

if record_dir != "-":
    pm = PersistentMemoizer(sub_dir=Path(record_dir))
    rec = pm.record()(f)
    rec2 = pm.record(params_encoder, result_encoder)(f)
    out["recorded"] = [rec(*a, **k) for a, k in ARGS] + [rec2(*a, **k) for a, k in ARGS]

if replay_dir != "-":
    pm = PersistentMemoizer(sub_dir=Path(replay_dir))
    rep = pm.replay()(f)
    rep2 = pm.replay(params_encoder, result_decoder)(f)
    before = len(calls)
    out["replayed"] = [rep(*a, **k) for a, k in ARGS] + [rep2(*a, **k) for a, k in ARGS]
    try:
        rep(12345)
        out["miss"] = "hit"
    except KeyError:
        out["miss"] = "KeyError"
    out["replay_calls"] = len(calls) - before

# The in-memory Memoizer, dumped at exit or pre-populated from a dump.
if memo == "dump":
    m = Memoizer(sub_key="cp_dump")
    mrec = m.memoize()(f)
    out["dumped"] = [mrec(x) for x in (1, 2, 3)] + [mrec(1)]
elif memo == "replay":
    m = Memoizer(sub_key="cp_dump")
    mrep = m.replay()(f)
    out["prepopulated"] = [mrep(x) for x in (1, 2, 3)]

out["calls"] = calls
Path(out_path).write_bytes(pickle.dumps(out))
"""

ISOLATION_CHILD = r"""
import json, sys
import torch
from torch._inductor.runtime.caching.context import _isolation_key
from cachepack.runtime import isolation_key

schemas = [
    {"runtime_context": True, "compile_context": True},
    {"runtime_context": False, "compile_context": True},
    {"runtime_context": True, "compile_context": False},
    {"runtime_context": False, "compile_context": False},
    {"runtime_context": {"torch_determinism_configs": True}, "compile_context": False},
    {
        "runtime_context": {"inductor_configs": True, "cuda_matmul_precision_configs": True},
        "compile_context": {
            "torch_version_hash": True, "runtime": True, "triton_version_hash": False
        },
    },
    {"runtime_context": {}, "compile_context": {"accelerator_properties": True}},
]
pairs = [(_isolation_key(s), isolation_key(s)) for s in schemas]
pairs.append((_isolation_key(), isolation_key()))
torch.use_deterministic_algorithms(True)
torch._inductor.config.max_autotune = not torch._inductor.config.max_autotune
torch._inductor.config.cpu_gpu_bw = 12.375
pairs.append((_isolation_key(), isolation_key()))
print(json.dumps(pairs))
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    e = dict(os.environ)
    e.update(
        TMPDIR=str(tmp),
        LOGNAME="cachepack-memo-test",
        TORCHINDUCTOR_ENABLE_CACHING_MODULE="1",
        TORCHINDUCTOR_FORCE_DISABLE_CACHES="0",
    )
    for name in ("TORCHINDUCTOR_DUMP_MEMOIZER_CACHE", "TORCHINDUCTOR_CACHE_DUMP_FILE_PATH"):
        e.pop(name, None)
    return e


def run(
    impl: str,
    record: str,
    replay: str,
    memo: str,
    env: dict[str, str],
    tmp_path: Path,
    **extra: str,
) -> dict[str, Any]:
    out = tmp_path / f"{impl}-{record}-{replay}-{memo}.out"
    subprocess.run(
        [sys.executable, "-c", MEMO_CHILD, impl, record, replay, memo, str(out)],
        env={**env, **extra},
        check=True,
        timeout=600,
    )
    return pickle.loads(out.read_bytes())


def tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


EXPECTED = [[2, "r", None, True], [4, "r", None, True], [-14, "r", None, True]]
EXPECTED.append([2**71, "r", None, True])


def test_persistent_memoizer_files_cross_both_ways(tmp_path: Path, env: dict[str, str]) -> None:
    cache_root = Path(env["TMPDIR"]) / "torchinductor_cachepack-memo-test" / "cache"
    cp = run("cachepack", "by_cachepack", "-", "-", env, tmp_path)
    assert cp["recorded"] == EXPECTED * 2
    assert len(cp["calls"]) == 8

    # torch records the same calls and replays cachepack's files.
    th = run("torch", "by_torch", "by_cachepack", "-", env, tmp_path)
    assert th["recorded"] == EXPECTED * 2
    assert th["replayed"] == EXPECTED * 2
    assert th["miss"] == "KeyError"
    assert th["replay_calls"] == 0

    # The same names with the same bytes; cachepack adds the dir.lock file
    # torch's interface never takes.
    by_torch, by_cp = tree(cache_root / "by_torch"), tree(cache_root / "by_cachepack")
    assert "dir.lock" in by_cp
    del by_cp["dir.lock"]
    assert len(by_torch) == 8
    assert by_torch == by_cp

    # cachepack replays torch's files without calling the function.
    back = run("cachepack", "-", "by_torch", "-", env, tmp_path)
    assert back["replayed"] == EXPECTED * 2
    assert back["miss"] == "KeyError"
    assert back["calls"] == []


def test_memoizer_dumps_are_the_same_text_and_prepopulate_both_ways(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cp_dir, torch_dir = tmp_path / "cp_dump", tmp_path / "torch_dump"
    six = [6, "r", None, True]
    cp = run(
        "cachepack",
        "-",
        "-",
        "dump",
        env,
        tmp_path,
        TORCHINDUCTOR_DUMP_MEMOIZER_CACHE="1",
        TORCHINDUCTOR_CACHE_DIR=str(cp_dir),
    )
    assert cp["dumped"] == [EXPECTED[0], EXPECTED[1], six, EXPECTED[0]]
    assert len(cp["calls"]) == 3
    cp_text = (cp_dir / "memoizer_cache.json").read_text()
    assert json.loads(cp_text)["cache_size"] == 3

    # torch pre-populates from cachepack's dump (so memoize calls nothing)
    # and dumps the same entries: the same text.
    th = run(
        "torch",
        "-",
        "-",
        "dump",
        env,
        tmp_path,
        TORCHINDUCTOR_DUMP_MEMOIZER_CACHE="1",
        TORCHINDUCTOR_CACHE_DIR=str(torch_dir),
        TORCHINDUCTOR_CACHE_DUMP_FILE_PATH=str(cp_dir / "memoizer_cache.json"),
    )
    assert th["dumped"] == [EXPECTED[0], EXPECTED[1], six, EXPECTED[0]]
    assert th["calls"] == []
    assert (torch_dir / "memoizer_cache.json").read_text() == cp_text

    # cachepack pre-populates from torch's dump.
    back = run(
        "cachepack",
        "-",
        "-",
        "replay",
        env,
        tmp_path,
        TORCHINDUCTOR_CACHE_DUMP_FILE_PATH=str(torch_dir / "memoizer_cache.json"),
    )
    assert back["prepopulated"] == [EXPECTED[0], EXPECTED[1], six]
    assert back["calls"] == []


def test_stale_files_are_replaced_on_record(tmp_path: Path, env: dict[str, str]) -> None:
    cache_root = Path(env["TMPDIR"]) / "torchinductor_cachepack-memo-test" / "cache"
    run("cachepack", "stale", "-", "-", env, tmp_path)
    files = tree(cache_root / "stale")
    del files["dir.lock"]
    for name in files:
        (cache_root / "stale" / name).write_bytes(b"\x00\x01\x02\x03old")
    again = run("cachepack", "stale", "-", "-", env, tmp_path)
    assert again["recorded"] == EXPECTED * 2
    assert {k: v for k, v in tree(cache_root / "stale").items() if k != "dir.lock"} == files


def test_isolation_keys_equal_torchs(tmp_path: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ISOLATION_CHILD],
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    pairs = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(pairs) == 9
    for theirs, ours in pairs:
        assert ours == theirs
    # The schemas select different contexts, and the config change shows.
    assert len({theirs for theirs, _ in pairs}) >= 7
    assert pairs[-1][0] != pairs[-2][0]
