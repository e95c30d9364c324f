"""Moving artifacts: :func:`populate` a cache from a bundle, :func:`pack` caches into one."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cachepack import _native
from cachepack._bundle import Bundle, TrustedKey, _keys
from cachepack.errors import Error, LocalIOError, NotFoundError, PermissionDeniedError

Buffer = bytes | bytearray | memoryview
#: An input: a bundle or blob file's path, an open :class:`Bundle`, or bytes.
Input = str | os.PathLike[str] | Bundle | Buffer


@dataclass(frozen=True)
class TypeSummary:
    """One artifact type's outcome in a populate."""

    stored: int
    skipped: int  # For any reason; superseded and unsupported are among them.
    superseded: int  # A newer artifact with the same key was written instead.
    unsupported: int  # The backend has no place for this type.
    failed: int
    bytes: int  # Content bytes written.


@dataclass(frozen=True)
class PopulateReport:
    """What :func:`populate` did, per artifact type."""

    url: str  # The backend's URL (password masked).
    seconds: float  # Wall time of the whole call.
    by_type: dict[str, TypeSummary]
    # (type, key, error) for each artifact that failed; the others went on.
    failures: list[tuple[str, str, Error]] = field(default_factory=list)
    # What the backend skipped rather than failed on (links in a cache root...).
    notices: list[str] = field(default_factory=list)
    # Environment differences that did not stop the populate (docs/ENVIRONMENT.md):
    # the warning ones, and with ignore_environment the blocking ones too.
    warnings: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Artifacts written."""
        return sum(t.stored for t in self.by_type.values())

    @property
    def skipped(self) -> int:
        """Artifacts not written: present already, superseded or unsupported."""
        return sum(t.skipped for t in self.by_type.values())

    @property
    def failed(self) -> int:
        """Artifacts that could not be written (see :attr:`failures`)."""
        return sum(t.failed for t in self.by_type.values())

    @property
    def bytes(self) -> int:
        """Content bytes written."""
        return sum(t.bytes for t in self.by_type.values())

    @property
    def ok(self) -> bool:
        """True when no artifact failed."""
        return self.failed == 0


@dataclass(frozen=True)
class PackStats:
    """What :func:`pack` wrote."""

    artifacts: int
    duplicates: int  # Identical (type, key, content) seen again, dropped.
    types: int
    bytes: int  # Content bytes.
    file_size: int


def _native_input(source: Input) -> object:
    if isinstance(source, Bundle):
        return source._native
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return source


def populate(
    source: Input,
    url: str,
    *,
    policy: str = "skip-existing",
    threads: int | None = None,
    trusted_keys: Iterable[TrustedKey] | None = None,
    environment: dict[str, Any] | None = None,
    ignore_environment: bool = False,
) -> PopulateReport:
    """Writes every artifact of a bundle or blob into the cache at ``url``.

    ``url`` names a backend: ``mem://``, ``file:///dir``, ``torch:///dir``
    (PyTorch's cache directory), ``redis://host:port``, ``http(s)://...``,
    ``tiered://...`` (docs/BACKENDS.md). ``policy`` is ``skip-existing``
    (PyTorch's insert-if-absent), ``overwrite`` or ``verify`` (overwrite, then
    read back and compare). ``threads`` write in parallel (default 1, which
    batches small artifacts so remote backends pipeline). With
    ``trusted_keys`` the bundle must be signed by one of them, else nothing
    is written (:class:`SignatureError`). A bundle's structure is checked
    before anything is written. Failures of single artifacts do not raise:
    they are in the report's :attr:`~PopulateReport.failures`.

    With ``environment`` (a dict as :func:`cachepack.environment.current`
    returns, put over this machine's native fields), a bundle that recorded
    the environment its artifacts were made in is compared with it first:
    blocking differences raise :class:`EnvironmentMismatchError` naming each
    of them, and nothing is written, unless ``ignore_environment``; the
    other differences are in the report's :attr:`~PopulateReport.warnings`.
    Without ``environment`` nothing is compared.
    """
    raw = _native.populate(
        _native_input(source),
        url,
        policy,
        threads or 1,
        _keys(trusted_keys),
        environment,
        ignore_environment,
    )
    return PopulateReport(
        url=raw["url"],
        seconds=raw["seconds"],
        by_type={t: TypeSummary(**s) for t, s in raw["by_type"].items()},
        failures=list(raw["failures"]),
        notices=list(raw["notices"]),
        warnings=list(raw["warnings"]),
    )


def pack(sources: Iterable[Input], out: str | os.PathLike[str]) -> PackStats:
    """Gathers artifacts from caches, bundles and blobs into one file.

    Each source is a backend URL (``torch:///dir`` for a PyTorch cache
    directory), or a bundle or blob (path, :class:`Bundle` or bytes). Types
    come in first-seen order, identical artifacts once. ``out`` ending in
    ``.cpk`` is written as a bundle, anything else as a Mega-Cache blob; it is
    replaced only by a complete file.
    """
    out = os.fspath(out)
    stats, blob = _native.pack([_native_input(s) for s in sources], out)
    if blob is not None:
        _replace(out, blob)
    return PackStats(**stats)


def _replace(path: str, data: bytes) -> None:
    """Writes ``data`` to a new file beside ``path``, then renames it there."""
    tmp = os.path.join(
        os.path.dirname(path) or ".", f".{os.path.basename(path)}.tmp.{secrets.token_hex(8)}"
    )
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        cls = {
            errno.ENOENT: NotFoundError,
            errno.EACCES: PermissionDeniedError,
            errno.EPERM: PermissionDeniedError,
        }.get(e.errno or 0, LocalIOError)
        raise cls(f"write failed: {e.strerror}", file=path) from e
