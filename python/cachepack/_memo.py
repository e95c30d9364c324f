"""torch 2.13's generation-B memoizers and isolation key over cachepack's C++ library.

The decorators follow ``torch/_inductor/runtime/caching/interfaces.py`` line
for line: they call the user's function and encoders (Python callables); the
key (``sha256(pickle.dumps(params)).hexdigest()[:32]``), the caches, the
files (``pickle.dumps(CacheEntry)`` after the version header, as torch's
``_OnDiskCacheImpl`` writes them) and the JSON dump are cachepack's C++
(``cachepack/runtime_memo.h``). Parameters and results go through
cachepack's pickle codec, so they must be None, bool, int, str, bytes,
tuple, list or dict (anything else raises
:class:`cachepack.errors.KeyEncodingError` / ``ValueEncodingError``).
``DeferredRecording`` and ``InterimResult`` are torch's, in Python only.
"""

from __future__ import annotations

import atexit
import functools
import json
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import cast

from cachepack import _native

_Fn = Callable[..., object]
ParamsEncoder = Callable[..., object]
# factory(fn) -> params_to_encoder(*args, **kwargs) -> encoder(result)
ResultEncoderFactory = Callable[[_Fn], Callable[..., Callable[[object], object]]]
ResultDecoderFactory = Callable[[_Fn], Callable[..., Callable[[object], object]]]

_RUNTIME_FORMS = (
    "inductor_configs",
    "torch_determinism_configs",
    "cuda_matmul_precision_configs",
)
_COMPILE_FORMS = (
    "torch_version_hash",
    "triton_version_hash",
    "runtime",
    "runtime_version",
    "accelerator_properties",
)


def _enabled() -> bool:
    return bool(_native.runtime_config()["caching_module_enabled"])


def make_key(custom_params_encoder: ParamsEncoder | None, *args: object, **kwargs: object) -> str:
    """torch's ``_BaseMemoizer._make_key``."""
    if custom_params_encoder is None:
        return cast(str, _native.memo_key((args, kwargs)))
    return cast(str, _native.memo_key(custom_params_encoder(*args, **kwargs)))


def _encoded_params(
    custom_params_encoder: ParamsEncoder | None, args: tuple[object, ...], kwargs: dict[str, object]
) -> object:
    if custom_params_encoder is not None:
        return custom_params_encoder(*args, **kwargs)
    return {"args": args, "kwargs": kwargs}


def _always_miss(fn: _Fn) -> _Fn:
    @functools.wraps(fn)
    def always_miss(*args: object, **kwargs: object) -> object:
        raise KeyError("Caching is disabled")

    return always_miss


class InterimResult:
    """torch's ``InterimResult``: the value ``make_interim_result()`` returned."""

    def __init__(self, value: object) -> None:
        self.value = value


class DeferredRecording:
    """torch's ``DeferredRecording``: a result encoder returns it to record later.

    The memoizer registers a callback; the encoder calls ``finalize(encoded)``
    when the encoded result is ready, and the entry is stored then. While it
    is pending, replay returns ``make_interim_result()`` if one was given.
    Callbacks run under the internal lock, in registration order; they must
    not call back into this object.
    """

    def __init__(self, make_interim_result: Callable[[], object] | None = None) -> None:
        self._callbacks: list[Callable[[object], None]] | None = []
        self._encoded_result: object = None
        self._lock = threading.Lock()
        self.make_interim_result = make_interim_result

    def finalize(self, encoded_result: object) -> None:
        with self._lock:
            if self._callbacks is None:
                raise RuntimeError("finalize() called multiple times on DeferredRecording")
            self._encoded_result = encoded_result
            callbacks, self._callbacks = self._callbacks, None
            for callback in callbacks:
                callback(encoded_result)

    def register_callback(self, callback: Callable[[object], None]) -> None:
        with self._lock:
            if self._callbacks is None:
                callback(self._encoded_result)
            else:
                self._callbacks.append(callback)

    def get_interim_result(self) -> InterimResult | None:
        with self._lock:
            if self.make_interim_result is not None:
                return InterimResult(self.make_interim_result())
            return None


class _BaseMemoizer:
    def record(
        self,
        custom_params_encoder: ParamsEncoder | None = None,
        custom_result_encoder: ResultEncoderFactory | None = None,
    ) -> Callable[[_Fn], _Fn]:
        raise NotImplementedError

    def replay(
        self,
        custom_params_encoder: ParamsEncoder | None = None,
        custom_result_decoder: ResultDecoderFactory | None = None,
    ) -> Callable[[_Fn], _Fn]:
        raise NotImplementedError

    def memoize(
        self,
        custom_params_encoder: ParamsEncoder | None = None,
        custom_result_encoder: ResultEncoderFactory | None = None,
        custom_result_decoder: ResultDecoderFactory | None = None,
    ) -> Callable[[_Fn], _Fn]:
        """Replay, and record on a miss (torch's ``memoize``)."""

        def wrapper(fn: _Fn) -> _Fn:
            if not _enabled():
                return fn
            replay_fn = self.replay(custom_params_encoder, custom_result_decoder)(fn)
            record_fn = self.record(custom_params_encoder, custom_result_encoder)(fn)

            @functools.wraps(fn)
            def inner(*args: object, **kwargs: object) -> object:
                try:
                    return replay_fn(*args, **kwargs)
                except KeyError:
                    return record_fn(*args, **kwargs)

            return inner

        return wrapper


def _encode_result(
    fn: _Fn,
    custom_result_encoder: ResultEncoderFactory | None,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    result: object,
) -> object:
    if custom_result_encoder is None:
        return result
    return custom_result_encoder(fn)(*args, **kwargs)(result)


def _decode_result(
    fn: _Fn,
    custom_result_decoder: ResultDecoderFactory | None,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    encoded: object,
) -> object:
    if custom_result_decoder is None:
        return encoded
    return custom_result_decoder(fn)(*args, **kwargs)(encoded)


class Memoizer(_BaseMemoizer):
    """torch's ``Memoizer(sub_key)``: an in-memory memoizer.

    Entries are (encoded params, encoded result). With
    ``TORCHINDUCTOR_DUMP_MEMOIZER_CACHE=1`` the entries are merged into
    ``cache_dir()/memoizer_cache.json`` at exit; with
    ``TORCHINDUCTOR_CACHE_DUMP_FILE_PATH`` set, that dump pre-populates the
    memoizer. Nothing is cached unless ``TORCHINDUCTOR_ENABLE_CACHING_MODULE=1``.
    """

    def __init__(
        self, sub_key: str | None = None, *, _native_memoizer: _native.Memoizer | None = None
    ) -> None:
        self._native: _native.Memoizer = (
            _native_memoizer if _native_memoizer is not None else _native.Memoizer(sub_key)
        )
        # Pending deferred recordings by key; dropped when nothing else holds them.
        self._pending: weakref.WeakValueDictionary[str, DeferredRecording] = (
            weakref.WeakValueDictionary()
        )
        if _native_memoizer is None and _native.runtime_config()["dump_memoizer_cache"]:
            atexit.register(self._dump_at_exit)

    def _dump_at_exit(self) -> None:
        try:
            self._native.dump_to_disk()
        except Exception:  # noqa: BLE001 - torch logs and carries on
            pass

    @property
    def sub_key(self) -> str | None:
        return cast("str | None", self._native.sub_key)

    def __len__(self) -> int:
        return cast(int, len(self._native))

    def cache_clear(self) -> None:
        """Empty the in-memory cache."""
        self._native.cache_clear()

    def dump_to_disk(self) -> None:
        """Merge the entries into ``cache_dir()/memoizer_cache.json`` now."""
        self._native.dump_to_disk()

    def _lookup(self, key: str) -> tuple[object, object] | None:
        return cast("tuple[object, object] | None", self._native.get(key))

    def _lookup_slow(self, key: str) -> tuple[object, object] | None:
        """Where to look after memory and the pending recordings (disk, if any)."""
        return None

    def _finalize(self, key: str, params: object, encoded_result: object) -> None:
        self._pending.pop(key, None)
        self._store(key, params, encoded_result)

    def _store(self, key: str, params: object, result: object) -> None:
        self._native.insert(key, params, result)

    def record(
        self,
        custom_params_encoder: ParamsEncoder | None = None,
        custom_result_encoder: ResultEncoderFactory | None = None,
    ) -> Callable[[_Fn], _Fn]:
        """Call the function and store its (encoded) result."""

        def wrapper(fn: _Fn) -> _Fn:
            if not _enabled():
                return fn

            @functools.wraps(fn)
            def inner(*args: object, **kwargs: object) -> object:
                result = fn(*args, **kwargs)
                key = make_key(custom_params_encoder, *args, **kwargs)
                params = _encoded_params(custom_params_encoder, args, kwargs)
                encoded = _encode_result(fn, custom_result_encoder, args, kwargs, result)
                if isinstance(encoded, DeferredRecording):
                    self._pending[key] = encoded
                    encoded.register_callback(functools.partial(self._finalize, key, params))
                    return result
                self._store(key, params, encoded)
                return result

            return inner

        return wrapper

    def replay(
        self,
        custom_params_encoder: ParamsEncoder | None = None,
        custom_result_decoder: ResultDecoderFactory | None = None,
    ) -> Callable[[_Fn], _Fn]:
        """Return the stored result without calling the function; KeyError on a miss."""

        def wrapper(fn: _Fn) -> _Fn:
            if not _enabled():
                return _always_miss(fn)

            @functools.wraps(fn)
            def inner(*args: object, **kwargs: object) -> object:
                key = make_key(custom_params_encoder, *args, **kwargs)
                hit = self._lookup(key)
                if hit is None:
                    pending = self._pending.get(key)
                    interim = pending.get_interim_result() if pending is not None else None
                    if interim is not None:
                        return interim.value
                    hit = self._lookup_slow(key)
                if hit is None:
                    raise KeyError(f"No cached result found for key: {key}")
                return _decode_result(fn, custom_result_decoder, args, kwargs, hit[1])

            return inner

        return wrapper


class PersistentMemoizer(Memoizer):
    """torch's ``PersistentMemoizer(sub_dir)``: memory, then torch's on-disk files.

    The files are ``default_cache_dir()/cache/<sub_dir>/<key>``, each the
    version header and ``pickle.dumps(CacheEntry(...))``: torch 2.13 replays
    what cachepack records and the reverse.
    """

    def __init__(self, sub_dir: str | None = None) -> None:
        self._persistent: _native.PersistentMemoizer = _native.PersistentMemoizer(
            str(sub_dir) if sub_dir else None
        )
        super().__init__(_native_memoizer=self._persistent.memoizer)
        if _native.runtime_config()["dump_memoizer_cache"]:
            atexit.register(self._dump_at_exit)

    @property
    def cache_dir(self) -> str:
        return cast(str, self._persistent.cache_dir)

    def cache_clear(self) -> None:
        """Remove the on-disk directory (torch's ``PersistentMemoizer.cache_clear``)."""
        self._persistent.cache_clear()

    def _lookup_slow(self, key: str) -> tuple[object, object] | None:
        # Memory was checked; this checks it again, then disk (copied into memory).
        return cast("tuple[object, object] | None", self._persistent.lookup(key))

    def _store(self, key: str, params: object, result: object) -> None:
        self._persistent.store(key, params, result)


def _selection(value: object) -> bool | list[str]:
    if value is True or value is False:
        return value
    if isinstance(value, Mapping):
        return [name for name, on in value.items() if on]
    return bool(value)


def isolation_key(schema: Mapping[str, object] | None = None) -> str:
    """torch's ``_isolation_key(schema)``, computed by cachepack from this process's torch.

    ``schema`` is an ``IsolationSchema`` dict (default: everything). The
    values come from torch's own context functions; the JSON text and the
    hash are cachepack's.
    """
    from torch._inductor.runtime.caching.context import _CompileContext, _RuntimeContext

    if schema is None:
        schema = {"runtime_context": True, "compile_context": True}
    runtime_sel = _selection(schema["runtime_context"])
    compile_sel = _selection(schema["compile_context"])

    def chosen(sel: bool | list[str], form: str) -> bool:
        return sel is True or (isinstance(sel, list) and form in sel)

    runtime_values = {
        form: json.dumps(getattr(_RuntimeContext, form)()) if chosen(runtime_sel, form) else "{}"
        for form in _RUNTIME_FORMS
    }
    compile_values = {
        form: getattr(_CompileContext, form)() if chosen(compile_sel, form) else None
        for form in _COMPILE_FORMS
    }
    return cast(
        str,
        _native.isolation_key(
            runtime_context=runtime_sel,
            compile_context=compile_sel,
            **runtime_values,
            **compile_values,
        ),
    )
