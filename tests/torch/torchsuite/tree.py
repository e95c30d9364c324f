"""What a directory holds: relative path -> size and SHA-256 of each file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TypedDict


class FileInfo(TypedDict):
    size: int
    sha256: str


def snapshot(root: Path) -> dict[str, FileInfo]:
    out: dict[str, FileInfo] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            out[path.relative_to(root).as_posix()] = {
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    return out


def without_locks(files: dict[str, FileInfo]) -> dict[str, FileInfo]:
    """Drops lock files (PyTorch's FileLock leaves `<file>.lock` behind)."""
    return {p: f for p, f in files.items() if not p.endswith(".lock")}
