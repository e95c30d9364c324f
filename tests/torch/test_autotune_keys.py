"""cachepack's autotune keys (`cachepack autotune key --batch`, autotune/keys.cc)
against torch 2.13's own AutotuneCache.create and AutotuneCacheBundler.begin_compile
on generated inputs: every key must be equal, character for character.

Torch computes them here through its real code paths; only the storage behind
them is replaced (RemoteCache.backend_override_cls, PyTorch's own test hook)
so that the keys it asks for can be recorded without a Redis server.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from torchsuite.cachepack import Cachepack

torch = pytest.importorskip("torch")

from torch._guards import CompileContext, compile_context  # noqa: E402
from torch._inductor import codecache, remote_cache  # noqa: E402
from torch._inductor.runtime import autotune_cache  # noqa: E402

INPUTS = 1200
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-. #é中\t"


class _Recorder(remote_cache.RemoteCacheBackend[bytes]):
    """Records the keys torch reads and writes; answers reads from `replies`."""

    gets: list[str] = []
    puts: list[str] = []
    reply: bytes | None = None

    def _get(self, key: str) -> bytes | None:
        _Recorder.gets.append(key)
        return _Recorder.reply

    def _put(self, key: str, data: bytes) -> None:
        _Recorder.puts.append(key)


@contextmanager
def _recording(torch_key: bytes) -> Iterator[None]:
    saved = codecache.torch_key
    classes = [
        remote_cache.RemoteAutotuneCache,
        remote_cache.RemoteBundledAutotuneCache,
        remote_cache.LocalAutotuneCache,
    ]
    codecache.torch_key = lambda: torch_key  # type: ignore[assignment]
    for cls in classes:
        cls.backend_override_cls = _Recorder
    _Recorder.gets, _Recorder.puts, _Recorder.reply = [], [], None
    try:
        yield
    finally:
        codecache.torch_key = saved
        for cls in classes:
            cls.backend_override_cls = None


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


def _kernel_file(rng: random.Random) -> str:
    name = "c" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(51))
    shapes = [
        f"/tmp/torchinductor_user/{name[1:3]}/{name}.py",
        f"{name}.py",
        f"/{name}.py",
        f"rel/dir//{name}.py",
        f"/a/{_text(rng, 1, 8)}/{_text(rng, 1, 12)}.py",
        f"//{_text(rng, 0, 6)}",
        f"{_text(rng, 0, 10)}/{_text(rng, 0, 10)}/",
    ]
    return rng.choice(shapes)


def _code(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(0, 8)):
        line = _text(rng, 0, 30)
        if rng.random() < 0.3:
            line += "  # run id " + _text(rng, 0, 10)
        lines.append(line)
    return rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n", "#tail"])


def _inside_cache_dir(basename: str) -> bool:
    """Whether torch's bundler writes this entry inside its cache dir (the
    others cachepack refuses: test_bundle_entry_outside_cache_dir_is_refused)."""
    root, _ = autotune_cache._splitext_nodot(basename)
    return root[1:3] != ".."


def _bundle_entry(rng: random.Random) -> str:
    while True:
        stem = "".join(rng.choice("abcdef0123456789é.") for _ in range(rng.randint(1, 12)))
        name = rng.choice([stem + ".best_config", stem, "." + stem, stem + "..x", "..." + stem])
        if name.strip(".") and _inside_cache_dir(name):
            return name


def _inputs() -> list[dict[str, Any]]:
    rng = random.Random(15)
    real_torch_key = codecache.torch_key().hex()
    out = []
    for i in range(INPUTS):
        torch_key = real_torch_key if i % 10 == 0 else rng.randbytes(32).hex()
        out.append(
            {
                "kernel_file": _kernel_file(rng),
                "cache_key_tag": rng.choice(["", "", _text(rng, 1, 12)]),
                "torch_key": torch_key,
                "backend_hash": rng.randbytes(32).hex().upper() if i % 7 else "",
                "configs_hash": rng.randbytes(32).hex(),
                "code": _code(rng),
                "bundle_entry": _bundle_entry(rng),
            }
        )
    return out


def _torch_keys(inp: dict[str, Any], cache_dir: str) -> dict[str, str]:
    out: dict[str, str] = {}
    meta = {
        "autotune_local_cache": True,
        "autotune_remote_cache": True,
        "bundled_autotune_remote_cache": True,
        "backend_hash": inp["backend_hash"],
        "is_fbcode": False,
    }
    with _recording(bytes.fromhex(inp["torch_key"])):
        with torch.compiler.config.patch(cache_key_tag=inp["cache_key_tag"]):
            cache = autotune_cache.AutotuneCache.create(
                meta, inp["kernel_file"], inp["configs_hash"]
            )
        assert cache is not None
        assert cache.local_cache
        assert cache.remote_cache
        out["prepared_key"] = cache.remote_cache[1]
        out["local_path"] = cache.local_cache[1]
        assert cache.artifact_recorder is not None
        out["artifact_key"] = cache.artifact_recorder.key
        out["remote_cache_id"] = cache.remote_cache_full_key

        # A bundle hit holding one entry: torch reads the bundle's key and
        # writes the entry where its local cache keeps it.
        _Recorder.reply = json.dumps({inp["bundle_entry"]: {"XBLOCK": 1}}).encode()
        with compile_context(CompileContext(None)):
            autotune_cache.AutotuneCacheBundler.begin_compile(meta, code=inp["code"])
            autotune_cache.AutotuneCacheBundler.end_compile()
        (get,) = _Recorder.gets
        prefix, suffix = "pt2:bundled-autotune-v1::", ":c1"
        assert get.startswith(prefix)
        assert get.endswith(suffix)
        out["bundle_key"] = get[len(prefix) : -len(suffix)]
        (put,) = _Recorder.puts
        assert put.startswith(cache_dir + "/")
        # relpath: "<cache>/./name" (root[1:3] == ".") is "name".
        out["bundle_entry_key"] = os.path.relpath(put, cache_dir)
    out["code_hash"] = autotune_cache._comment_stripped_hash(inp["code"])
    return out


def test_autotune_keys_match_torch(
    cachepack: Cachepack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = str(tmp_path / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", cache_dir)
    inputs = _inputs()
    proc = subprocess.run(
        [str(cachepack.binary), "autotune", "key", "--batch"],
        input="".join(json.dumps(i) + "\n" for i in inputs),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    ours = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(ours) == len(inputs)
    compared = 0
    for inp, mine in zip(inputs, ours, strict=True):
        theirs = _torch_keys(inp, cache_dir)
        assert mine == theirs, f"input {inp!r}"
        compared += len(theirs)
    assert compared == len(inputs) * 7
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == cache_dir


@pytest.mark.parametrize("basename", ["x..y.best_config", "z...q", "..", "a/b"])
def test_bundle_entry_outside_cache_dir_is_refused(cachepack: Cachepack, basename: str) -> None:
    if "/" not in basename and basename != "..":
        root, ext = autotune_cache._splitext_nodot(basename)
        _, _, path = codecache.get_path(root, ext)
        cache = codecache.cache_dir()
        assert not os.path.normpath(path).startswith(cache + os.sep), path
    step = cachepack.run("autotune", "key", "--bundle-entry", basename)
    assert step.returncode == 1, step.describe()
    assert "outside the cache dir" in step.stderr
