"""Helpers shared by the Python package's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_module(
    *args: str | os.PathLike[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`python -m cachepack ARGS` in a fresh interpreter of the installed package."""
    return subprocess.run(
        [sys.executable, "-m", "cachepack", *map(str, args)],
        capture_output=True,
        cwd=cwd,
        check=False,
    )


def run_binary(binary: Path, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[bytes]:
    """The cachepack CLI binary with ARGS."""
    return subprocess.run([binary, *map(str, args)], capture_output=True, check=False)
