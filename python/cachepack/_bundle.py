"""Reading: :func:`open` a bundle or a Mega-Cache blob as a :class:`Bundle`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from cachepack import _native
from cachepack.errors import DataLossError

#: The bundle metadata key under which the compile environment is stored, as
#: JSON text (the C++ environment model reads and writes the same key).
ENVIRONMENT_KEY = "cachepack.environment"

#: A trusted public key: a PEM file's path, or the key's bytes (32 raw bytes
#: or PEM text).
TrustedKey = str | os.PathLike[str] | bytes


@dataclass(frozen=True)
class Artifact:
    """One artifact as listed, from a bundle's index or a blob's structure."""

    type: str
    key: str
    size: int
    sha256: str  # Lowercase hex of the content's SHA-256.
    registered: bool  # Whether cachepack knows the type (else carried unchanged).


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`Bundle.verify` checked."""

    format: str
    entries: int
    original_bytes: int
    stored_bytes: int
    valid_signatures: int
    trusted_signatures: int
    summary: str  # The summary `cachepack verify` prints after "ok: FILE: FORMAT, ".


def _keys(trusted_keys: Iterable[TrustedKey] | None) -> list[str | bytes] | None:
    if trusted_keys is None:
        return None
    if isinstance(trusted_keys, str | bytes | os.PathLike):
        trusted_keys = [trusted_keys]
    return [os.fspath(k) if isinstance(k, os.PathLike) else k for k in trusted_keys]


class Bundle:
    """An open cachepack bundle or PyTorch Mega-Cache blob, memory-mapped.

    Opening reads a bundle's index (or a blob's structure) only; contents are
    read when asked for. ``len()`` is the number of artifacts and iteration
    yields :class:`Artifact` records in stored order. A Bundle may be used
    from several threads at once; its calls release the GIL. Use it as a
    context manager, or :meth:`close` it, to unmap the file (views returned
    by :meth:`read` keep their bytes mapped until they are released).
    """

    def __init__(self, native: _native.Bundle) -> None:
        """Wraps an opened native bundle; use :func:`cachepack.open`."""
        self._native = native
        self._artifacts: list[Artifact] | None = None

    @property
    def path(self) -> str:
        """The file's path as given to :func:`open`."""
        return self._native.path

    @property
    def format(self) -> str:
        """``"cachepack"`` for a bundle, ``"pytorch-megacache"`` for a blob."""
        return self._native.format

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def __len__(self) -> int:
        return len(self._native)

    def artifacts(self) -> list[Artifact]:
        """Every artifact in stored order (a blob's SHA-256s computed once)."""
        if self._artifacts is None:
            self._artifacts = [Artifact(*row) for row in self._native.artifacts()]
        return self._artifacts

    def __iter__(self) -> Iterator[Artifact]:
        return iter(self.artifacts())

    def read(self, type: str, key: str | bytes) -> bytes | memoryview:
        """The content of the artifact ``(type, key)``; the last one if repeated.

        Content stored as is (a blob's, or a bundle entry stored raw) comes as
        a read-only ``memoryview`` of the mapped file, without a copy, after
        its checksum is verified; compressed content as ``bytes``. Raises
        :class:`NotFoundError` when there is no such artifact.
        """
        return self._native.read(type, key)

    def verify(self, trusted_keys: Iterable[TrustedKey] | None = None) -> VerifyReport:
        """Checks everything, as ``cachepack verify`` does.

        A bundle's structure, footers, signatures and every entry's digests;
        with ``trusted_keys``, also a valid signature by one of them
        (:class:`SignatureError` otherwise; a blob, which cannot be signed,
        always fails then). Raises the error of the first check that fails.
        """
        return VerifyReport(**self._native.verify(_keys(trusted_keys)))

    @property
    def metadata(self) -> dict[str, Any]:
        """A bundle's metadata: ``producer``, ``producer_version``,
        ``creation_unix_seconds`` (when recorded) and ``user`` (a dict of
        str). Empty for a blob, which has none."""
        return self._native.metadata()

    @property
    def environment(self) -> dict[str, Any] | None:
        """The compile environment stored with :func:`write`'s
        ``environment=``, parsed from the metadata key
        ``cachepack.environment``; None when there is none."""
        text = self.metadata.get("user", {}).get(ENVIRONMENT_KEY)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError as e:
            raise DataLossError(
                f"metadata {ENVIRONMENT_KEY} is not JSON: {e}", file=self.path
            ) from None
        if not isinstance(value, dict):
            raise DataLossError(f"metadata {ENVIRONMENT_KEY} is not a JSON object", file=self.path)
        return value

    def to_megacache(self) -> bytes:
        """The artifacts as a PyTorch Mega-Cache blob, ready for
        ``torch.compiler.load_cache_artifacts()``: a blob's own bytes, or the
        blob a bundle was made from (its groups and order kept)."""
        return self._native.to_megacache()

    def close(self) -> None:
        """Unmaps the file; later calls raise :class:`InvalidArgumentError`."""
        self._native.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<cachepack.Bundle closed>"
        return f"<cachepack.Bundle {self.path!r} {self.format}, {len(self)} artifacts>"


def open(
    path: str | os.PathLike[str],
    *,
    trusted_keys: Iterable[TrustedKey] | None = None,
    allow_older_version: bool = False,
) -> Bundle:
    """Opens a cachepack bundle or a PyTorch Mega-Cache blob, told apart by its bytes.

    With ``trusted_keys`` a bundle must carry a valid signature by one of
    them (:class:`SignatureError`), and every read checks the content's
    SHA-256. A bundle whose newest version is damaged is an error unless
    ``allow_older_version``, which opens the newest intact earlier version.
    A corrupt blob raises :class:`DataLossError` naming the offset.
    """
    return Bundle(_native.open(os.fspath(path), _keys(trusted_keys), allow_older_version))
