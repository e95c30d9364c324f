"""Long calls release the GIL: threads run them at the same time, safely."""

from __future__ import annotations

import hashlib
import random
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import cachepack

ENTRIES = 32
ENTRY_SIZE = 1 << 20


def make_large_bundle(path: Path, seed: int) -> None:
    """ENTRIES entries of ENTRY_SIZE bytes, half random, half zeros."""
    rng = random.Random(seed)

    def artifacts() -> object:
        for i in range(ENTRIES):
            half = rng.randbytes(ENTRY_SIZE // 2)
            yield ("inductor", f"large-{seed}-{i}", half + bytes(ENTRY_SIZE // 2))

    cachepack.write(path, artifacts(), level=1)


@pytest.fixture(scope="module")
def large_bundles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("large")
    paths = [folder / f"large{i}.cpk" for i in range(2)]
    for i, path in enumerate(paths):
        make_large_bundle(path, i)
    return paths


def run_in_threads(calls: list[Callable[[], object]]) -> None:
    errors: list[BaseException] = []

    def guarded(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as e:  # Reported on the main thread.
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def timed(calls: list[Callable[[], object]], concurrently: bool) -> float:
    start = time.perf_counter()
    if concurrently:
        run_in_threads(calls)
    else:
        for call in calls:
            call()
    return time.perf_counter() - start


def test_two_threads_populating_at_once_finish_sooner_than_one_after_the_other(
    tmp_path: Path, large_bundles: list[Path]
) -> None:
    dirs = [tmp_path / f"cache{i}" for i in range(2)]
    populates = [
        lambda b=bundle, d=d: cachepack.populate(b, f"file://{d}")
        for bundle, d in zip(large_bundles, dirs, strict=True)
    ]
    # The control: work that surely runs in parallel (hashlib releases the
    # GIL), to tell "cachepack holds the GIL" from "no core is free".
    data = random.Random(0).randbytes(32 << 20)
    hashes = [lambda: hashlib.sha256(data).digest()] * 2

    def fresh() -> None:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)

    fresh()
    timed(populates, concurrently=False)  # Warm the page cache and first-use work.
    rounds = []
    # The machine is shared: a few rounds, each comparing both ways at once.
    for _ in range(8):
        fresh()
        sequential = timed(populates, concurrently=False)
        fresh()
        concurrent = timed(populates, concurrently=True)
        control = timed(hashes, concurrently=True) / timed(hashes, concurrently=False)
        rounds.append((sequential, concurrent, control))
        print(
            f"populate 2 x {ENTRIES} MiB: sequential {sequential:.3f} s, "
            f"concurrent {concurrent:.3f} s, ratio {concurrent / sequential:.2f}; "
            f"sha256 control ratio {control:.2f}"
        )
        if concurrent / sequential < 0.8:
            break
    best = min(c / s for s, c, _ in rounds)
    parallel_rounds = sum(r < 0.8 for _, _, r in rounds)
    if best >= 0.8 and parallel_rounds < len(rounds) / 2:
        pytest.skip(f"the machine rarely ran two threads at once (control): {rounds}")
    assert best < 0.8, f"populate never overlapped while the control mostly did: {rounds}"
    for d in dirs:
        assert cachepack.pack([f"file://{d}"], tmp_path / "check.cpk").artifacts == ENTRIES


def test_python_threads_run_while_populate_works(tmp_path: Path, large_bundles: list[Path]) -> None:
    """With the GIL held through the call, the counter could not move."""
    done = threading.Event()

    def populate() -> None:
        try:
            cachepack.populate(large_bundles[0], f"file://{tmp_path / 'cache'}")
        finally:
            done.set()

    worker = threading.Thread(target=populate)
    ticks = 0
    start = time.perf_counter()
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    seconds = time.perf_counter() - start
    worker.join()
    print(f"{ticks} ticks of a Python thread during a {seconds:.3f} s populate")
    assert ticks >= min(20, seconds * 200)


def test_one_bundle_read_from_many_threads_gives_every_thread_the_right_bytes(
    large_bundles: list[Path],
) -> None:
    with cachepack.open(large_bundles[0]) as bundle:
        artifacts = list(bundle)
        expected = {a.key: a.sha256 for a in artifacts}
        seen: dict[str, set[str]] = {a.key: set() for a in artifacts}
        lock = threading.Lock()

        def reader(offset: int) -> None:
            for a in artifacts[offset:] + artifacts[:offset]:
                digest = hashlib.sha256(bundle.read(a.type, a.key)).hexdigest()
                with lock:
                    seen[a.key].add(digest)

        run_in_threads([lambda o=o: reader(o) for o in range(4)])
    assert seen == {k: {v} for k, v in expected.items()}


def test_closing_a_bundle_while_other_threads_read_it_never_crashes(
    large_bundles: list[Path],
) -> None:
    bundle = cachepack.open(large_bundles[1])
    artifacts = list(bundle)
    outcomes: list[str] = []

    def reader() -> None:
        for a in artifacts:
            try:
                assert len(bundle.read(a.type, a.key)) == a.size
                outcomes.append("read")
            except cachepack.InvalidArgumentError:
                outcomes.append("closed")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.01)
    bundle.close()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 * len(artifacts)
    assert set(outcomes) <= {"read", "closed"}
