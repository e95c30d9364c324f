"""The cachepack CLI as the suite calls it, with its outputs parsed."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from torchsuite.blobs import Listed


@dataclass(frozen=True)
class Step:
    """One finished CLI call."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\nexit {self.returncode}\n"
            f"stdout:\n{self.stdout[-2000:]}\nstderr:\n{self.stderr[-2000:]}"
        )


class StepFailed(RuntimeError):
    def __init__(self, step: Step) -> None:
        super().__init__(step.describe())
        self.step = step


@dataclass(frozen=True)
class TypeCounts:
    stored: int
    skipped: int
    failed: int
    superseded: int


@dataclass(frozen=True)
class PopulateSummary:
    """`cachepack populate` stdout: one line per type and a closing line."""

    by_type: dict[str, TypeCounts]
    ok: bool
    stored: int
    skipped: int
    failed: int
    url: str


_TYPE_LINE = re.compile(
    r"^(?P<type>[^\s:]+): (?P<stored>\d+) stored, (?P<skipped>\d+) skipped, (?P<failed>\d+) failed"
    r" \([^)]*\)(?:; (?P<superseded>\d+) superseded\b.*)?$"
)
_CLOSING_LINE = re.compile(
    r"^(?P<ok>ok|FAILED): (?P<stored>\d+) stored, (?P<skipped>\d+) skipped, (?P<failed>\d+) failed"
    r" into (?P<url>\S+)"
)


def parse_populate(stdout: str) -> PopulateSummary:
    by_type: dict[str, TypeCounts] = {}
    closing = None
    for line in stdout.splitlines():
        if m := _TYPE_LINE.match(line):
            by_type[m["type"]] = TypeCounts(
                int(m["stored"]), int(m["skipped"]), int(m["failed"]), int(m["superseded"] or 0)
            )
        elif m := _CLOSING_LINE.match(line):
            closing = m
    if closing is None:
        raise ValueError(f"no closing line in populate's output:\n{stdout}")
    return PopulateSummary(
        by_type,
        closing["ok"] == "ok",
        int(closing["stored"]),
        int(closing["skipped"]),
        int(closing["failed"]),
        closing["url"],
    )


class Cachepack:
    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def run(self, *args: str | Path) -> Step:
        argv = [str(self.binary), *map(str, args)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        return Step(argv, done.returncode, done.stdout, done.stderr)

    def check(self, *args: str | Path) -> Step:
        """run(), raising StepFailed unless it exits 0."""
        step = self.run(*args)
        if step.returncode != 0:
            raise StepFailed(step)
        return step

    def ls(self, path: Path) -> list[Listed]:
        printed = json.loads(self.check("ls", "--json", path).stdout)
        return [Listed(a["type"], a["key"], a["size"], a["sha256"]) for a in printed["artifacts"]]
