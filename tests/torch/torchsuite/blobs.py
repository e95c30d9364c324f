"""Mega-Cache blobs seen three ways, to compare cachepack with PyTorch.

- parse(): an independent pure-Python reader that also reports offsets
  (for the committed vectors' manifests).
- torch_view() / torch_groups(): PyTorch's own deserializer. torch_view()
  is what load_cache_artifacts() sees: deserialize() ends in
  dict(list_of_groups), so of a type stored in several groups (several
  save_cache_artifacts() calls in one process) only the last group is kept,
  at the first group's position. torch_groups() keeps every group.
  Both import torch: call them in a child process only.
- The blob layout (docs/MEGACACHE.md): u32be crc32(bytes[4:]) | u64be 1 |
  group* := str type, u64be count, count x (str key, bytes content);
  str := u64be length + base64(utf8), bytes := u64be length + raw.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Listed:
    """One artifact as `cachepack ls --json` prints it."""

    type: str
    key: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass(frozen=True)
class ParsedArtifact:
    type: str
    key: str
    content: bytes
    offset: int  # Of the content's first byte.
    group: int

    def listed(self) -> Listed:
        return Listed(
            self.type, self.key, len(self.content), hashlib.sha256(self.content).hexdigest()
        )


@dataclass(frozen=True)
class ParsedGroup:
    type: str
    count: int
    offset: int  # Of the group's type field.


@dataclass(frozen=True)
class ParsedBlob:
    crc32: int
    groups: list[ParsedGroup]
    artifacts: list[ParsedArtifact]


class BlobError(ValueError):
    pass


def parse(blob: bytes) -> ParsedBlob:
    """Reads a whole blob, checking every length against what is left."""
    if len(blob) < 12:
        raise BlobError(f"too short: {len(blob)} bytes")
    (crc,) = struct.unpack_from(">I", blob, 0)
    if zlib.crc32(blob[4:]) != crc:
        raise BlobError("checksum mismatch")
    pos = 4

    def u64() -> int:
        nonlocal pos
        if pos + 8 > len(blob):
            raise BlobError(f"u64 cut off at offset {pos}")
        (value,) = struct.unpack_from(">Q", blob, pos)
        pos += 8
        return value

    def raw() -> tuple[bytes, int]:
        nonlocal pos
        at = pos
        n = u64()
        if n > len(blob) - pos:
            raise BlobError(f"length {n} at offset {at} overruns the blob")
        pos += n
        return blob[pos - n : pos], pos - n

    def text() -> str:
        return base64.b64decode(raw()[0], validate=True).decode("utf-8")

    if (version := u64()) != 1:
        raise BlobError(f"version {version}")
    groups: list[ParsedGroup] = []
    artifacts: list[ParsedArtifact] = []
    while pos < len(blob):
        group_offset = pos
        type_name = text()
        count = u64()
        for _ in range(count):
            key = text()
            content, offset = raw()
            artifacts.append(ParsedArtifact(type_name, key, content, offset, len(groups)))
        groups.append(ParsedGroup(type_name, count, group_offset))
    return ParsedBlob(crc, groups, artifacts)


def listing(blob: bytes) -> list[Listed]:
    return [a.listed() for a in parse(blob).artifacts]


def torch_groups(blob: bytes) -> list[Listed]:
    """Every artifact of every group, read by PyTorch's deserializer."""
    from torch.compiler._cache import CacheArtifactManager, _deserialize_single_cache
    from torch.utils._appending_byte_serializer import AppendingByteSerializer

    CacheArtifactManager._ensure_cache_artifacts_registered()
    groups = AppendingByteSerializer.to_list(blob, deserialize_fn=_deserialize_single_cache)
    return [_listed(type_name, a.key, a.content) for type_name, arts in groups for a in arts]


def torch_view(blob: bytes) -> list[Listed]:
    """What load_cache_artifacts() would populate, in its order."""
    from torch.compiler._cache import CacheArtifactManager

    artifacts = CacheArtifactManager.deserialize(blob)
    if artifacts is None:
        raise BlobError("PyTorch's deserializer refused the blob")
    return [
        _listed(type_name, a.key, a.content) for type_name, arts in artifacts.items() for a in arts
    ]


def _listed(type_name: str, key: str, content: bytes) -> Listed:
    return Listed(type_name, key, len(content), hashlib.sha256(content).hexdigest())
