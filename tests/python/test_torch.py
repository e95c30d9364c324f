"""cachepack.torch against real PyTorch: save a cold compile, load it elsewhere, hit.

One cold compile of a small MLP (in a fresh process, with its own empty
Inductor and Triton cache directories) is shared by every test here; each
warm start is another fresh process with its own empty caches, so a hit can
only come from the bundle. Skipped when torch does not import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import cachepack

pytest.importorskip("torch", reason="cachepack.torch needs PyTorch (tools/setup.sh)")

# A child process: optionally loads a bundle, compiles and runs the MLP,
# optionally saves, and prints one JSON line with outputs and cache counters.
CHILD = r"""
import json, sys, time
import torch
import cachepack.torch

mode, path = sys.argv[1], sys.argv[2]
out = {}
if mode.startswith("load-"):
    report = cachepack.torch.load(path, via=mode[len("load-"):])
    out["load"] = {"via": report.via, "by_type": report.by_type, "warnings": report.warnings}
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
x = torch.randn(4, 8)
start = time.monotonic()
y = torch.compile(model)(x)
out["compile_seconds"] = time.monotonic() - start
out["output"] = y.detach().tolist()
if mode == "cold":
    saved = cachepack.torch.save(path)
    out["save"] = {"artifacts": saved.artifacts, "bytes": saved.bytes}
counters = torch._dynamo.utils.counters
out["fxgraph_hit"] = counters["inductor"]["fxgraph_cache_hit"]
out["fxgraph_miss"] = counters["inductor"]["fxgraph_cache_miss"]
out["autograd_hit"] = counters["aot_autograd"]["autograd_cache_hit"]
import platform
out["torch_version"], out["python_version"] = torch.__version__, platform.python_version()
print(json.dumps(out))
"""


def fresh_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh torch process: its own empty cache directories."""
    env = dict(os.environ)
    env["TORCHINDUCTOR_CACHE_DIR"] = str(tmp / "inductor")
    env["TRITON_CACHE_DIR"] = str(tmp / "triton")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # No pool of compile workers to start: one small graph compiles faster inline.
    env["TORCHINDUCTOR_COMPILE_THREADS"] = "1"
    return env


def run_python(tmp: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -c CODE ARGS` (or `python ARGS`) in a fresh process with fresh caches."""
    tmp.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", code, *args] if code is not None else [sys.executable, *args]
    return subprocess.run(
        argv, env=fresh_env(tmp), capture_output=True, text=True, cwd=tmp, timeout=300
    )


def run_child(tmp: Path, mode: str, bundle: Path) -> dict[str, Any]:
    """The MLP in a fresh process; its JSON report."""
    start = time.monotonic()
    done = run_python(tmp, mode, str(bundle), code=CHILD)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_seconds"] = time.monotonic() - start
    print(
        f"{mode}: process {report['process_seconds']:.1f} s, compile "
        f"{report['compile_seconds']:.1f} s"
    )
    return report


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The saved bundle of one cold compile, and that run's report."""
    tmp = tmp_path_factory.mktemp("cold")
    bundle = tmp / "mlp.cpk"
    report = run_child(tmp / "proc", "cold", bundle)
    assert report["fxgraph_miss"] >= 1
    assert report["fxgraph_hit"] == 0
    return bundle, report


def test_save_writes_a_bundle_with_the_artifacts_and_the_environment(
    cold: tuple[Path, dict[str, Any]],
) -> None:
    bundle, report = cold
    assert report["save"]["artifacts"].get("inductor", 0) >= 1
    with cachepack.open(bundle) as b:
        assert {a.type for a in b} >= {"inductor"}
        env = b.environment
    assert env is not None
    assert env["torch_version"].startswith("2.13")
    assert env["python_version"]
    assert env["cpu_arch"]


def test_load_via_pytorch_makes_a_fresh_process_hit_with_the_same_outputs(
    cold: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    bundle, cold_report = cold
    warm = run_child(tmp_path, "load-pytorch", bundle)
    assert warm["load"]["via"] == "pytorch"
    assert warm["load"]["by_type"].get("inductor", {}).get("loaded", 0) >= 1
    assert warm["fxgraph_hit"] >= 1
    assert warm["fxgraph_miss"] == 0
    assert warm["output"] == cold_report["output"]


def test_load_via_cache_dir_fills_inductors_directory_and_a_fresh_process_hits(
    cold: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    bundle, cold_report = cold
    warm = run_child(tmp_path, "load-cache-dir", bundle)
    assert warm["load"]["via"] == "cache-dir"
    assert warm["load"]["by_type"]["inductor"]["stored"] >= 1
    assert any((tmp_path / "inductor").rglob("*")), "nothing written to the cache dir"
    assert warm["fxgraph_hit"] >= 1
    assert warm["fxgraph_miss"] == 0
    assert warm["output"] == cold_report["output"]


def rewrite_environment(source: Path, out: Path, **fields: str) -> None:
    """A copy of the bundle whose recorded environment has `fields` changed."""
    with cachepack.open(source) as b:
        env = dict(b.environment or {}, **fields)
        artifacts = [(a.type, a.key, bytes(b.read(a.type, a.key))) for a in b]
    cachepack.write(out, artifacts, environment=env)


LOAD = r"""
import json, sys
import cachepack, cachepack.torch
try:
    cachepack.torch.load(sys.argv[1], via=sys.argv[2])
    print(json.dumps({"raised": None}))
except cachepack.EnvironmentMismatchError as e:
    print(json.dumps({"raised": type(e).__name__, "message": str(e),
                      "invalid_argument": isinstance(e, cachepack.InvalidArgumentError)}))
report = cachepack.torch.load(sys.argv[1], via=sys.argv[2], ignore_environment=True)
print(json.dumps({"by_type": report.by_type, "warnings": report.warnings}))
"""


def test_load_refuses_a_bundle_made_with_another_torch_unless_told_to_ignore_it(
    cold: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    bundle, _ = cold
    other = tmp_path / "other-torch.cpk"
    rewrite_environment(bundle, other, torch_version="2.99.0")
    done = run_python(tmp_path / "proc", str(other), "pytorch", code=LOAD)
    assert done.returncode == 0, done.stderr[-4000:]
    refused, ignored = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert refused["raised"] == "EnvironmentMismatchError"
    assert refused["invalid_argument"]
    assert "torch 2.99.0" in refused["message"]
    assert ignored["by_type"]["inductor"]["loaded"] >= 1
    assert any("torch 2.99.0" in w for w in ignored["warnings"])


def test_python_m_cachepack_env_prints_torchs_and_pythons_versions(
    cold: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, report = cold  # What torch and platform said in a process of this interpreter.
    done = run_python(tmp_path, "-m", "cachepack", "env")
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)
    assert env["torch_version"] == report["torch_version"]
    assert env["python_version"] == report["python_version"]
    assert env["cachepack_version"] == cachepack.__version__


EXPLAIN = r"""
import json, sys
import cachepack.torch
x = cachepack.torch.explain(sys.argv[1])
print(json.dumps({"blocked": x.blocked, "differences": [d.field for d in x.differences],
                  "target": x.target, "text": x.text,
                  "types": {t.type: [t.artifacts, t.keys, t.present, t.would_write]
                            for t in x.types}}))
"""


def test_explain_finds_nothing_blocking_here_and_counts_each_type_against_the_cache_dir(
    cold: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    bundle, _ = cold
    done = run_python(tmp_path, str(bundle), code=EXPLAIN)
    assert done.returncode == 0, done.stderr[-4000:]
    x = json.loads(done.stdout)
    assert not x["blocked"]
    assert x["differences"] == []
    assert x["target"] == f"torch://{tmp_path / 'inductor'}"
    artifacts, keys, present, would_write = x["types"]["inductor"]
    assert artifacts >= 1
    assert keys >= 1
    assert present == 0
    assert would_write == keys
    assert "inductor:" in x["text"]
