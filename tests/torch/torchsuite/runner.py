"""Starts PyTorch child processes (torchsuite.child), each with its own cache dirs.

Every run gets a new directory holding `inductor-cache/`
(TORCHINDUCTOR_CACHE_DIR), `triton-cache/` (TRITON_CACHE_DIR), `child.log`
(stderr) and `report.json`; the child runs there with `python -P`, so no
directory in it can shadow a module (an empty `triton/` would pass for the
Triton package). The
child's environment is the caller's without any TORCH*, TORCHINDUCTOR* or
TRITON* variable, plus the run's own, so nothing outside the run's
directories decides whether it is cold or warm. (PyTorch's precompiled C++
header lives outside the cache dir, in <tempdir>/torchinductor_<user>;
see docs/PYTORCH.md.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchsuite.catalog import Model

SUITE_DIR = Path(__file__).resolve().parent.parent  # tests/torch: holds torchsuite/
SCRUBBED_PREFIXES = ("TORCH", "TRITON")  # TORCH_*, TORCHINDUCTOR_*, TRITON_*
CHILD_TIMEOUT_S = 900


class ChildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def cache(self) -> Path:
        return self.root / "inductor-cache"

    @property
    def triton(self) -> Path:
        return self.root / "triton-cache"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def log(self) -> Path:
        return self.root / "child.log"


class Runner:
    def __init__(self, python: Path, base: Path) -> None:
        self.python = python
        self.base = base
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._closed = False

    def new_dir(self, *parts: str) -> RunDir:
        """A new run directory with empty cache and Triton dirs."""
        run = RunDir(self.base.joinpath(*parts))
        run.cache.mkdir(parents=True)
        run.triton.mkdir()
        return run

    def env(
        self, run: RunDir, model: Model | None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env["TORCHINDUCTOR_CACHE_DIR"] = str(run.cache)
        env["TRITON_CACHE_DIR"] = str(run.triton)
        if model is not None and model.job_id is not None:
            env["TORCH_COMPILE_JOB_ID"] = model.job_id
        env["PYTHONPATH"] = str(SUITE_DIR)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra or {})
        return env

    def child(
        self, run: RunDir, model: Model | None, *args: str, env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Runs `python -m torchsuite.child ARGS` in `run` (with `env` added to its
        environment, e.g. PyTorch's remote-cache settings); returns its report."""
        argv = [str(self.python), "-P", "-m", "torchsuite.child", *args]
        argv += ["--json-out", str(run.report)]
        with run.log.open("wb") as log:
            with self._lock:
                if self._closed:
                    raise ChildFailed("the suite is shutting down")
                proc = subprocess.Popen(
                    argv,
                    cwd=run.root,
                    env=self.env(run, model, env),
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                self._procs.add(proc)
            try:
                code = proc.wait(timeout=CHILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
            finally:
                with self._lock:
                    self._procs.discard(proc)
        if code != 0:
            tail = run.log.read_text(errors="replace")[-3000:]
            what = "timed out" if code is None else f"exited {code}"
            raise ChildFailed(f"{' '.join(args)} {what} in {run.root}; end of {run.log}:\n{tail}")
        report: dict[str, Any] = json.loads(run.report.read_text())
        return report

    def close(self) -> None:
        """Stops the children still running (an interrupted session)."""
        with self._lock:
            self._closed = True
            for proc in self._procs:
                proc.terminate()


def default_python() -> Path:
    return Path(sys.executable)
