"""The suite's PyTorch runs, started once per session, at most two at a time.

A torch.compile on CPU takes 10-40 s, so the runs are shared: one cold run
per model (its blob, report and cache dir are kept), and per model one run
per scenario that reads them. A run starts as soon as the run it needs is
done, on `workers` threads; tests wait for the results they read. Only the
runs that selected tests ask for (marker `jobs`) are started.

Jobs per model:
  cold           empty dirs: compile, drive, save_cache_artifacts() -> blob
  load_original  empty dirs: load_cache_artifacts(cold blob), no compile
  round_trip     blob -> convert -> .cpk -> convert --to pytorch -> rebuilt;
                 empty dirs: load_cache_artifacts(rebuilt), compile, drive
  warm_dir       convert --sign -> .cpk; populate .cpk torch://EMPTY with
                 --trusted-key; then compile and drive there (nothing loaded)
  export_blob    pack torch://COLD_DIR out.bin; empty dirs:
                 load_cache_artifacts(out.bin), compile, drive
  export_bundle  pack torch://COLD_DIR out.cpk; populate it into empty dirs;
                 compile, drive
  ship           docs/REMOTE.md's walkthrough: keygen, convert --sign, push
                 to a redis-server of its own; pull --trusted-key (twice), populate
                 the pulled bundle into empty dirs; compile, drive
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from torchsuite import tree
from torchsuite.blobs import Listed
from torchsuite.cachepack import Cachepack, PopulateSummary, Step, parse_populate
from torchsuite.catalog import MODELS, Model
from torchsuite.runner import RunDir, Runner

T = TypeVar("T")
Report = dict[str, Any]

JOBS = (
    "cold",
    "load_original",
    "round_trip",
    "warm_dir",
    "export_blob",
    "export_bundle",
    "ship",
)


class DependencyFailed(RuntimeError):
    pass


class Scheduler:
    """A thread pool whose jobs may start after another job's result."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="torch-run")

    def submit(self, fn: Callable[..., T], after: Future[Any] | None = None) -> Future[T]:
        """Runs fn(), or fn(result of `after`) once `after` succeeded."""
        if after is None:
            return self._pool.submit(fn)
        out: Future[T] = Future()

        def start(need: Future[Any]) -> None:
            if need.cancelled() or need.exception() is not None:
                why = "was cancelled" if need.cancelled() else f"failed: {need.exception()}"
                out.set_exception(DependencyFailed(f"the run this one needs {why}"))
                return
            try:
                inner = self._pool.submit(fn, need.result())
            except RuntimeError as e:  # Shut down meanwhile.
                out.set_exception(e)
                return
            inner.add_done_callback(lambda f: _chain(f, out))

        after.add_done_callback(start)
        return out

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _chain(source: Future[T], target: Future[T]) -> None:
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


@dataclass(frozen=True)
class ColdRun:
    model: Model
    run: RunDir
    blob: Path
    report: Report


@dataclass(frozen=True)
class LoadOnly:
    report: Report  # report["load"]: cache_info and the files PyTorch wrote.


@dataclass(frozen=True)
class RoundTrip:
    bundle: Path
    rebuilt: Path
    to_bundle: Step
    to_blob: Step
    report: Report


@dataclass(frozen=True)
class WarmFromDir:
    bundle: Path
    url: str  # torch:// URL of the populated cache dir.
    populate: Step
    summary: PopulateSummary
    files: dict[str, tree.FileInfo]  # The cache dir right after populate.
    report: Report


@dataclass(frozen=True)
class Export:
    packed: Path
    pack: Step
    listed: list[Listed]
    populate: Step | None  # export_bundle only.
    report: Report


class RedisServer:
    """A redis-server on a free loopback port, its files in `root`."""

    BINARY = "/usr/bin/redis-server"

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: BinaryIO) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"redis://127.0.0.1:{port}"

    @classmethod
    def start(cls, root: Path) -> RedisServer:
        root.mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        argv = [cls.BINARY, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root)]
        argv += ["--save", "", "--appendonly", "no"]
        log = (root / "redis.log").open("wb")
        server = cls(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT), port, log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"redis-server did not start; see {root / 'redis.log'}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@dataclass(frozen=True)
class Shipped:
    bundle: Path  # Signed on the build machine.
    pulled: Path  # Rebuilt on the fleet machine.
    push: dict[str, Any]  # `push --json`.
    pull: dict[str, Any]  # `pull --json`, into an empty place.
    pull_again: dict[str, Any]  # The same pull over the first one's output.
    populate: Step
    summary: PopulateSummary
    report: Report


class Lab:
    def __init__(self, runner: Runner, cachepack: Cachepack, base: Path, workers: int = 2) -> None:
        self.runner = runner
        self.cachepack = cachepack
        self.base = base
        self.scheduler = Scheduler(workers)
        self.key = base / "signing" / "key"
        self._futures: dict[tuple[str, str], Future[Any]] = {}
        self._jobs: dict[str, Callable[[ColdRun], Any]] = {
            "load_original": self._load_original,
            "round_trip": self._round_trip,
            "warm_dir": self._warm_dir,
            "export_blob": lambda cold: self._export(cold, "export_blob", "packed.bin"),
            "export_bundle": lambda cold: self._export(cold, "export_bundle", "packed.cpk"),
            "ship": self._ship,
        }

    def start(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Starts the (job, model) runs: every needed cold run first."""
        order = list(MODELS)
        wanted = sorted(set(wanted), key=lambda jm: (JOBS.index(jm[0]), order.index(jm[1])))
        if any(job == "warm_dir" for job, _ in wanted) and not self.key.exists():
            self.key.parent.mkdir(parents=True)
            self.cachepack.check("keygen", "--out", self.key)
        for _, model in wanted:
            self._submit("cold", model)
        for job, model in wanted:
            self._submit(job, model)

    # Results; each waits for its run and raises what the run raised.

    def cold(self, model: str) -> ColdRun:
        return self._wait("cold", model, ColdRun)

    def load_original(self, model: str) -> LoadOnly:
        return self._wait("load_original", model, LoadOnly)

    def round_trip(self, model: str) -> RoundTrip:
        return self._wait("round_trip", model, RoundTrip)

    def warm_dir(self, model: str) -> WarmFromDir:
        return self._wait("warm_dir", model, WarmFromDir)

    def export_blob(self, model: str) -> Export:
        return self._wait("export_blob", model, Export)

    def export_bundle(self, model: str) -> Export:
        return self._wait("export_bundle", model, Export)

    def ship(self, model: str) -> Shipped:
        return self._wait("ship", model, Shipped)

    def finished_report(self, job: str, model: str) -> Report | None:
        """The child report of a run that succeeded, else None (never waits)."""
        future = self._futures.get((job, model))
        if future is None or not future.done() or future.cancelled() or future.exception():
            return None
        report: Report = future.result().report
        return report

    def close(self) -> None:
        self.runner.close()
        self.scheduler.shutdown()

    def _wait(self, job: str, model: str, kind: type[T]) -> T:
        result = self._submit(job, model).result()
        assert isinstance(result, kind)
        return result

    def _submit(self, job: str, model_name: str) -> Future[Any]:
        if (job, model_name) not in self._futures:
            model = MODELS[model_name]
            if job == "cold":
                future = self.scheduler.submit(lambda: self._cold(model))
            else:
                future = self.scheduler.submit(self._jobs[job], self._submit("cold", model_name))
            self._futures[(job, model_name)] = future
        return self._futures[(job, model_name)]

    # The jobs. Each runs on a worker thread.

    def _cold(self, model: Model) -> ColdRun:
        run = self.runner.new_dir(model.name, "cold")
        blob = run.root / "cold.bin"
        report = self.runner.child(
            run, model, "run", "--model", model.name, "--save-blob", str(blob)
        )
        return ColdRun(model, run, blob, report)

    def _load_original(self, cold: ColdRun) -> LoadOnly:
        run = self.runner.new_dir(cold.model.name, "load_original")
        args = ("--load-blob", str(cold.blob), "--no-compile")
        return LoadOnly(
            self.runner.child(run, cold.model, "run", "--model", cold.model.name, *args)
        )

    def _round_trip(self, cold: ColdRun) -> RoundTrip:
        run = self.runner.new_dir(cold.model.name, "round_trip")
        bundle, rebuilt = run.root / "blob.cpk", run.root / "rebuilt.bin"
        to_bundle = self.cachepack.check("convert", cold.blob, bundle)
        to_blob = self.cachepack.check("convert", bundle, rebuilt, "--to", "pytorch")
        args = ("--load-blob", str(rebuilt))
        report = self.runner.child(run, cold.model, "run", "--model", cold.model.name, *args)
        return RoundTrip(bundle, rebuilt, to_bundle, to_blob, report)

    def _warm_dir(self, cold: ColdRun) -> WarmFromDir:
        run = self.runner.new_dir(cold.model.name, "warm_dir")
        bundle = run.root / "signed.cpk"
        self.cachepack.check("convert", cold.blob, bundle, "--sign", self.key)
        url = f"torch://{run.cache}"
        populate = self.cachepack.check("populate", bundle, url, "--trusted-key", f"{self.key}.pub")
        files = tree.snapshot(run.cache)
        report = self.runner.child(run, cold.model, "run", "--model", cold.model.name)
        return WarmFromDir(bundle, url, populate, parse_populate(populate.stdout), files, report)

    def _export(self, cold: ColdRun, job: str, name: str) -> Export:
        run = self.runner.new_dir(cold.model.name, job)
        packed = run.root / name
        pack = self.cachepack.check("pack", f"torch://{cold.run.cache}", packed)
        listed = self.cachepack.ls(packed)
        args = ["run", "--model", cold.model.name]
        populate = None
        if packed.suffix == ".cpk":
            populate = self.cachepack.check("populate", packed, f"torch://{run.cache}")
        else:
            args += ["--load-blob", str(packed)]
        return Export(packed, pack, listed, populate, self.runner.child(run, cold.model, *args))

    def _ship(self, cold: ColdRun) -> Shipped:
        """docs/REMOTE.md, "Ship a warm cache to production", step by step.
        The cold run was step 1 (compile, save_cache_artifacts)."""
        run = self.runner.new_dir(cold.model.name, "ship")
        build, fleet = run.root / "build", run.root / "fleet"
        build.mkdir()
        fleet.mkdir()
        redis = RedisServer.start(run.root / "redis")
        try:
            remote = redis.url
            # Build machine: 2. sign, 3. push.
            key = build / "release.key"
            self.cachepack.check("keygen", "--out", key)
            bundle = build / "warm.cpk"
            self.cachepack.check("convert", cold.blob, bundle, "--sign", key)
            push = self.cachepack.check("push", bundle, remote, "--name", "myapp", "--json")
            # Fleet machine: only the public key travels. 4. pull (twice).
            trusted = fleet / "release.key.pub"
            shutil.copy(f"{key}.pub", trusted)
            pulled = fleet / "warm.cpk"
            pull_args = ("pull", remote, "--name", "myapp", pulled, "--trusted-key", trusted)
            pull = self.cachepack.check(*pull_args, "--json")
            pull_again = self.cachepack.check(*pull_args, "--json")
        finally:
            redis.stop()
        # 5a. populate.
        url = f"torch://{run.cache}"
        populate = self.cachepack.check("populate", pulled, url, "--trusted-key", trusted)
        # 6. The first call of a fresh process.
        report = self.runner.child(run, cold.model, "run", "--model", cold.model.name)
        return Shipped(
            bundle,
            pulled,
            json.loads(push.stdout),
            json.loads(pull.stdout),
            json.loads(pull_again.stdout),
            populate,
            parse_populate(populate.stdout),
            report,
        )
