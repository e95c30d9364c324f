"""PyTorch's runtime caches in cachepack's C++ library (docs/RUNTIME.md).

:func:`pickle_dumps` / :func:`pickle_loads` are cachepack's pickle codec for
the kinds PyTorch's runtime caches hold (None, bool, int, str, bytes, tuple,
list, dict): ``pickle_dumps(x) == pickle.dumps(x)`` for those. The caches
follow ``torch/_inductor/cache.py``: ``get(key)`` returns the value or None,
``insert(key, value)`` stores only if the key is absent and says whether it
did. :class:`OnDiskCache` reads and writes the files torch's ``OnDiskCache``
and ``InductorOnDiskCache`` use. :class:`Memoizer`, :class:`PersistentMemoizer`
and :func:`isolation_key` are torch 2.13's generation-B memoizers and
isolation key (``runtime/caching``). Failures raise :class:`cachepack.Error`.
"""

from __future__ import annotations

from cachepack import _native
from cachepack._interfaces import (
    DeterministicMemoCache,
    Hit,
    MemoCache,
    dcache,
    default_isolation_key,
    fcache,
    icache,
    parse_python_literal,
)
from cachepack._memo import (
    DeferredRecording,
    InterimResult,
    Memoizer,
    PersistentMemoizer,
    isolation_key,
    make_key,
)
from cachepack.errors import (
    CacheError,
    CustomParamsEncoderRequiredError,
    CustomResultDecoderRequiredError,
    CustomResultEncoderRequiredError,
    DeterministicCachingDisabledError,
    DeterministicCachingIMCDumpConflictError,
    DeterministicCachingInvalidConfigurationError,
    DeterministicCachingRequiresStrongConsistencyError,
    FileLockTimeoutError,
    KeyEncodingError,
    KeyPicklingError,
    LockTimeoutError,
    StrictDeterministicCachingInsertionError,
    StrictDeterministicCachingKeyNotFoundError,
    SystemError,  # noqa: A004
    UserError,
    ValueDecodingError,
    ValueEncodingError,
    ValuePicklingError,
    ValueUnPicklingError,
)

InMemoryCache = _native.InMemoryCache
OnDiskCache = _native.OnDiskCache
# An exclusive lock file torch's FileLock respects: FileLock.acquire(path,
# timeout=None) (None: 60 s; -1: wait forever; 0: one try), .release().
FileLock = _native.FileLock


def pickle_dumps(obj: object, protocol: int = 4) -> bytes:
    """``pickle.dumps(obj, protocol)`` by cachepack's codec (protocol 4 or 5)."""
    return _native.pickle_dumps(obj, protocol)


def pickle_loads(data: bytes | bytearray | memoryview) -> object:
    """``pickle.loads(data)`` for the supported kinds; anything else raises."""
    return _native.pickle_loads(data)


def inductor_on_disk_cache() -> OnDiskCache:
    """torch's ``InductorOnDiskCache()``: ``default_cache_dir()/cache/inductor_on_disk_cache``."""
    return OnDiskCache.inductor()


def gettempdir() -> str:
    """``tempfile.gettempdir()`` as cachepack computes it (the root of ``OnDiskCache``)."""
    return _native.python_gettempdir()


def torch_default_cache_dir() -> str:
    """torch's ``default_cache_dir()`` as cachepack computes it."""
    return _native.torch_default_cache_dir()


__all__ = [
    "DeterministicMemoCache",
    "Hit",
    "MemoCache",
    "dcache",
    "default_isolation_key",
    "fcache",
    "icache",
    "parse_python_literal",
    "KeyPicklingError",
    "ValuePicklingError",
    "ValueUnPicklingError",
    "CustomParamsEncoderRequiredError",
    "CustomResultEncoderRequiredError",
    "CustomResultDecoderRequiredError",
    "DeterministicCachingDisabledError",
    "DeterministicCachingRequiresStrongConsistencyError",
    "StrictDeterministicCachingKeyNotFoundError",
    "DeterministicCachingInvalidConfigurationError",
    "StrictDeterministicCachingInsertionError",
    "DeterministicCachingIMCDumpConflictError",
    "CacheError",
    "DeferredRecording",
    "InterimResult",
    "Memoizer",
    "PersistentMemoizer",
    "isolation_key",
    "make_key",
    "FileLock",
    "FileLockTimeoutError",
    "InMemoryCache",
    "KeyEncodingError",
    "LockTimeoutError",
    "SystemError",
    "UserError",
    "ValueDecodingError",
    "ValueEncodingError",
    "OnDiskCache",
    "gettempdir",
    "inductor_on_disk_cache",
    "pickle_dumps",
    "pickle_loads",
    "torch_default_cache_dir",
]
