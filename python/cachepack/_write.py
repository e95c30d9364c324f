"""Writing: :func:`write` and :func:`append` bundles, :func:`keygen` for signing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cachepack import _native
from cachepack._bundle import ENVIRONMENT_KEY, Bundle
from cachepack.errors import InvalidArgumentError

Buffer = bytes | bytearray | memoryview
#: What a bundle is made from: the bytes of a Mega-Cache blob (or bundle), a
#: file of either format, an open :class:`Bundle`, or ``(type, key, content)``
#: triples.
Source = Buffer | str | os.PathLike[str] | Bundle | Iterable[tuple[str, str | bytes, Buffer]]

_MAX_THREADS = 256


@dataclass(frozen=True)
class WriteStats:
    """What a write or append did."""

    entries: int  # In the whole bundle (after an append: old and new).
    added: int  # By this call.
    original_bytes: int  # Content bytes added.
    stored_bytes: int  # Their size in the bundle.
    file_size: int


def _native_source(source: Source) -> object:
    if isinstance(source, Bundle):
        return source._native
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return source


def _threads(threads: int | None) -> int:
    return threads if threads is not None else min(os.cpu_count() or 1, _MAX_THREADS)


def _sign_key(sign_key: str | os.PathLike[str] | bytes | None) -> str | bytes | None:
    if sign_key is None or isinstance(sign_key, bytes):
        return sign_key
    return os.fspath(sign_key)


def _user_metadata(
    metadata: Mapping[str, str] | None, environment: Mapping[str, Any] | None
) -> dict[str, str]:
    user = dict(metadata or {})
    if environment is not None:
        if ENVIRONMENT_KEY in user:
            raise InvalidArgumentError(
                f"give the environment as environment=, not as metadata {ENVIRONMENT_KEY!r}"
            )
        user[ENVIRONMENT_KEY] = json.dumps(dict(environment), sort_keys=True)
    return user


def write(
    path: str | os.PathLike[str],
    source: Source,
    *,
    level: int = 3,
    threads: int | None = None,
    dictionaries: bool = False,
    sign_key: str | os.PathLike[str] | bytes | None = None,
    metadata: Mapping[str, str] | None = None,
    environment: Mapping[str, Any] | None = None,
) -> WriteStats:
    """Writes a cachepack bundle at ``path`` from ``source``.

    A Mega-Cache blob keeps its groups, so :meth:`Bundle.to_megacache` gives
    back the same bytes. ``level`` is zstd's 1..22 (0 stores raw); ``threads``
    compress in parallel (default: one per CPU; the bytes do not depend on
    it). ``dictionaries`` makes a zstd dictionary per artifact type from the
    first 16 MiB. ``sign_key`` is an Ed25519 private key (PEM file path or
    PEM bytes, see :func:`keygen`). ``metadata`` is stored as the bundle's
    user metadata and ``environment`` as JSON text under
    ``cachepack.environment`` (:attr:`Bundle.environment`). The file is
    replaced only by a complete bundle.
    """
    return WriteStats(
        **_native.write(
            os.fspath(path),
            _native_source(source),
            False,
            level,
            _threads(threads),
            dictionaries,
            _sign_key(sign_key),
            _user_metadata(metadata, environment),
        )
    )


def append(
    path: str | os.PathLike[str],
    source: Source,
    *,
    level: int = 3,
    threads: int | None = None,
    sign_key: str | os.PathLike[str] | bytes | None = None,
    metadata: Mapping[str, str] | None = None,
) -> WriteStats:
    """Adds ``source``'s artifacts to the bundle at ``path``, crash-safely.

    The new entries, index and footer go after the old footer, which is never
    changed: an interrupted append leaves the old bundle readable. Old
    signatures no longer cover the index and are dropped; pass ``sign_key``
    to sign the new one. ``metadata`` is merged into the bundle's.
    """
    return WriteStats(
        **_native.write(
            os.fspath(path),
            _native_source(source),
            True,
            level,
            _threads(threads),
            False,
            _sign_key(sign_key),
            dict(metadata or {}),
        )
    )


def keygen(path: str | os.PathLike[str]) -> bytes:
    """Writes an Ed25519 key pair as ``cachepack keygen --out PATH`` does.

    The private key goes to ``path`` (PEM, mode 0600), the public key to
    ``path + ".pub"``; returns the public key's 32 bytes.
    :class:`AlreadyExistsError` if either file exists.
    """
    return _native.keygen(os.fspath(path))
