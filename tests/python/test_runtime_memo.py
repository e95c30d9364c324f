"""cachepack.runtime's memoizers without torch: keys, the switch, typed errors.

The switches are read once per process, so the cases that depend on them run
in a fresh interpreter. tests/python/test_runtime_memo_torch.py compares
with torch itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys

import pytest

from cachepack import runtime

CHILD = r"""
import sys
from cachepack import runtime
calls = []
def f(x, y=0):
    calls.append(x)
    return [x, y]
m = runtime.Memoizer()
g = m.memoize()(f)
out = [g(1), g(1), g(2, y=3)]
try:
    m.replay()(f)(5)
    out.append("hit")
except KeyError as e:
    out.append(str(e))
try:
    m.record()(f)(1.5)
    out.append("recorded a float")
except runtime.KeyEncodingError:
    out.append("KeyEncodingError")
try:
    m.record(custom_result_encoder=lambda fn: lambda *a, **k: lambda r: {1.5})(f)(7)
    out.append("recorded a set")
except runtime.ValueEncodingError:
    out.append("ValueEncodingError")
print(repr((out, calls, len(m))))
"""


def run_child(enabled: str | None) -> tuple[list[object], list[object], int]:
    env = dict(os.environ)
    env.pop("TORCHINDUCTOR_ENABLE_CACHING_MODULE", None)
    env.pop("TORCHINDUCTOR_DUMP_MEMOIZER_CACHE", None)
    env.pop("TORCHINDUCTOR_CACHE_DUMP_FILE_PATH", None)
    if enabled is not None:
        env["TORCHINDUCTOR_ENABLE_CACHING_MODULE"] = enabled
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, check=True, capture_output=True, text=True
    )
    return eval(done.stdout)  # noqa: S307 - our own child's repr


def test_make_key_is_sha256_of_pickled_params() -> None:
    def want(obj: object) -> str:
        return hashlib.sha256(pickle.dumps(obj)).hexdigest()[:32]

    assert runtime.make_key(None, 1, "a") == want(((1, "a"), {}))
    assert runtime.make_key(None, 1, y=(2, b"x")) == want(((1,), {"y": (2, b"x")}))
    assert runtime.make_key(lambda x, y: {"x": x}, 3, 4) == want({"x": 3})
    with pytest.raises(runtime.KeyEncodingError):
        runtime.make_key(None, 1.5)


def test_enabled_memoizer_records_once_and_types_its_errors() -> None:
    out, calls, size = run_child("1")
    assert out[:3] == [[1, 0], [1, 0], [2, 3]]
    assert out[3].startswith("'No cached result found for key: ")
    assert out[4:] == ["KeyEncodingError", "ValueEncodingError"]
    # 1 and 2 once each; 1.5 ran before its key failed, 7 before its result did.
    assert calls == [1, 2, 1.5, 7]
    assert size == 2


def test_disabled_caching_module_passes_through() -> None:
    for value in (None, "0"):
        out, calls, size = run_child(value)
        assert out[:3] == [[1, 0], [1, 0], [2, 3]]
        assert out[3] == "'Caching is disabled'"
        assert out[4:] == ["recorded a float", "recorded a set"]
        assert calls == [1, 1, 2, 1.5, 7]
        assert size == 0


DEFERRED_CHILD = r"""
from cachepack import runtime
m = runtime.Memoizer()
pending = {}
def encoder(fn):
    def for_params(x):
        def encode(result):
            d = runtime.DeferredRecording(make_interim_result=lambda: ("interim", x))
            pending[x] = d
            return d
        return encode
    return for_params
def f(x):
    return x * 10
record, replay = m.record(custom_result_encoder=encoder)(f), m.replay()(f)
out = [record(1), replay(1), len(m)]
pending[1].finalize(11)
out += [replay(1), len(m)]
late = runtime.DeferredRecording()
late.finalize(5)
seen = []
late.register_callback(seen.append)
out.append(seen)
try:
    late.finalize(6)
except RuntimeError:
    out.append("RuntimeError")
print(repr(out))
"""


def test_deferred_recording_stores_on_finalize_and_serves_interim_results() -> None:
    env = dict(os.environ, TORCHINDUCTOR_ENABLE_CACHING_MODULE="1")
    done = subprocess.run(
        [sys.executable, "-c", DEFERRED_CHILD], env=env, check=True, capture_output=True, text=True
    )
    out = eval(done.stdout)  # noqa: S307 - our own child's repr
    assert out == [10, ("interim", 1), 0, 11, 1, [5], "RuntimeError"]
