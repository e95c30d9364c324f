"""cachepack.runtime's caches against real torch 2.13's torch/_inductor/cache.py.

Each torch side runs in a fresh process with the same TMPDIR and user name
as this one, so torch's ``OnDiskCache("cachepack_test")`` and
``InductorOnDiskCache()`` and cachepack's use the same directories. Files
torch writes are read by cachepack and files cachepack writes are read by
torch; written apart, the two directories hold the same file names (lock
files included) with the same bytes. ``from_env_var`` / ``from_file_path``
accept and refuse the same inputs. Skipped when torch does not import.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cachepack
from cachepack import runtime

pytest.importorskip("torch", reason="needs PyTorch (tools/setup.sh)")

NAME = "cachepack_test"

CHILD = r"""
import os, pickle, sys
from pathlib import Path
from torch._inductor.cache import CacheError, InMemoryCache, InductorOnDiskCache, OnDiskCache

mode, cases_path, out_path = sys.argv[1:4]
cases = pickle.loads(Path(cases_path).read_bytes())
disk, inductor = OnDiskCache("cachepack_test"), InductorOnDiskCache()
res = []
if mode == "insert":
    res = [(disk.insert(k, v), inductor.insert(k, v)) for k, v in cases]
elif mode == "get":
    res = [(disk.get(k), inductor.get(k)) for k, _ in cases]
elif mode == "dirs":
    res = [str(disk.base_dir), str(inductor.base_dir)]
else:
    for case in cases:
        try:
            if mode == "env":
                os.environ["CACHEPACK_TEST_ENV"] = case
                cache = InMemoryCache.from_env_var("CACHEPACK_TEST_ENV")
            else:
                cache = InMemoryCache.from_file_path(Path(case))
            res.append(("ok", cache._cache))
        except Exception as e:  # CacheError, and what torch lets through
            res.append((type(e).__name__, None))
Path(out_path).write_bytes(pickle.dumps(res))
"""


def cases() -> list[tuple[Any, Any]]:
    big_dict = {f"k{i}": i for i in range(1500)}
    return [
        ("k", "v"),
        (7, 3),
        (-(2**70), b"\x00" * 70000),
        (("fn", (1, "a"), b"x"), {"a": [1, 2], 2: (None, True)}),
        (("é", "€" * 30000), [None, True, "é", -1, 2**64]),
        ("big", big_dict),
        ((), ("t", ("u",))),
        ("bytes", b""),
    ]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("LOGNAME", "cachepack-runtime-test")
    return dict(os.environ)


def run_torch(mode: str, data: object, tmp_path: Path, env: dict[str, str]) -> list[Any]:
    cases_path, out_path = tmp_path / f"{mode}.in", tmp_path / f"{mode}.out"
    cases_path.write_bytes(pickle.dumps(data))
    subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(cases_path), str(out_path)],
        env=env,
        check=True,
        timeout=300,
    )
    return pickle.loads(out_path.read_bytes())


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_both_use_the_same_directories(tmp_path: Path, env: dict[str, str]) -> None:
    disk, inductor = run_torch("dirs", None, tmp_path, env)
    assert runtime.OnDiskCache(NAME).base_dir == disk
    assert runtime.inductor_on_disk_cache().base_dir == inductor


def test_cachepack_reads_what_torch_wrote(tmp_path: Path, env: dict[str, str]) -> None:
    inserted = run_torch("insert", cases(), tmp_path, env)
    assert inserted == [(True, True)] * len(cases())
    disk, inductor = runtime.OnDiskCache(NAME), runtime.inductor_on_disk_cache()
    for key, value in cases():
        assert disk.get(key) == value
        assert inductor.get(key) == value
        # Insert-if-absent: torch's entry stays.
        assert disk.insert(key, "other") is False


def test_torch_reads_what_cachepack_wrote(tmp_path: Path, env: dict[str, str]) -> None:
    disk, inductor = runtime.OnDiskCache(NAME), runtime.inductor_on_disk_cache()
    for key, value in cases():
        assert disk.insert(key, value) is True
        assert inductor.insert(key, value) is True
    got = run_torch("get", cases(), tmp_path, env)
    assert got == [(v, v) for _, v in cases()]


def test_both_write_identical_files(tmp_path: Path, env: dict[str, str]) -> None:
    run_torch("insert", cases(), tmp_path, env)
    root = Path(env["TMPDIR"]) / "cache" / NAME
    by_torch = tree(root)
    for p in sorted(root.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    disk = runtime.OnDiskCache(NAME)
    for key, value in cases():
        disk.insert(key, value)
    by_cachepack = tree(root)
    assert sorted(by_torch) == sorted(by_cachepack)
    assert any(name.startswith("locks/") for name in by_torch)
    assert by_torch == by_cachepack


def test_stale_entries_are_removed_by_either_reader(tmp_path: Path, env: dict[str, str]) -> None:
    disk = runtime.OnDiskCache(NAME)
    keys = [k for k, _ in cases()]
    for key in keys:
        Path(disk.path_for(key)).parent.mkdir(parents=True, exist_ok=True)
        Path(disk.path_for(key)).write_bytes(b"\x00\x00\x00\x01" + pickle.dumps("old"))
    # torch's get() removes a stale file and misses.
    assert [d for d, _ in run_torch("get", cases(), tmp_path, env)] == [None] * len(keys)
    assert not any(Path(disk.path_for(k)).exists() for k in keys)
    for key in keys:
        Path(disk.path_for(key)).write_bytes(b"\x00\x00\x00\x01" + pickle.dumps("old"))
        assert disk.get(key) is None
        assert not Path(disk.path_for(key)).exists()


K = repr(pickle.dumps("k"))
V1, V2 = repr(pickle.dumps(1)), repr(pickle.dumps([1, "x"]))
ENV_CASES = [
    "",
    " ; ;",
    f"{K},{V1}",
    f" {K} , {V2} ;",
    f"{K},{V1};{K},{V1}",
    f"{K},{V1};{K},{V2}",
    f"{K}{V1}",
    f"'k',{V1}",
    f"{K},b'garbage.'",
    f"{K},not a literal",
    f"{repr(pickle.dumps(2))},{V2};{repr(pickle.dumps(True))},{V2}",
]


def test_from_env_var_accepts_and_refuses_what_torch_does(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_torch = run_torch("env", ENV_CASES, tmp_path, env)
    for text, (outcome, contents) in zip(ENV_CASES, by_torch, strict=True):
        monkeypatch.setenv("CACHEPACK_TEST_ENV", text)
        if outcome == "ok":
            cache = runtime.InMemoryCache.from_env_var("CACHEPACK_TEST_ENV")
            assert len(cache) == len(contents), text
            for key, value in contents.items():
                assert cache.get(key) == value, text
        else:
            with pytest.raises(cachepack.Error):
                runtime.InMemoryCache.from_env_var("CACHEPACK_TEST_ENV")


def test_from_file_path_accepts_and_refuses_what_torch_does(
    tmp_path: Path, env: dict[str, str]
) -> None:
    files = {
        "missing": None,
        "dict": pickle.dumps({"a": 1, ("b", 2): [b"x"]}),
        "empty_dict": pickle.dumps({}),
        "list": pickle.dumps([1]),
        "garbage": b"\x80\x04\x95garbage",
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / f"{name}.pkl"
        if data is not None:
            path.write_bytes(data)
        paths.append(str(path))
    by_torch = run_torch("file", paths, tmp_path, env)
    for path, (outcome, contents) in zip(paths, by_torch, strict=True):
        if outcome == "ok":
            cache = runtime.InMemoryCache.from_file_path(path)
            assert len(cache) == len(contents), path
            for key, value in contents.items():
                assert cache.get(key) == value
        else:
            with pytest.raises(cachepack.Error):
                runtime.InMemoryCache.from_file_path(path)
