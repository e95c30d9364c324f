"""fcache, dcache and icache: generation A of torch's runtime/caching.

torch 2.13 no longer ships them; this follows the shared spec (sections 3.1
and 3.3) over cachepack's C++ caches (``cachepack/runtime_interfaces.h``). The
configuration is read once per process from torch's variables
(``TORCHINDUCTOR_ENABLE_CACHING_MODULE``,
``TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING``, the four determinism modes,
``TORCHINDUCTOR_PRE_POPULATE_DETERMINISTIC_CACHE``) plus
``CACHEPACK_DETERMINISTIC_CACHE_URL`` for GLOBAL mode. docs/RUNTIME.md.
"""

from __future__ import annotations

import atexit
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from cachepack import _native

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Hit:
    """A cache hit; ``value`` may be None, which a miss (None) is not."""

    value: Any


def default_isolation_key() -> str:
    """torch's ``_isolation_key()`` (default schema), computed by cachepack
    from this process's torch; ``""`` when torch is not importable."""
    return _isolation_key(None, None)


def _isolation_key(key: str | None, ischema: Mapping[str, object] | None) -> str:
    # An explicit key wins; else the schema's (torch's IsolationSchema dict),
    # else the default schema's. Without torch there is no context to hash.
    if key is not None:
        return key
    try:
        import torch  # noqa: F401
    except ImportError:
        if ischema is not None:
            raise
        return ""
    from cachepack._memo import isolation_key

    return isolation_key(ischema)


def _name(fn: Callable[..., Any] | str) -> str:
    return fn if isinstance(fn, str) else str(fn.__name__)


class MemoCache:
    """torch's ``_CacheIntf``: ``get``, ``insert`` and the ``record`` decorator.

    ``fn`` is the function or its name (the key uses ``fn.__name__``);
    ``params`` is ``(args, kwargs)``. The key's isolation part is
    ``isolation_key`` when given, else that of ``ischema`` (torch's
    ``IsolationSchema`` dict, hashed by :func:`cachepack.runtime.isolation_key`
    from this process's torch), else the default schema's.
    """

    def __init__(self, native: Callable[[], Any]) -> None:
        self._native = native

    def get(
        self,
        fn: Callable[..., Any] | str,
        params: object,
        isolation_key: str | None = None,
        custom_params_encoder: Callable[..., Any] | None = None,
        custom_result_decoder: Callable[[Any], Any] | None = None,
        *,
        ischema: Mapping[str, object] | None = None,
    ) -> Hit | None:
        """The cached value, decoded, as a :class:`Hit`; None on a miss."""
        ikey = _isolation_key(isolation_key, ischema)
        got = self._native().get(_name(fn), params, ikey, custom_params_encoder)
        if got is None:
            return None
        value = got[0]
        return Hit(custom_result_decoder(value) if custom_result_decoder else value)

    def insert(
        self,
        fn: Callable[..., Any] | str,
        params: object,
        result: object,
        isolation_key: str | None = None,
        custom_params_encoder: Callable[..., Any] | None = None,
        custom_result_encoder: Callable[[Any], Any] | None = None,
        *,
        ischema: Mapping[str, object] | None = None,
    ) -> bool:
        """Insert-if-absent of the (encoded) result; whether it was stored."""
        ikey = _isolation_key(isolation_key, ischema)
        return bool(
            self._native().insert(
                _name(fn), params, result, ikey, custom_params_encoder, custom_result_encoder
            )
        )

    def record(
        self,
        isolation_key: str | None = None,
        custom_params_encoder: Callable[..., Any] | None = None,
        custom_result_encoder: Callable[[Any], Any] | None = None,
        custom_result_decoder: Callable[[Any], Any] | None = None,
        *,
        ischema: Mapping[str, object] | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """A decorator memoizing ``fn`` by its arguments.

        An encoder without its decoder (or the reverse) raises here, as
        torch's does at decoration; with the caching module off the function
        is only called.
        """
        _native.check_result_coders(
            custom_result_encoder is not None, custom_result_decoder is not None
        )

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                if not _native.memo_caching_module_enabled():
                    return fn(*args, **kwargs)
                ikey = _isolation_key(isolation_key, ischema)
                cached, value = self._native().record(
                    _name(fn),
                    args,
                    kwargs,
                    fn,
                    ikey,
                    custom_params_encoder,
                    custom_result_encoder,
                )
                if cached and custom_result_decoder is not None:
                    return custom_result_decoder(value)  # type: ignore[no-any-return]
                return value  # type: ignore[no-any-return]

            return wrapper

        return decorate


class DeterministicMemoCache(MemoCache):
    """torch's ``_DeterministicCacheIntf``, with :meth:`dump` (also run at exit)."""

    def dump(self) -> str | None:
        """Merge memory into ``<default_cache_dir>/cache/dcache_dump/imc.save``; its path."""
        return self._native().dump()  # type: ignore[no-any-return]


_dcache_used = False


def _native_dcache() -> _native.DeterministicMemoCache:
    global _dcache_used
    cache = _native.dcache()  # Raises the configuration's error, every time.
    _dcache_used = True
    return cache


fcache = MemoCache(_native.fcache)
dcache = DeterministicMemoCache(_native_dcache)

# dcache when TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING=1, else fcache.
icache: MemoCache = dcache if _native.deterministic_caching_enabled() else fcache


def _dump_at_exit() -> None:
    # As torch's atexit hook, registered when its dcache is made: only a
    # dcache this process used dumps.
    if _dcache_used:
        dcache.dump()


atexit.register(_dump_at_exit)


def parse_python_literal(text: str) -> object:
    """``ast.literal_eval`` for the kinds the caches hold (typed errors otherwise)."""
    return _native.parse_python_literal(text)
