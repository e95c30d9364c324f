"""PyTorch's compile caches in one call: :func:`save` after compiling, :func:`load` before.

:func:`save` takes what this process compiled (``torch.compiler.
save_cache_artifacts()``, PyTorch's Mega-Cache) and writes it, with the
environment it was made in (:func:`cachepack.environment.current`), into a
bundle. :func:`load` checks a bundle's recorded environment against this
process's first, then hands the artifacts to PyTorch (``via="pytorch"``:
``torch.compiler.load_cache_artifacts()``) or writes them into PyTorch's
cache directory (``via="cache-dir"``), so that the next compile hits.
:func:`explain` says what loading would do. This module imports torch; the
rest of cachepack does not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from cachepack import _write, environment
from cachepack._bundle import TrustedKey, open
from cachepack._explain import Explanation
from cachepack._explain import explain as _explain
from cachepack._populate import populate
from cachepack.errors import EnvironmentMismatchError, NotFoundError


@dataclass(frozen=True)
class SaveReport:
    """What :func:`save` wrote."""

    path: str
    artifacts: dict[str, int]  # Per artifact type, as PyTorch's CacheInfo counts them.
    bytes: int  # Size of PyTorch's Mega-Cache blob.
    file_size: int  # Size of the bundle written.
    seconds: float  # Wall time of the call.


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load` did."""

    via: str  # "pytorch" or "cache-dir".
    # Per type: for "pytorch" the artifacts PyTorch loaded ({"loaded": n}),
    # for "cache-dir" {"stored": n, "skipped": n}.
    by_type: dict[str, dict[str, int]]
    # Environment differences that did not stop the load (and, with
    # ignore_environment, those that would have).
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cache_dir: str | None = None  # With via="cache-dir": the directory filled.


def cache_dir() -> str:
    """PyTorch's cache directory, resolved as Inductor resolves it.

    ``TORCHINDUCTOR_CACHE_DIR`` when set, else Inductor's default under the
    temporary directory, named after the user
    (``torch._inductor.runtime.cache_dir_utils.cache_dir()``).
    """
    from torch._inductor.runtime import cache_dir_utils

    return os.path.abspath(cache_dir_utils.cache_dir())


def save(
    path: str | os.PathLike[str],
    *,
    sign_key: str | os.PathLike[str] | bytes | None = None,
    level: int = 3,
) -> SaveReport:
    """Writes what this process compiled into a bundle at ``path``, with its environment.

    The artifacts are ``torch.compiler.save_cache_artifacts()``: everything
    compiled (or loaded from a cache) since the process started or the cache
    was last reset. Nothing compiled is a :class:`cachepack.NotFoundError`.
    ``sign_key`` signs the bundle (a PEM file or its bytes); ``level`` is the
    zstd level.
    """
    start = time.monotonic()
    saved = torch.compiler.save_cache_artifacts()
    if saved is None:
        raise NotFoundError(
            "torch.compiler.save_cache_artifacts() returned nothing: this process has "
            "compiled nothing to save (torch.compile a model and run it first)",
            file=os.fspath(path),
        )
    blob, info = saved
    env = environment.current()
    stats = _write.write(path, blob, level=level, sign_key=sign_key, environment=env)
    return SaveReport(
        path=os.fspath(path),
        artifacts={t: len(keys) for t, keys in info.artifacts.items()},
        bytes=len(blob),
        file_size=stats.file_size,
        seconds=time.monotonic() - start,
    )


def _check_environment(
    recorded: dict[str, Any] | None, here: dict[str, Any], path: str, ignore: bool
) -> list[str]:
    """The warnings; raises EnvironmentMismatchError for blocking differences unless ignored."""
    if recorded is None:
        return []
    if ignore:
        return [
            d.message + (" (ignore_environment)" if d.blocks else "")
            for d in environment.compare(recorded, here)
        ]
    return [d.message for d in environment.require_compatible(recorded, here, path)]


def load(
    path: str | os.PathLike[str],
    *,
    trusted_keys: Iterable[TrustedKey] | None = None,
    via: Literal["pytorch", "cache-dir"] = "pytorch",
    ignore_environment: bool = False,
) -> LoadReport:
    """Warms this process's PyTorch from a bundle (or Mega-Cache blob) at ``path``.

    With ``trusted_keys`` the bundle must be signed by one of them, and every
    content is checked against its signed digest. The environment the bundle
    recorded is compared with :func:`cachepack.environment.current`: blocking
    differences (another torch, Triton, CUDA, GPU, CPU target) raise
    :class:`cachepack.EnvironmentMismatchError` before anything is loaded,
    unless ``ignore_environment``. Then ``via="pytorch"`` gives the
    artifacts to ``torch.compiler.load_cache_artifacts()`` (in memory, for
    this process and the caches it writes), and ``via="cache-dir"`` writes
    them into PyTorch's cache directory (:func:`cache_dir`), skipping what
    is there, for this and later processes.
    """
    if via not in ("pytorch", "cache-dir"):
        from cachepack.errors import InvalidArgumentError

        raise InvalidArgumentError(f'via is "pytorch" or "cache-dir", not {via!r}')
    start = time.monotonic()
    name = os.fspath(path)
    here = environment.current()
    with open(name, trusted_keys=trusted_keys) as bundle:
        if trusted_keys is not None:
            bundle.verify(trusted_keys=trusted_keys)
        warnings = _check_environment(bundle.environment, here, name, ignore_environment)
        if via == "pytorch":
            info = torch.compiler.load_cache_artifacts(bundle.to_megacache())
            by_type = (
                {t: {"loaded": len(keys)} for t, keys in info.artifacts.items()} if info else {}
            )
            return LoadReport(
                via=via, by_type=by_type, warnings=warnings, seconds=time.monotonic() - start
            )
        directory = cache_dir()
        # The environment was checked above, against the full one.
        report = populate(bundle, f"torch://{directory}", trusted_keys=trusted_keys)
    return LoadReport(
        via=via,
        by_type={t: {"stored": s.stored, "skipped": s.skipped} for t, s in report.by_type.items()},
        warnings=warnings + list(report.notices),
        seconds=time.monotonic() - start,
        cache_dir=directory,
    )


def explain(path: str | os.PathLike[str], *, max_keys: int = 10) -> Explanation:
    """What :func:`load` with ``via="cache-dir"`` would do here, writing nothing.

    The bundle's recorded environment against
    :func:`cachepack.environment.current`, then per artifact type its keys
    against PyTorch's local cache directory (:func:`cache_dir`).
    """
    return _explain(
        path,
        f"torch://{cache_dir()}",
        environment=environment.current(),
        max_keys=max_keys,
    )


__all__ = [
    "EnvironmentMismatchError",
    "LoadReport",
    "SaveReport",
    "cache_dir",
    "explain",
    "load",
    "save",
]
