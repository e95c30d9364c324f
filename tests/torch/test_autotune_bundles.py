"""Autotune records that torch 2.13 saved, listed, bundled and unbundled by
`cachepack autotune`, against torch's own bundler: cachepack's bundle, expanded,
writes the same files with the same bytes as torch's expansion of torch's bundle.

torch runs its real AutotuneCache.save / AutotuneCacheBundler code here; only
the remote store is an in-memory dict (RemoteCache.backend_override_cls, the
hook PyTorch's own tests use), since the bundle needs a remote cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from torchsuite.cachepack import Cachepack

torch = pytest.importorskip("torch")

from torch._guards import CompileContext, compile_context  # noqa: E402
from torch._inductor import codecache, remote_cache  # noqa: E402
from torch._inductor.runtime import autotune_cache  # noqa: E402

BACKEND_HASH = "B" * 64
CODE = "import triton\n# compiled at 12:00 by run 42\ndef call(args):  # kernel list\n    pass\n"
KERNELS = 6


class _DictRemote(remote_cache.RemoteCacheBackend[bytes]):
    store: dict[str, bytes] = {}

    def _get(self, key: str) -> bytes | None:
        return _DictRemote.store.get(key)

    def _put(self, key: str, data: bytes) -> None:
        _DictRemote.store[key] = data


@contextmanager
def _torch_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(cache_dir))
    remote_cache.RemoteBundledAutotuneCache.backend_override_cls = _DictRemote
    try:
        with compile_context(CompileContext(None)):
            yield
    finally:
        remote_cache.RemoteBundledAutotuneCache.backend_override_cls = None


META = {
    "autotune_local_cache": True,
    "autotune_remote_cache": False,
    "bundled_autotune_remote_cache": True,
    "backend_hash": BACKEND_HASH,
    "coordinate_descent_tuning": False,
    "is_fbcode": False,
}


def _kernel_file(cache_dir: Path, k: int) -> str:
    name = codecache.code_hash(f"kernel {k}")
    return str(cache_dir / name[1:3] / f"{name}.py")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.best_config"))
        if p.is_file()
    }


def test_torch_records_bundle_and_unbundle_as_torch_does(
    cachepack: Cachepack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved, torch_warm = tmp_path / "saved", tmp_path / "torch-warm"
    _DictRemote.store = {}
    with _torch_cache(saved, monkeypatch):
        autotune_cache.AutotuneCacheBundler.begin_compile(META, code=CODE)
        for k in range(KERNELS):
            cache = autotune_cache.AutotuneCache.create(
                META, _kernel_file(saved, k), f"configs-{k}"
            )
            assert cache is not None
            config = SimpleNamespace(
                kwargs={"XBLOCK": 16 << k, "R0_BLOCK": 8}, num_warps=4, num_stages=1 + k % 3
            )
            cache.save(config, (k + 1) * 2_500_000, k % 2 == 1, f"triton-{k}")
        autotune_cache.AutotuneCacheBundler.end_compile()
    (torch_bundle_key,) = _DictRemote.store
    assert len(_files(saved)) == KERNELS

    listed = cachepack.check(
        "autotune", "ls", f"torch://{saved}", "--configs-hash", "configs-2", "--json"
    )
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == KERNELS
    assert sum(row["accepted"] for row in rows) == 1
    assert sorted(row["time_taken_ms"] for row in rows) == [2, 5, 7, 10, 12, 15]

    code_file = tmp_path / "output_code.py"
    code_file.write_text(CODE)
    disk = f"file://{tmp_path / 'disk'}"
    flags = ["--code", str(code_file), "--backend-hash", BACKEND_HASH]
    step = cachepack.check("autotune", "bundle", f"torch://{saved}", disk, *flags)
    key = torch_bundle_key.removeprefix("pt2:bundled-autotune-v1::").removesuffix(":c1")
    assert key in step.stdout, step.describe()
    ours_warm = tmp_path / "cachepack-warm"
    step = cachepack.check("autotune", "unbundle", disk, f"torch://{ours_warm}", *flags)
    assert f"{KERNELS} record(s), 51 ms" in step.stdout, step.describe()

    # torch expands its own bundle into a fresh cache dir.
    with _torch_cache(torch_warm, monkeypatch):
        autotune_cache.AutotuneCacheBundler.begin_compile(META, code=CODE)
        autotune_cache.AutotuneCacheBundler.end_compile()
    theirs = _files(torch_warm)
    assert len(theirs) == KERNELS
    assert _files(ours_warm) == theirs

    # What torch 2.13 makes of the expansion (docs/AUTOTUNE.md, "A torch
    # 2.13 quirk"): entries land in get_path(<record name>), that is
    # <cache>/<name[1:3]>/, while AutotuneCache reads beside the kernel file,
    # so a kernel finds its bundled record only when the two directories are
    # the same.
    with _torch_cache(torch_warm, monkeypatch):
        for k in range(KERNELS):
            cache = autotune_cache.AutotuneCache.create(
                META, _kernel_file(torch_warm, k), f"configs-{k}"
            )
            assert cache is not None
            assert cache.local_cache is not None
            path = Path(cache.local_cache[1])
            beside_kernel = path.name[1:3] == path.parent.name
            assert (cache._read() is not None) == beside_kernel
