"""Writes real Mega-Cache blobs of the installed PyTorch, with manifests.

    .venv/bin/python tools/make_torch_vectors.py [--out tests/vectors/torch-2.13]

For each model (torchsuite models mlp, dynamic, precompile: together they
make 4 of torch 2.13's 5 types; `autotune` needs Triton, so no CPU run makes
it), a cold run in a fresh process with empty cache dirs saves the blob;
a second fresh process loads it with load_cache_artifacts() into an empty
dir and reports which files PyTorch's populate wrote. The manifest records:
torch version, groups in order, per artifact type, key, size, SHA-256 and
content offset (read by an independent parser and checked against PyTorch's
deserializer), and PyTorch's populate files. tests/torch_vectors_test.cc
checks cachepack against them. Contents differ on every run (pickles of
compiled graphs), so rerunning rewrites every file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "torch"))

from torchsuite import blobs, tree  # noqa: E402
from torchsuite.catalog import MODELS, Model  # noqa: E402
from torchsuite.runner import Runner, default_python  # noqa: E402

VECTOR_MODELS = ("mlp", "dynamic", "precompile")


def how_made(model: Model) -> str:
    parts = [f"tests/torch/torchsuite/models.py model {model.name!r}, cold, CPU"]
    if model.job_id:
        parts.append(f"TORCH_COMPILE_JOB_ID={model.job_id}")
    if model.caching_precompile:
        parts.append("torch._dynamo.config.caching_precompile=True")
    return "; ".join(parts) + "; then torch.compiler.save_cache_artifacts()"


def make_vector(runner: Runner, model: Model, out: Path) -> dict[str, Any]:
    cold = runner.new_dir(model.name, "cold")
    blob_path = cold.root / "blob.bin"
    saved = runner.child(cold, model, "run", "--model", model.name, "--save-blob", str(blob_path))
    blob = blob_path.read_bytes()
    parsed = blobs.parse(blob)
    torch_groups = [blobs.Listed(**a) for a in saved["save"]["torch_groups"]]
    if [a.listed() for a in parsed.artifacts] != torch_groups:
        raise SystemExit(f"{model.name}: the pure-Python reader disagrees with PyTorch's")
    load = runner.new_dir(model.name, "load")
    loaded = runner.child(
        load, model, "run", "--model", model.name, "--load-blob", str(blob_path), "--no-compile"
    )["load"]
    manifest = {
        "generator": "tools/make_torch_vectors.py",
        "torch": saved["torch"],
        "python": platform.python_version(),
        "how": how_made(model),
        "size": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "crc32": f"{parsed.crc32:08x}",
        "groups": [{"type": g.type, "count": g.count, "offset": g.offset} for g in parsed.groups],
        "artifacts": [
            {
                "type": a.type,
                "key": a.key,
                "size": len(a.content),
                "sha256": hashlib.sha256(a.content).hexdigest(),
                "offset": a.offset,
                "group": a.group,
            }
            for a in parsed.artifacts
        ],
        # What load_cache_artifacts() keeps (each type's last group).
        "torch_view": saved["save"]["torch_view"],
        "torch_load": {
            "cache_info": loaded["cache_info"],
            # Relative to TORCHINDUCTOR_CACHE_DIR; FileLock's .lock files left out.
            "files": tree.without_locks(loaded["files"]),
        },
    }
    (out / f"{model.name}.bin").write_bytes(blob)
    (out / f"{model.name}.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "vectors" / "torch-2.13")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="torch-vectors-") as work:
        runner = Runner(default_python(), Path(work))
        for name in VECTOR_MODELS:
            manifest = make_vector(runner, MODELS[name], args.out)
            types = ", ".join(f"{g['type']} {g['count']}" for g in manifest["groups"])
            size, version = manifest["size"], manifest["torch"]
            print(f"{args.out / name}.bin: {size} bytes, torch {version}: {types}")


if __name__ == "__main__":
    main()
