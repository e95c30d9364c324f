"""The benchmark's data: the model zoo's real caches and the scaled sets.

Everything is made on first use under the data directory and reused:
$CACHEPACK_BENCH_DATA, else $XDG_CACHE_HOME/cachepack-bench, else
~/.cache/cachepack-bench (outside the repository, shared by worktrees).

- zoo/<model>/: a cold torch.compile run of each model of the real-PyTorch
  suite (tests/torch/torchsuite: inference and training, static and dynamic
  shapes, precompile), in a fresh process with empty cache dirs: the blob
  torch.compiler.save_cache_artifacts() returned (blob.bin), the cache dir
  it left (cache/) and its bundle (bundle.cpk, `cachepack convert`).
- sets/<pool>/<name>/: scaled sets synthesised from the pool of real
  artifacts (cpbench.torch_ops.synth says exactly how): blob.bin (written by
  PyTorch's serializer), bundle.cpk, dir/ (the torch:// layout, populated
  by cachepack), dir.tar. The pool is the zoo's blobs when the zoo exists,
  else the three real torch 2.13 blobs under tests/vectors/torch-2.13.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpbench.measure import run

REPO = Path(__file__).resolve().parents[2]
ZOO_MODELS = ("mlp", "conv", "dynamic", "train", "precompile")
PGO_JOB_ID = "cachepack-torch-suite"  # torchsuite.catalog: the `dynamic` model's job id.
SCRUBBED = ("TORCH", "TRITON")


def data_dir() -> Path:
    if env := os.environ.get("CACHEPACK_BENCH_DATA"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cachepack-bench"


@dataclass(frozen=True)
class Tools:
    cachepack: Path  # The optimised CLI.
    bundle_bench: Path  # bench/bundle_bench.cc, for the C++ side of rows 4-5.
    python: Path  # .venv's, with torch 2.13 and the cachepack package.

    def torch_env(self, cache: Path, model: str | None = None) -> dict[str, str]:
        """A child's environment: none of ours TORCH*/TRITON*, its own cache dirs."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
        env["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
        env["TRITON_CACHE_DIR"] = str(cache.parent / (cache.name + "-triton"))
        if model == "dynamic":
            env["TORCH_COMPILE_JOB_ID"] = PGO_JOB_ID
        env["PYTHONPATH"] = f"{REPO / 'bench'}:{REPO / 'tests' / 'torch'}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def torch_op(
        self, args: Sequence[str], cache: Path, model: str | None = None
    ) -> dict[str, Any]:
        """Runs cpbench.torch_ops ARGS in a fresh process; its JSON report."""
        cache.mkdir(parents=True, exist_ok=True)
        out = run(
            [self.python, "-m", "cpbench.torch_ops", *args],
            env=self.torch_env(cache, model),
            cwd=cache.parent,
        )
        report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        report["wall_s"] = out.seconds
        report["peak_rss_kib"] = out.peak_rss_kib
        return report


class TorchServer:
    """One `cpbench.torch_ops serve` process: PyTorch imported once."""

    def __init__(self, tools: Tools, scratch: Path) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [tools.python, "-m", "cpbench.torch_ops", "serve"],
            env=tools.torch_env(scratch / "inductor"),
            cwd=scratch,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answer()  # {"ready": true} once torch is imported.

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"cpbench.torch_ops serve exited {self.proc.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(self, **request: Any) -> dict[str, Any]:  # noqa: ANN401
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@dataclass(frozen=True)
class Stored:
    """Data kept under `root`: its Mega-Cache blob and its bundle."""

    name: str
    root: Path

    @property
    def blob(self) -> Path:
        return self.root / "blob.bin"

    @property
    def bundle(self) -> Path:
        return self.root / "bundle.cpk"


@dataclass(frozen=True)
class ZooModel(Stored):
    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def cold(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.root / "cold.json").read_text())
        return result


def zoo(tools: Tools, *, make: bool, log: Callable[[str], None]) -> list[ZooModel]:
    """The zoo's models whose cold run exists; with `make`, runs the missing ones."""
    models = []
    for name in ZOO_MODELS:
        m = ZooModel(name, data_dir() / "zoo" / name)
        if not (m.root / "done").exists():
            if not make:
                continue
            log(f"zoo: cold compile of {name} (once; kept in {m.root})")
            fresh(m.root)
            report = tools.torch_op(
                ["warm", "--model", name, "--mode", "cold", "--save-blob", str(m.blob)],
                m.cache,
                name,
            )
            (m.root / "cold.json").write_text(json.dumps(report))
            run([tools.cachepack, "convert", "--level", "3", m.blob, m.bundle])
            (m.root / "done").write_text("")
        models.append(m)
    return models


@dataclass(frozen=True)
class DataSet(Stored):
    @property
    def dir(self) -> Path:
        return self.root / "dir"

    @property
    def tar(self) -> Path:
        return self.root / "dir.tar"

    @property
    def manifest(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.root / "manifest.json").read_text())
        return result

    @property
    def artifacts(self) -> int:
        return int(self.manifest["artifacts"])

    @property
    def content_bytes(self) -> int:
        return int(self.manifest["content_bytes"])

    @property
    def blob_bytes(self) -> int:
        return int(self.manifest["blob_bytes"])


def pool_blobs(models: list[ZooModel]) -> tuple[str, list[Path]]:
    if len(models) == len(ZOO_MODELS):
        return "zoo", [m.blob for m in models]
    return "vectors", sorted((REPO / "tests" / "vectors" / "torch-2.13").glob("*.bin"))


def scaled_sets(
    tools: Tools,
    pool: tuple[str, list[Path]],
    specs: dict[str, dict[str, Any]],
    log: Callable[[str], None],
) -> dict[str, DataSet]:
    """The sets synthesised by `specs` from the pool; each made once, the
    missing ones in one PyTorch process."""
    sets, jobs = {}, []
    for name, spec in specs.items():
        tag = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
        ds = DataSet(name, data_dir() / "sets" / pool[0] / f"{name}-{tag}")
        sets[name] = ds
        if not (ds.root / "done").exists():
            fresh(ds.root)
            jobs.append({"out": str(ds.root), "spec": spec})
    if not jobs:
        return refresh_bundles(tools, sets, log)
    log(f"data: synthesising {len(jobs)} set(s) from the {pool[0]} pool under {data_dir()}")
    scratch = data_dir() / "sets" / "synth-scratch"
    tools.torch_op(
        ["synth", "--pool", *map(str, pool[1]), "--jobs", json.dumps(jobs)], scratch / "inductor"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    for job in jobs:
        ds = next(s for s in sets.values() if str(s.root) == job["out"])
        run([tools.cachepack, "convert", "--level", "3", "--threads", "2", ds.blob, ds.bundle])
        run([tools.cachepack, "populate", "--quiet", ds.blob, f"torch://{ds.dir}"])
        run(["tar", "-cf", ds.tar, "-C", ds.dir, "."])
        (ds.root / "done").write_text("")
    return refresh_bundles(tools, sets, log)


def refresh_bundles(
    tools: Tools, sets: dict[str, DataSet], log: Callable[[str], None]
) -> dict[str, DataSet]:
    """Remakes each set's bundle.cpk that is older than the cachepack being
    measured: rows 2, 5 and 6 read it, and a bundle an earlier writer made
    (say, before solid blocks) would measure that writer's format."""
    built = Path(tools.cachepack).stat().st_mtime
    for ds in sets.values():
        if ds.bundle.exists() and ds.bundle.stat().st_mtime >= built:
            continue
        log(f"data: remaking {ds.name}'s bundle with this cachepack")
        tmp = ds.root / "bundle.new.cpk"
        run([tools.cachepack, "convert", "--level", "3", "--threads", "2", "--to", "cachepack",
             ds.blob, tmp])  # fmt: skip
        tmp.replace(ds.bundle)
    return sets
