"""cachepack.runtime's pickle codec against Python's own pickle module.

Random values of every supported kind (big ints, non-ASCII and surrogate
strings, values past the 64 KiB frame size, lists and dicts past the
1000-item batch) must pickle to exactly the bytes ``pickle.dumps`` writes,
and read back equal; the caches' files are compared with real torch in
test_runtime_torch.py.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pytest

import cachepack
from cachepack import runtime

LATIN1 = [chr(c) for c in range(256)]


def fresh_str(rng: random.Random, n: int) -> str:
    # chr() of a code point >= 256 is a new object each time, as in real
    # data; one-character latin-1 strings are CPython's shared singletons.
    # Runs of up to 64 characters, each run from one pool, mix the UTF-8
    # widths at a tenth of the cost of a random pool per character.
    pools = (range(32, 127), range(0, 0x800), range(0xD800, 0xE000), range(0x10000, 0x10400))
    runs = []
    left = n
    while left:
        m = min(left, rng.randint(1, 64))
        runs.append("".join(map(chr, rng.choices(rng.choice(pools), k=m))))
        left -= m
    text = "".join(runs)
    return text if n != 1 else chr(ord(text))


def value(rng: random.Random, depth: int = 0, big: bool = False) -> object:
    kinds = ["none", "bool", "int", "bigint", "str", "bytes"]
    if depth < 4:
        kinds += ["tuple", "list", "dict"] * 2
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice(
            [0, 1, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1]
        ) + rng.randint(-3, 3)
    if kind == "bigint":
        return rng.randint(-(2 ** rng.randint(1, 3000)), 2 ** rng.randint(1, 3000))
    if kind == "str":
        n = rng.choice([0, 1, 2, 5, 255, 256, 300] + ([70000] if big else []))
        return fresh_str(rng, n)
    if kind == "bytes":
        n = rng.choice([0, 1, 2, 255, 256] + ([65536, 100000] if big else []))
        data = rng.randbytes(n)
        # bytes([n]) is CPython's shared one-byte object; randbytes(1) is not.
        return data if n != 1 else bytes([data[0]])
    n = rng.choice([0, 1, 2, 3, 4, 7] + ([999, 1000, 1001, 2500] if depth == 0 else []))
    # Past the 1000-item batch the items are leaves: the batching is what
    # such a list tests, and nested items there made the test take minutes.
    child_depth = depth + 1 if n < 999 else 4
    items = [value(rng, child_depth, big and rng.random() < 0.05) for _ in range(n)]
    if kind == "tuple":
        return tuple(items)
    if kind == "list":
        return items
    keys = [value(rng, 3) for _ in range(n)]
    return {k: v for k, v in zip(keys, items, strict=True) if _hashable(k)}


def _hashable(k: object) -> bool:
    try:
        hash(k)
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("seed", range(4))
def test_dumps_writes_exactly_what_pickle_dumps_writes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        v = value(rng, big=rng.random() < 0.2)
        for protocol in (4, 5):
            expected = pickle.dumps(v, protocol)
            assert runtime.pickle_dumps(v, protocol) == expected, repr(v)[:200]
        assert runtime.pickle_loads(expected) == v


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_loads_reads_what_pickle_writes_with_other_protocols(protocol: int) -> None:
    rng = random.Random(protocol)
    for _ in range(60):
        v = value(rng)
        assert runtime.pickle_loads(pickle.dumps(v, protocol)) == v


def test_loads_keeps_shared_objects_shared_in_value() -> None:
    inner = ["x" * 10]
    v = [inner, inner, (inner,)]
    assert runtime.pickle_loads(pickle.dumps(v)) == v


def test_other_kinds_are_typed_errors() -> None:
    for v in (1.5, {1, 2}, object(), bytearray(b"x"), frozenset()):
        with pytest.raises(cachepack.InvalidArgumentError) as err:
            runtime.pickle_dumps(v)
        assert err.value.reason is cachepack.ErrorReason.UNSUPPORTED_PICKLE
    for v in (1.5, {1, 2}, range(3), pickle.dumps(b"x", 2)):
        data = v if isinstance(v, bytes) else pickle.dumps(v)
        with pytest.raises(cachepack.DataLossError) as err:
            runtime.pickle_loads(data)
        assert err.value.reason is cachepack.ErrorReason.UNSUPPORTED_PICKLE
    recursive: list[Any] = []
    recursive.append(recursive)
    with pytest.raises(cachepack.DataLossError):
        runtime.pickle_loads(pickle.dumps(recursive))


def test_every_truncation_and_byte_flip_is_a_cachepack_error() -> None:
    rng = random.Random(14)
    for _ in range(15):
        data = pickle.dumps(value(rng, 2))
        for n in range(len(data)):
            with pytest.raises(cachepack.Error):
                runtime.pickle_loads(data[:n])
        for _ in range(50):
            damaged = bytearray(data)
            damaged[rng.randrange(len(damaged))] = rng.getrandbits(8)
            try:
                runtime.pickle_loads(bytes(damaged))
            except cachepack.Error:
                pass


def test_cache_failures_raise_the_class_torch_names(tmp_path: Path) -> None:
    from cachepack import errors

    cache = runtime.OnDiskCache.at(str(tmp_path))
    with pytest.raises(errors.KeyEncodingError) as key_err:
        cache.insert((1.5,), 1)
    assert isinstance(key_err.value, errors.UserError | cachepack.InvalidArgumentError)
    assert isinstance(key_err.value, errors.CacheError)
    with pytest.raises(errors.ValueEncodingError):
        cache.insert("k", {1.5})
    Path(cache.path_for("k")).write_bytes(bytes.fromhex("5feceb66") + b"\x80\x04garbage")
    with pytest.raises(errors.ValueDecodingError) as decode_err:
        cache.get("k")
    assert isinstance(decode_err.value, cachepack.DataLossError)
    assert decode_err.value.file == cache.path_for("k")


def test_a_held_lock_file_times_out_with_file_lock_timeout_error(tmp_path: Path) -> None:
    from cachepack import errors

    path = str(tmp_path / "locks" / "x.lock")
    held = runtime.FileLock.acquire(path)
    with pytest.raises(errors.FileLockTimeoutError) as err:
        runtime.FileLock.acquire(path, 0.1)
    assert isinstance(err.value, cachepack.DeadlineExceededError)
    assert isinstance(err.value, errors.SystemError)
    held.release()
    runtime.FileLock.acquire(path, 0).release()
