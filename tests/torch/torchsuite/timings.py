"""Cold vs warm first-output seconds per model, from the session's runs.

"First output" is torch.compile(model) plus the first call (train: the
first forward+backward+SGD step): with caching_precompile the entry is
loaded and its kernels built inside torch.compile(), so the first call alone
would hide the work.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from torchsuite.catalog import MODEL_NAMES
from torchsuite.lab import Lab

# (job, column title): the cold run, then the warm starts.
COLUMNS = (
    ("cold", "cold"),
    ("round_trip", "load rebuilt blob"),
    ("warm_dir", "populated dir"),
    ("export_blob", "load exported blob"),
    ("export_bundle", "populated from export"),
)


def collect(lab: Lab, suite_seconds: float) -> dict[str, Any]:
    models: dict[str, dict[str, Any]] = {}
    torch_version = None
    for model in MODEL_NAMES:
        runs = {}
        for job, _ in COLUMNS:
            report = lab.finished_report(job, model)
            if report is None:
                continue
            torch_version = report.get("torch", torch_version)
            run = report["run"]
            runs[job] = {
                "first_output_s": round(run["first_output_s"], 3),
                "compile_call_s": round(run["compile_s"], 3),
                "first_call_s": round(run["call_s"][0], 3),
                "load_s": round(report["load"]["seconds"], 3) if "load" in report else None,
                "so_built": len(run["so_built"]),
                "gxx_s": round(run["compile_file_s"], 3),
                "process_s": round(report["wall_s"], 3),
            }
        if runs:
            models[model] = runs
    return {
        "torch": torch_version,
        "host": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg_at_end": os.getloadavg(),
        },
        "suite_seconds": round(suite_seconds, 1),
        "first_output_s": "torch.compile(model) + first call, seconds",
        "models": models,
    }


def table(data: dict[str, Any]) -> str:
    titles = [title for _, title in COLUMNS]
    lines = [
        "| model | " + " | ".join(titles) + " | .so built cold/dir |",
        "|---" * (len(titles) + 2) + "|",
    ]
    for model, runs in data["models"].items():
        cells = [f"{runs[job]['first_output_s']:.1f}" if job in runs else "-" for job, _ in COLUMNS]
        so = "/".join(str(runs[j]["so_built"]) if j in runs else "-" for j in ("cold", "warm_dir"))
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {so} |")
    return "\n".join(lines)
