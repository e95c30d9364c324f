"""The rows of issue 11, each measured against its baseline (BENCHMARKS.md).

Every side of a row runs `reps` times, interleaved with its baselines in
rotating order (cpbench.measure.interleave); a side that writes somewhere
gets a new empty place each time, made and removed outside the clock, and
the page cache's dirty data is flushed (sync) before each timed run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpbench import servers
from cpbench.data import DataSet, Tools, TorchServer, ZooModel, fresh
from cpbench.measure import Samples, interleave, run
from cpbench.table import Row

MB = 1e6


@dataclass
class Ctx:
    tools: Tools
    work: Path
    reps: int
    log: Callable[[str], None]
    server: TorchServer | None = None

    @property
    def torch(self) -> TorchServer:
        """PyTorch in one process for the whole run (rows 2 and 4)."""
        if self.server is None:
            self.log("starting PyTorch (imported once for rows 2 and 4)")
            self.server = TorchServer(self.tools, self.work / "torch-server")
        return self.server

    def place(self, *parts: str) -> Path:
        """A new empty directory under the work dir, after a sync."""
        path = fresh(self.work.joinpath(*parts))
        os.sync()
        return path


def _mb(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB else f"{n / 1e3:.3g} kB"


def describe(ds: DataSet) -> str:
    return f"{ds.name} ({ds.artifacts:,} artifacts, {_mb(ds.content_bytes)})"


def fixed(v: float) -> Samples:
    return Samples([v])


# Row 1 -------------------------------------------------------------------

WARM_MODES = ("cold", "torch", "cp-pytorch", "cp-cache-dir", "populate")


def warm_start(ctx: Ctx, models: list[ZooModel], modes: tuple[str, ...] = WARM_MODES) -> list[Row]:
    rows = []
    for m in models:
        ctx.log(f"row 1: warm starts of {m.name}, {ctx.reps} rounds")
        misses: dict[str, int] = {}

        def side(
            mode: str, m: ZooModel = m, misses: dict[str, int] = misses
        ) -> Callable[[int], float]:
            def measure(r: int) -> float:
                cache = ctx.place("warm", m.name, f"{mode}-{r}") / "inductor"
                extra = 0.0
                child_mode = mode
                if mode == "populate":  # The CLI first, then a plain compile.
                    extra = run(
                        [ctx.tools.cachepack, "populate", "--quiet", m.bundle, f"torch://{cache}"]
                    ).seconds
                    child_mode = "dir"
                args = ["warm", "--model", m.name, "--mode", child_mode]
                if mode == "torch":
                    args += ["--artifact", str(m.blob)]
                elif mode.startswith("cp-"):
                    args += ["--artifact", str(m.bundle)]
                report = ctx.tools.torch_op(args, cache, m.name)
                if mode != "cold":
                    misses[mode] = misses.get(mode, 0) + int(report["fx_misses"])
                return extra + float(report["first_output_s"])

            return measure

        s = interleave(ctx.reps, {mode: side(mode) for mode in modes})
        data = f"{m.name} ({_mb(m.blob.stat().st_size)} blob)"
        missed = {k: v for k, v in misses.items() if v}
        note = f"FX graph cache misses in warm starts: {missed}" if missed else ""
        torch_side = "torch.compiler.load_cache_artifacts(blob)"
        for mode, label in (
            ("cp-pytorch", 'cachepack.torch.load(bundle, via="pytorch")'),
            ("cp-cache-dir", 'cachepack.torch.load(bundle, via="cache-dir")'),
            ("populate", "cachepack populate bundle torch://DIR, then compile"),
        ):
            if mode in s:
                rows.append(
                    Row("1 warm start", data, label, torch_side, "s", s[mode], s["torch"], 1.05,
                        note)
                )  # fmt: skip
        if "cold" in s:
            rows.append(
                Row("1 warm vs cold", data, 'cachepack.torch.load(via="pytorch")',
                    "cold compile", "s", s["cp-pytorch"], s["cold"])
            )  # fmt: skip
    return rows


# Row 2 -------------------------------------------------------------------


def load_step(ctx: Ctx, ds: DataSet) -> list[Row]:
    ctx.log(f"row 2: load step, {ds.name}")
    tzst = ds.root / "dir.tar.zst"
    if not tzst.exists():
        run(["tar", "-I", "zstd -3 -T2", "-cf", tzst, "-C", ds.dir, "."])

    def torch_load(r: int) -> float:
        cache = ctx.place("load", "torch")
        return float(ctx.torch.request(op="load", blob=str(ds.blob), cache=str(cache))["seconds"])

    def populate(r: int) -> float:
        out = ctx.place("load", "cp")
        return run(
            [ctx.tools.cachepack, "populate", "--quiet", ds.bundle, f"torch://{out}"]
        ).seconds

    def populate_call(r: int) -> float:
        cache = ctx.place("load", "cp-call")
        reply = ctx.torch.request(op="cp_load", bundle=str(ds.bundle), cache=str(cache))
        return float(reply["seconds"])

    def tar_x(r: int) -> float:
        out = ctx.place("load", "tar")
        return run(["tar", "-xf", ds.tar, "-C", out]).seconds

    def tar_zstd_x(r: int) -> float:
        out = ctx.place("load", "tarzst")
        return run(["tar", "-I", "zstd -T2", "-xf", tzst, "-C", out]).seconds

    s = interleave(
        ctx.reps,
        {"torch": torch_load, "cp-call": populate_call, "cp": populate, "tar": tar_x,
         "tarzst": tar_zstd_x},
        warmup=True,
    )  # fmt: skip
    d = describe(ds)
    cp = "cachepack populate BUNDLE torch://DIR"
    return [
        Row("2 load", d, 'cachepack.populate(bundle, "torch://DIR")',
            "torch load_cache_artifacts(blob)", "s", s["cp-call"], s["torch"], 1 / 3,
            "both sides are the call alone, in the same warm interpreter (imports excluded)"),
        Row("2 load", d, cp, "torch load_cache_artifacts(blob)", "s", s["cp"], s["torch"], None,
            "torch's time is the call alone in a warm interpreter (import excluded); "
            "cachepack's is the whole CLI process"),
        Row("2 load", d, cp, "tar -xf dir.tar", "s", s["cp"], s["tar"]),
        Row("2 load", d, cp, "tar -I 'zstd -T2' -xf dir.tar.zst", "s", s["cp"], s["tarzst"]),
    ]  # fmt: skip


# Row 3 -------------------------------------------------------------------


def pack(ctx: Ctx, ds: DataSet, *, with_pack_dir: bool = True) -> list[Row]:
    ctx.log(f"row 3: pack, {ds.name}")
    out = ctx.work / "pack"
    sizes: dict[str, int] = {}
    rss: dict[str, Samples] = {}

    def timed(name: str, argv: list[Any], result: Path) -> Callable[[int], float]:
        def measure(r: int) -> float:
            fresh(out / name)
            os.sync()
            res = run(argv)
            sizes[name] = result.stat().st_size
            if r >= 0:
                rss.setdefault(name, Samples()).add(res.peak_rss_kib / 1024)
            return res.seconds

        return measure

    cp = ctx.tools.cachepack
    sides = {
        "convert": timed("convert", [cp, "convert", "--level", "3", "--threads", "2", ds.blob,
                                     out / "convert" / "o.cpk"], out / "convert" / "o.cpk"),
        "convert-dict": timed("convert-dict", [cp, "convert", "--level", "3", "--threads", "2",
                                               "--dict", ds.blob, out / "convert-dict" / "o.cpk"],
                              out / "convert-dict" / "o.cpk"),
        "zstd": timed("zstd", ["zstd", "-q", "-3", "-T2", "-f", ds.blob, "-o",
                               out / "zstd" / "o.zst"], out / "zstd" / "o.zst"),
    }  # fmt: skip
    if with_pack_dir:
        sides["pack"] = timed(
            "pack",
            [
                cp,
                "pack",
                "--level",
                "3",
                "--threads",
                "2",
                f"torch://{ds.dir}",
                out / "pack" / "o.cpk",
            ],
            out / "pack" / "o.cpk",
        )
        sides["tarzst"] = timed(
            "tarzst",
            ["tar", "-I", "zstd -3 -T2", "-cf", out / "tarzst" / "o.tar.zst", "-C", ds.dir, "."],
            out / "tarzst" / "o.tar.zst",
        )
    s = interleave(ctx.reps, sides, warmup=True)
    d = describe(ds)
    conv = "convert --level 3 --threads 2 blob"
    rows = [
        Row("3 pack time", d, conv, "zstd -3 -T2 blob", "s", s["convert"], s["zstd"], 1.0),
        Row("3 pack size", d, conv, "zstd -3 -T2 blob", "MB", fixed(sizes["convert"] / MB),
            fixed(sizes["zstd"] / MB), 1.0, fixed=True),
        Row("3 pack RSS", d, conv, "zstd -3 -T2 blob", "MiB", rss["convert"], rss["zstd"]),
        Row("3 pack time", d, conv + " --dict", "zstd -3 -T2 blob", "s", s["convert-dict"],
            s["zstd"], 1.0),
        Row("3 pack size", d, conv + " --dict", "zstd -3 -T2 blob", "MB",
            fixed(sizes["convert-dict"] / MB), fixed(sizes["zstd"] / MB), 1.0, fixed=True),
    ]  # fmt: skip
    if with_pack_dir:
        p, t = "pack --level 3 --threads 2 torch://DIR", "tar -I 'zstd -3 -T2' -cf DIR"
        rows += [
            Row("3 pack time", d, p, t, "s", s["pack"], s["tarzst"], 1.0),
            Row("3 pack size", d, p, t, "MB", fixed(sizes["pack"] / MB),
                fixed(sizes["tarzst"] / MB), 1.0, fixed=True),
            Row("3 pack RSS", d, p, t, "MiB", rss["pack"], rss["tarzst"]),
        ]  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    return rows


# Row 4 -------------------------------------------------------------------


def codec(ctx: Ctx, ds: DataSet, inner: int = 3) -> list[Row]:
    """Best of `inner` calls in one process per round (both sides warm)."""
    ctx.log(f"row 4: Mega-Cache codec, {ds.name}")
    got: dict[str, dict[str, Samples]] = {"cp": {}, "torch": {}}

    def side(name: str) -> Callable[[int], float]:
        def measure(r: int) -> float:
            if name == "cp":
                out = run([ctx.tools.bundle_bench, "--codec", ds.blob, str(inner)])
                report: dict[str, Any] = json.loads(out.stdout)
            else:
                report = ctx.torch.request(op="codec", blob=str(ds.blob), reps=inner)
            for k in ("read_s", "write_s"):
                got[name].setdefault(k, Samples()).add(min(report[k]) * 1e3)
            return 0.0

        return measure

    interleave(ctx.reps, {"cp": side("cp"), "torch": side("torch")})
    d = describe(ds)
    return [
        Row("4 codec read", d, "C++ megacache::parse", "torch CacheArtifactManager.deserialize",
            "ms", got["cp"]["read_s"], got["torch"]["read_s"], 0.2),
        Row("4 codec write", d, "C++ megacache::Writer", "torch AppendingByteSerializer",
            "ms", got["cp"]["write_s"], got["torch"]["write_s"], 0.2),
    ]  # fmt: skip


# Row 5 -------------------------------------------------------------------


def random_access(ctx: Ctx, ds: DataSet, inner: int = 20) -> list[Row]:
    ctx.log(f"row 5: random access, {ds.name}")
    got = {"get": Samples(), "parse": Samples()}

    def measure(r: int) -> float:
        out = run([ctx.tools.bundle_bench, "--open-get", ds.bundle, ds.blob, str(inner)])
        report = json.loads(out.stdout)
        got["get"].add(statistics.median(report["open_get_s"]) * 1e3)
        got["parse"].add(statistics.median(report["full_parse_s"]) * 1e3)
        return 0.0

    interleave(ctx.reps, {"both": measure})  # The two alternate inside the process.
    return [
        Row("5 random access", describe(ds), "open bundle + get one", "read + parse blob, copy one",
            "ms", got["get"], got["parse"]),
    ]  # fmt: skip


# Row 6 -------------------------------------------------------------------


def remote(ctx: Ctx, ds: DataSet) -> list[Row]:
    ctx.log(f"row 6: remote, {ds.name}")
    mean = max(1, ds.content_bytes // ds.artifacts)
    n = ds.artifacts
    rows = []
    with servers.redis(ctx.work / "redis") as port:
        flush = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "FLUSHALL"]

        def populate(r: int) -> float:
            run(flush)
            url = f"redis://127.0.0.1:{port}"
            return run([ctx.tools.cachepack, "populate", "--quiet", "--policy", "overwrite",
                        ds.bundle, url]).seconds  # fmt: skip

        def bench(r: int) -> float:
            run(flush)
            return run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set",
                        "-c", "1", "-P", "256", "-d", str(mean), "-n", str(n), "-r", str(n),
                        "-q"]).seconds  # fmt: skip

        s = interleave(ctx.reps, {"cp": populate, "rb": bench})
        rows.append(
            Row("6 redis", describe(ds), "populate --policy overwrite redis:// (pipeline 256)",
                f"redis-benchmark -t set -c 1 -P 256 -d {mean} -n {n}", "s", s["cp"], s["rb"],
                note="redis-benchmark sends one value size (the set's mean); both are "
                "whole processes")
        )  # fmt: skip
    with servers.nginx(ctx.work / "nginx") as (port, root):
        files = sorted(p for p in ds.dir.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
        config = ctx.work / "curl.cfg"
        with config.open("w") as f:
            for i, p in enumerate(files):
                f.write(f'upload-file = "{p}"\nurl = "http://127.0.0.1:{port}/curl/{i}"\n')

        def clear() -> None:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()

        def populate_http(r: int) -> float:
            clear()
            return run([ctx.tools.cachepack, "populate", "--quiet", "--policy", "overwrite",
                        ds.bundle, f"http://127.0.0.1:{port}/cp"]).seconds  # fmt: skip

        def curl(r: int) -> float:
            clear()
            return run(["curl", "-sS", "--fail", "--parallel", "--parallel-max", "8",
                        "-K", config, "-o", "/dev/null"]).seconds  # fmt: skip

        s = interleave(ctx.reps, {"cp": populate_http, "curl": curl})
        rows.append(
            Row("6 http", describe(ds), "populate --policy overwrite http:// (8 in flight)",
                f"curl --parallel-max 8 PUT of the {len(files):,} files", "s", s["cp"],
                s["curl"], note="cachepack PUTs two objects per artifact (cas/ and ac/), "
                "curl one")
        )  # fmt: skip
    return rows


# Row 7 -------------------------------------------------------------------


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return b, my - b * mx


def growth(rows: list[Row], sets: list[DataSet], row: str, cp: str, base: str,
           per: str) -> Row | None:  # fmt: skip
    """Row 7: the slope of one earlier row's medians over the sets' sizes."""
    picked = []
    for ds in sets:
        for r in rows:
            if r.row == row and r.data == describe(ds) and r.cachepack == cp and r.baseline == base:
                size = ds.content_bytes / MB if per == "MB" else ds.artifacts / 1000
                picked.append((size, r))
    if len(picked) < 3:
        return None
    xs = [x for x, _ in picked]
    unit = picked[0][1].unit
    b_cp, a_cp = slope(xs, [r.cp.median for _, r in picked])
    b_base, a_base = slope(xs, [r.base.median for _, r in picked])
    per_unit = "MB" if per == "MB" else "1000 artifacts"
    sizes = ", ".join(f"{x:g}" for x in xs)
    return Row(
        "7 growth", f"{row} at {sizes} {per_unit}", cp, base, f"{unit}/{per_unit}",
        fixed(b_cp), fixed(b_base), None,
        f"fixed cost (intercept): cachepack {a_cp:.3g} {unit}, baseline {a_base:.3g} {unit}",
        fixed=True,
    )  # fmt: skip
