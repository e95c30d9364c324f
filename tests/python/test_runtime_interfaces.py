"""cachepack.runtime's fcache, dcache and icache (generation A, spec 3.1).

The configuration is read once per process, as torch reads it, so every
scenario runs in a fresh interpreter with its environment; TMPDIR points
torch's default_cache_dir() into the test's directory.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cachepack import errors, runtime

ON = {"TORCHINDUCTOR_ENABLE_CACHING_MODULE": "1"}
DET = {**ON, "TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING": "1"}


def run(tmp: Path, code: str, env: dict[str, str] | None = None) -> object:
    """Runs `code` in a fresh interpreter; it prints one JSON value."""
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TORCHINDUCTOR_", "CACHEPACK_DETERMINISTIC"))
    }
    full.update({"TMPDIR": str(tmp), "USER": "memo", "LOGNAME": "memo", **(env or {})})
    prelude = "import json\nfrom cachepack import errors, runtime\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def cache_root(tmp: Path) -> Path:
    return tmp / "torchinductor_memo" / "cache"


def test_caching_module_off_misses_refuses_and_only_calls(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        calls = []
        @runtime.fcache.record(isolation_key="i")
        def f(x):
            calls.append(x)
            return x
        print(json.dumps([runtime.fcache.insert("f", ((1,), {}), 2, "i"),
                          runtime.fcache.get("f", ((1,), {}), "i"), f(1), f(1), calls]))
        """,
    )
    assert out == [False, None, 1, 1, [1, 1]]
    assert not cache_root(tmp_path).exists()


def test_fcache_record_replays_in_another_process_from_torchs_files(tmp_path: Path) -> None:
    code = """
        @runtime.fcache.record(isolation_key="ik")
        def tune(n, *, mode):
            if COMPUTE:
                return {"n": n, "mode": mode, "cfg": [1, 2]}
            raise AssertionError("should have been replayed")
        print(json.dumps(tune(4, mode="max")))
        """
    first = run(tmp_path, "COMPUTE = True\n" + textwrap.dedent(code), ON)
    assert first == {"n": 4, "mode": "max", "cfg": [1, 2]}
    assert run(tmp_path, "COMPUTE = False\n" + textwrap.dedent(code), ON) == first
    # Generation A's file: sha256(pickle(key))[:32] under the function's dir.
    key = (("tune", ((4,), {"mode": "max"})), "ik")
    import hashlib

    name = hashlib.sha256(pickle.dumps(key)).hexdigest()[:32]
    data = (cache_root(tmp_path) / "tune" / name).read_bytes()
    assert data[:4] == bytes.fromhex("5feceb66")
    assert pickle.loads(data[4:]) == first
    assert (cache_root(tmp_path) / "tune" / "dir.lock").exists()


def test_errors_are_torchs_classes_with_cachepack_codes(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        out = []
        def name(f):
            try:
                f()
                out.append("no error")
            except errors.Error as e:
                out.append([type(e).__name__, e.reason.value])
        name(lambda: runtime.fcache.get("f", ((1.5,), {}), "i"))
        name(lambda: runtime.fcache.insert("f", ((1,), {}), object(), "i"))
        name(lambda: runtime.fcache.record(custom_result_encoder=str))
        name(lambda: runtime.fcache.record(custom_result_decoder=str))
        # An encoder makes float params keyable.
        out.append(runtime.fcache.insert("f", ((1.5,), {}), 1, "i",
                                         custom_params_encoder=lambda x: repr(x)))
        out.append(runtime.fcache.get("f", ((1.5,), {}), "i",
                                      custom_params_encoder=lambda x: repr(x)).value)
        print(json.dumps(out))
        """,
        ON,
    )
    assert out == [
        ["CustomParamsEncoderRequiredError", "custom_params_encoder_required"],
        ["CustomResultEncoderRequiredError", "custom_result_encoder_required"],
        ["CustomResultDecoderRequiredError", "custom_result_decoder_required"],
        ["CustomResultEncoderRequiredError", "custom_result_encoder_required"],
        True,
        1,
    ]


def test_custom_result_coders_store_encoded_and_return_decoded(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        class Config:
            def __init__(self, v): self.v = v
        made = []
        @runtime.fcache.record(isolation_key="i",
                               custom_result_encoder=lambda c: {"v": c.v},
                               custom_result_decoder=lambda d: Config(d["v"]))
        def pick(n):
            c = Config(n * 2)
            made.append(c)
            return c
        a = pick(3)
        b = pick(3)
        print(json.dumps([a is made[0], type(b).__name__, b.v, len(made)]))
        """,
        ON,
    )
    assert out == [True, "Config", 6, 1]


def test_an_exception_of_the_function_passes_through_and_caches_nothing(
    tmp_path: Path,
) -> None:
    out = run(
        tmp_path,
        """
        @runtime.fcache.record(isolation_key="i")
        def boom(x):
            raise KeyError("inner")
        try:
            boom(1)
            r = "no error"
        except KeyError as e:
            r = repr(e)
        print(json.dumps([r, runtime.fcache.get("boom", ((1,), {}), "i")]))
        """,
        ON,
    )
    assert out == ["KeyError('inner')", None]


def test_dcache_refuses_when_disabled_or_misconfigured(tmp_path: Path) -> None:
    probe = """
        try:
            runtime.dcache.get("f", ((1,), {}), "i")
            r = "no error"
        except errors.Error as e:
            r = [type(e).__name__, isinstance(e, errors.UserError)]
        print(json.dumps(r))
        """
    assert run(tmp_path, probe, ON) == ["DeterministicCachingDisabledError", True]
    assert run(tmp_path, probe, {**DET, "TORCHINDUCTOR_LOCAL_DETERMINISM": "0"}) == [
        "DeterministicCachingInvalidConfigurationError",
        True,
    ]
    assert run(tmp_path, probe, {**DET, "TORCHINDUCTOR_GLOBAL_DETERMINISM": "1"}) == [
        "DeterministicCachingRequiresStrongConsistencyError",
        True,
    ]
    # http:// decides insert-if-absent with HEAD then PUT: not strongly
    # consistent, so GLOBAL refuses it before any request.
    weak = {
        **DET,
        "TORCHINDUCTOR_GLOBAL_DETERMINISM": "1",
        "CACHEPACK_DETERMINISTIC_CACHE_URL": "http://127.0.0.1:9/",
    }
    assert run(tmp_path, probe, weak) == [
        "DeterministicCachingRequiresStrongConsistencyError",
        True,
    ]
    strict = {**DET, "TORCHINDUCTOR_STRICTLY_PRE_POPULATED_DETERMINISM": "1"}
    assert run(tmp_path, probe, strict) == ["StrictDeterministicCachingKeyNotFoundError", True]
    insert = """
        try:
            runtime.dcache.insert("f", ((1,), {}), 1, "i")
            r = "no error"
        except errors.PermissionDeniedError as e:
            r = type(e).__name__
        print(json.dumps(r))
        """
    assert run(tmp_path, insert, strict) == "StrictDeterministicCachingInsertionError"


def test_dump_at_exit_pre_populates_a_strict_worker(tmp_path: Path) -> None:
    record = """
        @runtime.icache.record(isolation_key="ik")
        def choose(n, big=None):
            if COMPUTE:
                return ("cfg", n, b"\\x00\\xff", [None, True, -2**70], {"s": "é'\\""})
            raise AssertionError("should have been pre-populated")
        print(json.dumps(repr(choose(1, big=2**80))))
        """
    first = run(tmp_path, "COMPUTE = True\n" + textwrap.dedent(record), DET)
    dump = cache_root(tmp_path) / "dcache_dump" / "imc.save"
    saved = json.loads(dump.read_text())
    # The file torch's dump would write: repr(pickled key) -> repr(value).
    key = (("choose", ((1,), {"big": 2**80})), "ik")
    [(k, v)] = saved.items()
    assert ast.literal_eval(k) == pickle.dumps(key)
    assert ast.literal_eval(v) == ast.literal_eval(first)
    assert v == first  # repr as Python writes it, for these kinds

    strict = {
        **DET,
        "TORCHINDUCTOR_STRICTLY_PRE_POPULATED_DETERMINISM": "1",
        "TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE": str(dump),
    }
    assert run(tmp_path, "COMPUTE = False\n" + textwrap.dedent(record), strict) == first
    assert Path(str(dump) + ".lock").exists()
    # That worker's exit dump met its own pre-populated keys: the conflict
    # torch reports, and the file is unchanged.
    assert json.loads(dump.read_text()) == saved


def test_dump_conflict_is_a_typed_error(tmp_path: Path) -> None:
    run(
        tmp_path,
        """
        runtime.dcache.insert("f", ((1,), {}), 1, "i")
        print(json.dumps(None))
        """,
        DET,
    )
    dump = cache_root(tmp_path) / "dcache_dump" / "imc.save"
    env = {**DET, "TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE": str(dump)}
    out = run(
        tmp_path,
        """
        try:
            runtime.dcache.dump()
            r = "no error"
        except errors.Error as e:
            r = [type(e).__name__, isinstance(e, errors.SystemError), e.file]
        print(json.dumps(r))
        import os; os._exit(0)  # No exit dump.
        """,
        env,
    )
    assert out == ["DeterministicCachingIMCDumpConflictError", True, str(dump)]


def literal(rng: random.Random, depth: int = 0) -> object:
    kinds = ["none", "bool", "int", "str", "bytes"] + (
        ["tuple", "list", "dict"] if depth < 3 else []
    )
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(2**100), 2**100)
    if kind == "str":
        return "".join(
            chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x2FFF)]))
            for _ in range(rng.randint(0, 6))
        )
    if kind == "bytes":
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 6)))
    items = [literal(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "tuple":
        return tuple(items)
    if kind == "list":
        return items
    return {f"k{i}": v for i, v in enumerate(items)}


def test_parse_python_literal_agrees_with_ast_literal_eval() -> None:
    rng = random.Random(14)
    for _ in range(3000):
        v = literal(rng)
        text = repr(v)
        assert runtime.parse_python_literal(text) == ast.literal_eval(text) == v
    for text in ["1.5", "{1, 2}", "x", "'a' b'b'", "f'x'", "[1,", "0x10"]:
        with pytest.raises(errors.InvalidArgumentError):
            runtime.parse_python_literal(text)


def test_every_generation_a_class_has_torchs_bases() -> None:
    user = [
        "CustomParamsEncoderRequiredError",
        "CustomResultEncoderRequiredError",
        "CustomResultDecoderRequiredError",
        "DeterministicCachingDisabledError",
        "DeterministicCachingRequiresStrongConsistencyError",
        "StrictDeterministicCachingKeyNotFoundError",
        "DeterministicCachingInvalidConfigurationError",
        "StrictDeterministicCachingInsertionError",
    ]
    for name in user:
        assert errors.UserError in getattr(errors, name).__mro__, name
        assert getattr(runtime, name) is getattr(errors, name)
    assert issubclass(errors.DeterministicCachingIMCDumpConflictError, errors.SystemError)
    assert issubclass(errors.KeyPicklingError, errors.KeyEncodingError)
    assert issubclass(errors.ValuePicklingError, errors.ValueEncodingError)
    assert issubclass(errors.ValueUnPicklingError, errors.ValueDecodingError)
    reasons = {errors._BY_REASON[r].__name__ for r in errors.ErrorReason if r in errors._BY_REASON}
    assert (
        set(user)
        | {
            "KeyPicklingError",
            "ValuePicklingError",
            "ValueUnPicklingError",
            "DeterministicCachingIMCDumpConflictError",
        }
        <= reasons
    )


def test_default_isolation_key_is_torchs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = run(
        tmp_path,
        """
        import hashlib, pickle
        from torch._inductor.runtime.caching.context import _isolation_key
        @runtime.fcache.record()
        def plus(a, b):
            return a + b
        plus(1, 2)
        key = (("plus", ((1, 2), {})), _isolation_key())
        name = hashlib.sha256(pickle.dumps(key)).hexdigest()[:32]
        print(json.dumps([name, runtime.default_isolation_key() == _isolation_key()]))
        """,
        ON,
    )
    name, same = out  # type: ignore[misc]
    assert same
    assert (cache_root(tmp_path) / "plus" / name).exists()


def test_an_isolation_schema_per_call_selects_torchs_key_for_it(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = run(
        tmp_path,
        """
        from torch._inductor.runtime.caching.context import _isolation_key
        compile_only = {"runtime_context": False, "compile_context": True}
        stored = runtime.fcache.insert("f", ((1,), {}), 2, ischema=compile_only)
        print(json.dumps([
            stored,
            runtime.fcache.get("f", ((1,), {}), isolation_key=_isolation_key(compile_only)).value,
            runtime.fcache.get("f", ((1,), {}), ischema=compile_only).value,
            runtime.fcache.get("f", ((1,), {})),
        ]))
        """,
        ON,
    )
    # Stored under the schema's key (torch's _isolation_key of that schema),
    # not under the default schema's.
    assert out == [True, 2, 2, None]


REDIS_SERVER = Path("/usr/bin/redis-server")


def redis_call(port: int, *args: str) -> bytes:
    """One RESP command on a fresh connection; the raw reply."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
        )
        return s.recv(4096)


@pytest.mark.skipif(not REDIS_SERVER.exists(), reason="redis-server is not installed")
def test_eight_processes_race_through_redis_and_agree(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1"]
        + ["--dir", str(tmp_path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis_call(port, "PING").startswith(b"+PONG"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        go = tmp_path / "go"
        worker = textwrap.dedent(
            f"""
            import json, os, time
            from pathlib import Path
            from cachepack import runtime
            computed = []
            @runtime.icache.record(isolation_key="race")
            def compile_kernel(n):
                computed.append(1)
                time.sleep(1.0)  # Every worker misses before the first insert.
                return os.getpid()
            while not Path({str(go)!r}).exists():
                time.sleep(0.001)
            print(json.dumps([os.getpid(), compile_kernel(7), len(computed)]))
            """
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TORCHINDUCTOR_")},
            **DET,
            "TORCHINDUCTOR_GLOBAL_DETERMINISM": "1",
            "CACHEPACK_DETERMINISTIC_CACHE_URL": f"redis://127.0.0.1:{port}",
            "TMPDIR": str(tmp_path),
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", worker], stdout=subprocess.PIPE, text=True, env=env
            )
            for _ in range(8)
        ]
        time.sleep(2.0)  # Let every interpreter reach the barrier.
        go.touch()
        reports = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        pids = {pid for pid, _, _ in reports}
        returned = {value for _, value, _ in reports}
        assert len(returned) == 1  # All agree...
        assert returned <= pids  # ...on one worker's value.
        assert sum(pid == value for pid, value, _ in reports) == 1  # One insert won.
        assert sum(c for _, _, c in reports) == 8  # All computed: a real race.
        assert redis_call(port, "DBSIZE") == b":1\r\n"
    finally:
        server.terminate()
        server.wait(timeout=10)
