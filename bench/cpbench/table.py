"""One row = cachepack and its baseline on the same bytes; the table and its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cpbench.measure import Samples


@dataclass
class Row:
    row: str  # The row: "1 warm start", "2 load", ...
    data: str  # Which bytes: model or set, with size.
    cachepack: str  # What cachepack ran.
    baseline: str  # What the baseline ran.
    unit: str  # "s", "ms", "MB", "MiB" (peak RSS), "ms/MB", ...
    cp: Samples
    base: Samples
    # cachepack / baseline must be at most this (None: no target).
    target: float | None = None
    note: str = ""
    fixed: bool = False  # A single measured value on each side (size, slope).

    @property
    def ratio(self) -> float:
        return self.cp.median / self.base.median if self.base.median else float("inf")

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "data": self.data,
            "cachepack": self.cachepack,
            "baseline": self.baseline,
            "unit": self.unit,
            "cachepack_values": self.cp.values,
            "baseline_values": self.base.values,
            "cachepack_median": self.cp.median,
            "baseline_median": self.base.median,
            "ratio": self.ratio,
            "target_max_ratio": self.target,
            "met": self.met,
            "note": self.note,
            "fixed": self.fixed,
        }


def _num(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 0.01:
        return f"{v:.3g}"
    return f"{v:.2e}"


def cell(s: Samples, unit: str, fixed: bool) -> str:
    if fixed or len(s.values) == 1:
        return f"{_num(s.median)} {unit}"
    return f"{_num(s.median)} {unit} ({_num(s.low)}-{_num(s.high)})"


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def markdown(self) -> str:
        head = (
            "| # | data | cachepack | baseline | cachepack: median (min-max) | baseline "
            "| ratio | target | met |"
        )
        lines = [head, "|" + "---|" * 9]
        for r in self.rows:
            target = "" if r.target is None else f"<= {r.target:g}"
            met = {None: "", True: "yes", False: "**no**"}[r.met]
            lines.append(
                f"| {r.row} | {r.data} | {r.cachepack} | {r.baseline} | "
                f"{cell(r.cp, r.unit, r.fixed)} | {cell(r.base, r.unit, r.fixed)} | "
                f"{r.ratio:.2f} | {target} | {met} |"
            )
        notes = [f"- {r.row}, {r.data}: {r.note}" for r in self.rows if r.note]
        return "\n".join(lines + ([""] + notes if notes else []))
