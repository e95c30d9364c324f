"""One PyTorch run in this fresh process; prints (and writes) a JSON report.

    python -m torchsuite.child probe
    python -m torchsuite.child run --model M [--load-blob B] [--no-compile]
                                   [--save-blob OUT] [--json-out J]

The parent (torchsuite.runner) sets TORCHINDUCTOR_CACHE_DIR, TRITON_CACHE_DIR
and, for PGO, TORCH_COMPILE_JOB_ID before this process starts, so PyTorch
reads them at import. `run` optionally loads a Mega-Cache blob with
torch.compiler.load_cache_artifacts() first (before torch.compile(), which is
where a precompile entry is loaded), then compiles and drives the model and
reports counters, timings, output digests and the files it found and wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from torchsuite import tree
from torchsuite.catalog import MODELS

STARTED = time.perf_counter()


class _LogLines(logging.Handler):
    """Keeps PyTorch's INFO lines about the PGO profile (get/put_code_state)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "code_state" in message:
            self.lines.append(message[:300])


def probe() -> dict[str, Any]:
    import torch
    from torch.compiler._cache import CacheArtifactFactory, CacheArtifactManager

    CacheArtifactManager._ensure_cache_artifacts_registered()
    return {
        "torch": torch.__version__,
        "registered_types": sorted(CacheArtifactFactory._artifact_types),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    model = MODELS[args.model]
    cache_dir = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    before = tree.snapshot(cache_dir)
    report: dict[str, Any] = {"model": model.name, "files_before": len(before)}

    start = time.perf_counter()
    import torch
    import torch._dynamo.pgo
    from torch._dynamo.utils import compilation_time_metrics, counters

    from torchsuite import blobs
    from torchsuite.models import DRIVERS

    report["torch"] = torch.__version__
    report["import_s"] = time.perf_counter() - start
    log_lines = _LogLines()
    pgo_log = logging.getLogger("torch._dynamo.pgo")
    pgo_log.setLevel(logging.INFO)
    pgo_log.addHandler(log_lines)
    torch._dynamo.config.caching_precompile = model.caching_precompile

    if args.load_blob:
        blob = Path(args.load_blob).read_bytes()
        start = time.perf_counter()
        info = torch.compiler.load_cache_artifacts(blob)
        report["load"] = {
            "seconds": time.perf_counter() - start,
            "cache_info": None if info is None else {t: list(k) for t, k in info.artifacts.items()},
            "files": tree.snapshot(cache_dir),
        }
    if args.no_compile:
        report["wall_s"] = time.perf_counter() - STARTED
        return report

    files_before_run = set(tree.snapshot(cache_dir))
    drive = DRIVERS[model.name](torch.compile)
    pgo = torch._dynamo.pgo
    after = tree.snapshot(cache_dir)
    report["run"] = {
        "compile_s": drive.compile_s,
        "call_s": drive.call_s,
        # torch.compile() and the first call: with caching_precompile the
        # entry is loaded (and its kernels built) inside torch.compile().
        "first_output_s": drive.compile_s + drive.call_s[0],
        "outputs": [
            hashlib.sha256(o.contiguous().numpy().tobytes()).hexdigest() for o in drive.outputs
        ],
        "counters": {group: dict(c) for group, c in counters.items() if c},
        # pgo.hit() sets _INIT_CODE_STATE when a stored profile was read.
        "pgo_profile_loaded": pgo._INIT_CODE_STATE is not None,
        "pgo_log": log_lines.lines,
        "so_built": sorted(p for p in after if p.endswith(".so") and p not in files_before_run),
        "compile_file_s": sum(compilation_time_metrics.get("compile_file", [])),
    }

    if args.save_blob:
        saved = torch.compiler.save_cache_artifacts()
        if saved is None:
            raise SystemExit("save_cache_artifacts() returned None after a compile")
        blob, info = saved
        Path(args.save_blob).write_bytes(blob)
        report["save"] = {
            "size": len(blob),
            "cache_info": {t: list(k) for t, k in info.artifacts.items()},
            "torch_view": [a.to_json() for a in blobs.torch_view(blob)],
            "torch_groups": [a.to_json() for a in blobs.torch_groups(blob)],
        }
    report["wall_s"] = time.perf_counter() - STARTED
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m torchsuite.child")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("probe")
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--model", required=True, choices=sorted(MODELS))
    run_parser.add_argument("--load-blob")
    run_parser.add_argument("--no-compile", action="store_true")
    run_parser.add_argument("--save-blob")
    for p in (run_parser, sub.choices["probe"]):
        p.add_argument("--json-out")
    args = parser.parse_args()
    report = probe() if args.command == "probe" else run(args)
    text = json.dumps(report, indent=1)
    if args.json_out:
        Path(args.json_out).write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
