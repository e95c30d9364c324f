"""What the benchmark asks of PyTorch, each in a fresh child process.

    python -m cpbench.torch_ops synth --pool BLOB... --jobs JSON
    python -m cpbench.torch_ops serve    (JSON requests on stdin, one a line)
    python -m cpbench.torch_ops warm --model M --mode MODE [--artifact P] [--save-blob P]

Each prints one JSON object on stdout; `serve` answers each request line
({"op": "load", "blob": B, "cache": DIR} or {"op": "codec", "blob": B,
"reps": N}) with one, so that PyTorch is imported once per benchmark run
(on a busy 2-core machine that import alone takes seconds to tens of
seconds, and neither side of those rows pays it). The parent (cpbench.rows) sets
TORCHINDUCTOR_CACHE_DIR (and for `warm` TRITON_CACHE_DIR and the model's
TORCH_COMPILE_JOB_ID) before this process starts; nothing else of the
parent's TORCH* environment reaches it. Blobs are written and read by
PyTorch's own serializer (torch.compiler._cache), the reference format.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import string
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

STARTED = time.perf_counter()  # As early as this process can tell.

# Synthetic artifacts keep their real bytes except one lowercase ASCII
# letter in every PERTURB_EVERY of those inside the pickled str values of
# at least TEXT_RUN bytes (generated source code, names, JSON), replaced by
# a random lowercase letter. No two artifacts are then identical, and every
# pickle stays valid (torch's load_cache_artifacts() unpickles each FX
# graph). The rate is calibrated: drawn from the torch 2.13 vectors, a set
# compresses as one `zstd -3` stream about as well as those real blobs do
# (25x; at 1 in 100 letters it was 39x, at 1 in 30 16x), so a set has
# about as much redundancy across artifacts as real caches of the same
# models, not more. Each artifact alone compresses 4.0x (real ones 4.7x).
# Content that is not a pickle has its printable runs perturbed.
TEXT_RUN = 64
PERTURB_EVERY = 50
TEXT = re.compile(rb"[\x20-\x7e]{%d,}" % TEXT_RUN)
STR_OPS = {"SHORT_BINUNICODE": 1, "BINUNICODE": 4, "BINUNICODE8": 8}
B32 = string.ascii_lowercase + "234567"


def _pool(paths: list[str]) -> list[tuple[str, str, bytes]]:
    from torch.compiler._cache import CacheArtifactManager

    pool: list[tuple[str, str, bytes]] = []
    for path in paths:
        artifacts = CacheArtifactManager.deserialize(Path(path).read_bytes())
        if artifacts is None:
            raise SystemExit(f"torch cannot read {path}")
        for kind, items in artifacts.items():
            pool.extend((kind, a.key, bytes(a.content)) for a in items)
    return pool


def _key(kind: str, real: str, i: int, rng: random.Random) -> str:
    """A new key of the real key's form, unique in the set."""
    if kind in ("inductor", "aot_autograd"):
        return real[0] + "".join(rng.choice(B32) for _ in range(51))
    if kind == "precompile":
        return f"{rng.getrandbits(256):064x}"
    if kind == "pgo":  # <job_id>:<rank>:<tag>
        return f"bench-{i}:" + real.split(":", 1)[1] if ":" in real else f"bench-{i}"
    return f"{real}-{i}"


def _text_spans(content: bytes) -> list[tuple[int, int]]:
    """Where the long str values of a pickle lie (else its printable runs)."""
    import pickletools

    spans = []
    try:
        for op, arg, pos in pickletools.genops(content):
            if op.name in STR_OPS and isinstance(arg, str) and len(arg) >= TEXT_RUN:
                start = (pos or 0) + 1 + STR_OPS[op.name]
                spans.append((start, start + len(arg.encode("utf-8", "surrogatepass"))))
    except Exception:  # Not a pickle (or a truncated one).
        return [(m.start(), m.end()) for m in TEXT.finditer(content)]
    return spans


def _letters(content: bytes) -> NDArray[np.intp]:
    """Positions of the lowercase letters that _perturb may change."""
    import numpy as np

    arr = np.frombuffer(content, dtype=np.uint8)
    text = np.zeros(len(content), dtype=bool)
    for start, end in _text_spans(content):
        text[start:end] = True
    return np.flatnonzero(text & (arr >= 0x61) & (arr <= 0x7A))


def _perturb(content: bytes, letters: NDArray[np.intp], size: int, rng: random.Random) -> bytes:
    """The first `size` bytes of content, perturbed at the given letters."""
    import numpy as np

    out = np.frombuffer(content[:size], dtype=np.uint8).copy()
    picked = letters[rng.randrange(PERTURB_EVERY) :: PERTURB_EVERY]
    picked = picked[picked < size]
    gen = np.random.default_rng(rng.getrandbits(64))
    out[picked] = 0x61 + gen.integers(0, 26, size=len(picked), dtype=np.uint8)
    return out.tobytes()


def synth(args: argparse.Namespace) -> dict[str, Any]:
    """Scaled sets, each job {"out": DIR, "spec": {...}} writing DIR/blob.bin
    and DIR/manifest.json.

    Spec "verbatim": the pool itself, unchanged. Otherwise artifacts are
    drawn uniformly at random (seeded) from the pool, so types and sizes
    follow the real distribution; each keeps the first ceil(size / scale)
    bytes of the drawn content ("scale", default 1), perturbed as
    _perturb() says, under a new key of the real key's form, until "count"
    artifacts or "bytes" content bytes.
    """
    from torch.compiler._cache import (
        CacheArtifactFactory,
        CacheArtifactManager,
        _serialize_single_cache,
    )
    from torch.utils._appending_byte_serializer import AppendingByteSerializer

    CacheArtifactManager._ensure_cache_artifacts_registered()
    pool = _pool(args.pool)
    letters = [_letters(content) for _, _, content in pool]
    manifests = []
    for job in json.loads(args.jobs):
        spec = job["spec"]
        rng = random.Random(spec.get("seed", 11))
        by_type: dict[str, list[Any]] = {}
        total = 0
        i = 0
        if spec.get("verbatim"):
            for kind, key, content in pool:
                by_type.setdefault(kind, []).append(CacheArtifactFactory.create(kind, key, content))
                total += len(content)
            i = len(pool)
        while (spec.get("count") and i < spec["count"]) or (
            spec.get("bytes") and total < spec["bytes"]
        ):
            drawn = rng.randrange(len(pool))
            kind, real_key, content = pool[drawn]
            size = max(1, -(-len(content) // spec.get("scale", 1)))
            body = _perturb(content, letters[drawn], size, rng)
            by_type.setdefault(kind, []).append(
                CacheArtifactFactory.create(kind, _key(kind, real_key, i, rng), body)
            )
            total += len(body)
            i += 1
        serializer = AppendingByteSerializer(serialize_fn=_serialize_single_cache)
        serializer.extend(by_type.items())
        blob = serializer.to_bytes()
        out = Path(job["out"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "blob.bin").write_bytes(blob)
        manifest = {
            "artifacts": i,
            "content_bytes": total,
            "blob_bytes": len(blob),
            "types": {k: len(v) for k, v in by_type.items()},
            "spec": spec,
            "pool_artifacts": len(pool),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
        manifests.append(manifest)
    return {"sets": manifests}


def load(request: dict[str, Any]) -> dict[str, Any]:
    """torch.compiler.load_cache_artifacts(blob) alone, into request["cache"]
    (torch reads TORCHINDUCTOR_CACHE_DIR at every use); the file is read
    before the clock starts."""
    import torch

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = request["cache"]
    blob = Path(request["blob"]).read_bytes()
    start = time.perf_counter()
    info = torch.compiler.load_cache_artifacts(blob)
    seconds = time.perf_counter() - start
    if info is None:
        raise SystemExit(f"load_cache_artifacts({request['blob']}) returned None")
    files = sum(len(f) for _, _, f in os.walk(request["cache"]))
    return {
        "seconds": seconds,
        "artifacts": sum(len(k) for k in info.artifacts.values()),
        "files": files,
    }


def cp_load(request: dict[str, Any]) -> dict[str, Any]:
    """cachepack.populate(bundle, "torch://CACHE") alone, in the same warm
    interpreter as load(): the like-for-like side of PyTorch's call (the
    CLI's process start and dynamic linking excluded, as torch's import is).
    Reading the bundle's index is inside the call."""
    import cachepack

    start = time.perf_counter()
    report = cachepack.populate(request["bundle"], f"torch://{request['cache']}")
    seconds = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"cachepack.populate({request['bundle']}) failed: {report}")
    return {"seconds": seconds, "artifacts": report.stored}


def codec(request: dict[str, Any]) -> dict[str, Any]:
    """PyTorch's serializer: read = CacheArtifactManager.deserialize(blob) (what
    load_cache_artifacts parses with); write = AppendingByteSerializer over the
    parsed artifacts (what save_cache_artifacts writes with). Per repetition."""
    from torch.compiler._cache import CacheArtifactManager, _serialize_single_cache
    from torch.utils._appending_byte_serializer import AppendingByteSerializer

    CacheArtifactManager._ensure_cache_artifacts_registered()
    blob = Path(request["blob"]).read_bytes()
    reads, writes = [], []
    for _ in range(int(request["reps"])):
        start = time.perf_counter()
        artifacts = CacheArtifactManager.deserialize(blob)
        reads.append(time.perf_counter() - start)
        if artifacts is None:
            raise SystemExit(f"torch cannot read {request['blob']}")
        start = time.perf_counter()
        serializer = AppendingByteSerializer(serialize_fn=_serialize_single_cache)
        serializer.extend(artifacts.items())
        written = serializer.to_bytes()
        writes.append(time.perf_counter() - start)
        if len(written) != len(blob):
            raise SystemExit("torch wrote back a blob of another size")
    return {"read_s": reads, "write_s": writes, "bytes": len(blob)}


def serve() -> None:
    import torch  # noqa: F401 (imported once, before the first request)

    handlers = {"load": load, "cp_load": cp_load, "codec": codec}
    sys.stdout.write('{"ready": true}\n')
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.write(json.dumps(handlers[request["op"]](request)) + "\n")
        sys.stdout.flush()


def warm(args: argparse.Namespace) -> dict[str, Any]:
    """Time from this process's start to the model's first output.

    Modes: cold and dir (nothing loaded: an empty or a populated cache dir),
    torch (load_cache_artifacts of a blob), cp-pytorch and cp-cache-dir
    (cachepack.torch.load of a bundle, via= each way). The load happens
    before torch.compile(), where a precompile entry is read.
    """
    import torch

    from torchsuite.catalog import MODELS
    from torchsuite.models import DRIVERS

    model = MODELS[args.model]
    torch._dynamo.config.caching_precompile = model.caching_precompile
    load_s = 0.0
    start = time.perf_counter()
    if args.mode == "torch":
        if torch.compiler.load_cache_artifacts(Path(args.artifact).read_bytes()) is None:
            raise SystemExit("load_cache_artifacts returned None")
    elif args.mode in ("cp-pytorch", "cp-cache-dir"):
        import cachepack.torch

        cachepack.torch.load(args.artifact, via=args.mode[3:])  # type: ignore[arg-type]
    elif args.mode not in ("cold", "dir"):
        raise SystemExit(f"unknown mode {args.mode}")
    load_s = time.perf_counter() - start
    drive = DRIVERS[model.name](torch.compile)
    first_output = time.perf_counter()
    from torch._dynamo.utils import counters

    # The compile + first call's own clock, minus the later calls.
    first_output -= sum(drive.call_s[1:])
    misses = counters["inductor"].get("fxgraph_cache_miss", 0)
    report: dict[str, Any] = {}
    if args.save_blob:  # The zoo's cold runs keep what they compiled.
        saved = torch.compiler.save_cache_artifacts()
        if saved is None:
            raise SystemExit("save_cache_artifacts() returned None after a compile")
        Path(args.save_blob).write_bytes(saved[0])
    return report | {
        "first_output_s": first_output - STARTED,
        "load_s": load_s,
        "fx_misses": misses,
        "fx_hits": counters["inductor"].get("fxgraph_cache_hit", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m cpbench.torch_ops")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth")
    p.add_argument("--pool", nargs="+", required=True)
    p.add_argument("--jobs", required=True)
    sub.add_parser("serve")
    p = sub.add_parser("warm")
    p.add_argument("--model", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--artifact")
    p.add_argument("--save-blob")
    args = parser.parse_args()
    if args.command == "serve":
        serve()
        return
    handlers = {"synth": synth, "warm": warm}
    sys.stdout.write(json.dumps(handlers[args.command](args)) + "\n")


if __name__ == "__main__":
    main()
