"""Session fixtures of the real-PyTorch suite: the cachepack binary, PyTorch
itself (probed in a child process), and the shared runs (torchsuite.lab).

Nothing is mocked or skipped: a missing binary or a PyTorch that does not
import fails every test with the reason.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from torchsuite import timings
from torchsuite.cachepack import Cachepack
from torchsuite.catalog import MODEL_NAMES
from torchsuite.lab import JOBS, Lab
from torchsuite.runner import ChildFailed, Runner, default_python

REPO = Path(__file__).resolve().parents[2]
STARTED = time.monotonic()
_LAB = pytest.StashKey[Lab]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--timings-json",
        metavar="PATH",
        help="where to write cold/warm timings (default: <basetemp>/timings.json)",
    )
    parser.addoption(
        "--torch-workers", type=int, default=2, help="PyTorch runs at a time (default 2)"
    )


@pytest.fixture(scope="session")
def cachepack() -> Cachepack:
    binary = Path(os.environ.get("CACHEPACK_BIN", REPO / "bazel-bin" / "tools" / "cachepack"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"cachepack binary not found at {binary}: run `bazel build //tools:cachepack` "
            "or set CACHEPACK_BIN",
            pytrace=False,
        )
    return Cachepack(binary)


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    return Runner(default_python(), tmp_path_factory.mktemp("torch-runs"))


@pytest.fixture(scope="session")
def torch_probe(runner: Runner) -> dict[str, Any]:
    """torch's version and registered types, from a child process."""
    try:
        return runner.child(runner.new_dir("probe"), None, "probe")
    except ChildFailed as e:
        pytest.fail(
            f"PyTorch does not import with {runner.python} (run tools/setup.sh and use "
            f".venv/bin/python): {e}",
            pytrace=False,
        )


def _wanted_runs(items: list[pytest.Item]) -> set[tuple[str, str]]:
    """(job, model) for every selected test's `jobs` marker."""
    wanted = set()
    for item in items:
        marker = item.get_closest_marker("jobs")
        if marker is None:
            continue
        callspec = getattr(item, "callspec", None)
        models = (
            [callspec.params["model"]] if callspec and "model" in callspec.params else MODEL_NAMES
        )
        for job in marker.args:
            if job not in JOBS:
                raise pytest.UsageError(f"{item.nodeid}: unknown job {job!r}")
            wanted.update((job, m) for m in models)
    return wanted


@pytest.fixture(scope="session")
def lab(
    request: pytest.FixtureRequest,
    torch_probe: dict[str, Any],
    cachepack: Cachepack,
    runner: Runner,
) -> Iterator[Lab]:
    lab = Lab(runner, cachepack, runner.base, workers=request.config.getoption("--torch-workers"))
    request.config.stash[_LAB] = lab
    lab.start(_wanted_runs(request.session.items))
    yield lab
    lab.close()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lab = config.stash.get(_LAB, None)
    if lab is None:
        return
    data = timings.collect(lab, time.monotonic() - STARTED)
    if not data["models"]:
        return
    path_option = config.getoption("--timings-json")
    path = Path(path_option) if path_option else lab.base.parent / "timings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    terminalreporter.section("cold vs warm: torch.compile + first call, seconds")
    terminalreporter.write_line(timings.table(data))
    terminalreporter.write_line(
        f"torch {data['torch']}; suite {data['suite_seconds']} s; written to {path}"
    )
