"""tools/bench.sh's driver: prepares the data, runs the rows, prints one table.

python -m cpbench --cachepack BIN --bundle-bench BIN [--quick] [--json]
                  [--reps N] [--warm-reps N] [--no-1gb] [--rows 1,2,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cpbench import data, rows
from cpbench.table import Row, Table

KB, MB = 1000, 1000 * 1000


def plan(quick: bool, with_1gb: bool) -> dict[str, Any]:
    """Which sets each row runs on. Count sets keep the real type mix and
    size distribution with every size divided by 64 (mean about 1 kB), so
    100,000 artifacts stay near 100 MB; byte sets keep the real sizes."""
    if quick:
        byte_sets = {"bytes-4MB": 4 * MB, "bytes-16MB": 16 * MB}
        count_sets = {"count-1000": 1000, "count-3000": 3000, "count-10000": 10000}
        return {
            "byte_sets": byte_sets,
            "count_sets": count_sets,
            "codec": ["real", "bytes-16MB", "count-10000"],
            "remote": ["count-1000", "bytes-4MB"],
        }
    byte_sets = {"bytes-10MB": 10 * MB, "bytes-100MB": 100 * MB}
    if with_1gb:
        byte_sets["bytes-1GB"] = 1000 * MB
    return {
        "byte_sets": byte_sets,
        "count_sets": {"count-1000": 1000, "count-10000": 10000, "count-100000": 100000},
        "codec": ["real", "bytes-100MB", "count-100000"],
        "remote": ["count-10000", "bytes-100MB"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="tools/bench.sh")
    parser.add_argument("--cachepack", required=True, type=Path)
    parser.add_argument("--bundle-bench", required=True, type=Path)
    parser.add_argument("--quick", action="store_true", help="small data, a smoke test")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--reps", type=int, help="rounds per row (default 3, --quick 2)")
    parser.add_argument("--warm-reps", type=int, help="rounds of row 1 (default 2)")
    parser.add_argument("--no-1gb", action="store_true", help="skip the 1 GB set")
    parser.add_argument("--rows", default="1,2,3,4,5,6,7", help="which rows (default all)")
    parser.add_argument(
        "--models", help=f"row 1's models (default all: {','.join(data.ZOO_MODELS)})"
    )
    args = parser.parse_args()
    wanted = {int(r) for r in args.rows.split(",") if r}
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    tools = data.Tools(args.cachepack.resolve(), args.bundle_bench.resolve(), Path(sys.executable))
    reps = args.reps or (2 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="cpbench-", dir=os.environ.get("TMPDIR")))
    ctx = rows.Ctx(tools, work, reps, log)
    p = plan(args.quick, not args.no_1gb)
    out: list[Row] = []
    try:
        # The zoo: made (cold compiles) only in the full run.
        models = data.zoo(tools, make=not args.quick, log=log)
        pool = data.pool_blobs(models)
        specs: dict[str, dict[str, Any]] = {"real": {"verbatim": True}}
        specs |= {name: {"bytes": n} for name, n in p["byte_sets"].items()}
        specs |= {name: {"count": n, "scale": 64} for name, n in p["count_sets"].items()}
        sets = data.scaled_sets(tools, pool, specs, log) if wanted - {1} else {}
        byte_sets = [sets["real"]] + [sets[n] for n in p["byte_sets"]] if sets else []
        count_sets = [sets[n] for n in p["count_sets"]] if sets else []

        if 1 in wanted:
            if args.quick and len(models) == len(data.ZOO_MODELS):
                # Cached zoo: one model, PyTorch's load against cachepack's.
                ctx.reps = 1
                out += rows.warm_start(ctx, models[:1], ("torch", "cp-pytorch"))
            elif not args.quick:
                ctx.reps = args.warm_reps or 2
                chosen = args.models.split(",") if args.models else list(data.ZOO_MODELS)
                out += rows.warm_start(ctx, [m for m in models if m.name in chosen])
            else:
                log("row 1: skipped (--quick and no cached zoo; a full run makes it)")
            ctx.reps = reps
        for ds in byte_sets:
            if 2 in wanted:
                out += rows.load_step(ctx, ds)
            if 3 in wanted:
                out += rows.pack(ctx, ds)
        if 4 in wanted:
            for name in p["codec"]:
                out += rows.codec(ctx, sets[name])
        if 5 in wanted:
            for ds in count_sets:
                out += rows.random_access(ctx, ds)
        if 6 in wanted:
            for name in p["remote"]:
                out += rows.remote(ctx, sets[name])
        if 7 in wanted:
            scaled = byte_sets  # The real set is the smallest point.
            for g in (
                rows.growth(out, scaled, "2 load", "cachepack populate BUNDLE torch://DIR",
                            "torch load_cache_artifacts(blob)", "MB"),
                rows.growth(out, scaled, "2 load", "cachepack populate BUNDLE torch://DIR",
                            "tar -xf dir.tar", "MB"),
                rows.growth(out, scaled, "3 pack time", "convert --level 3 --threads 2 blob",
                            "zstd -3 -T2 blob", "MB"),
                rows.growth(out, scaled, "3 pack RSS", "convert --level 3 --threads 2 blob",
                            "zstd -3 -T2 blob", "MB"),
                rows.growth(out, count_sets, "5 random access", "open bundle + get one",
                            "read + parse blob, copy one", "count"),
            ):  # fmt: skip
                if g is not None:
                    out.append(g)
    finally:
        if ctx.server is not None:
            ctx.server.close()
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()
    header = {
        "mode": "quick" if args.quick else "full",
        "seconds": round(time.monotonic() - started, 1),
        "reps": reps,
        "pool": pool[0],
        "data_dir": str(data.data_dir()),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in load],
        "machine": platform.platform(),
    }
    table = Table(out)
    if args.json:
        print(json.dumps({"run": header, "rows": [r.to_json() for r in out]}, indent=1))
    else:
        print(table.markdown())
        print()
        print(
            f"{header['mode']} run, {header['seconds']} s, {reps} interleaved rounds per row, "
            f"pool: {pool[0]}, {header['cpus']} CPUs, load average at the end "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. ratio = cachepack / baseline "
            "(medians; lower is better for cachepack); (min-max) over the rounds."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
