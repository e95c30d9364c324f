"""The errors cachepack raises: one hierarchy under :class:`Error`.

Every failure of the C++ library arrives as the subclass for its code (what
to do next: fix the input, retry, ...), with the precise ``reason`` and the
place it happened (``file`` or ``url``, byte ``offset``, artifact ``key``).
``str(error)`` is the one line the ``cachepack`` CLI prints after
``cachepack:``, e.g.::

    data loss (length overrun): content length ... exceeds the 16 bytes left
    [file corrupt.bin, offset 120, key "f5ria..."]
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """What the caller does next (cachepack/error.h ``ErrorCode``)."""

    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    DATA_LOSS = "data_loss"
    UNIMPLEMENTED = "unimplemented"
    PERMISSION_DENIED = "permission_denied"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNAVAILABLE = "unavailable"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    IO_ERROR = "io_error"
    INTERNAL = "internal"


class ErrorReason(enum.StrEnum):
    """What precisely went wrong (cachepack/error.h ``ErrorReason``)."""

    UNSPECIFIED = "unspecified"
    TOO_SHORT = "too_short"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_BASE64 = "invalid_base64"
    LENGTH_OVERRUN = "length_overrun"
    TRAILING_BYTES = "trailing_bytes"
    INVALID_KEY = "invalid_key"
    INVALID_CONTENT = "invalid_content"
    BAD_MAGIC = "bad_magic"
    LIMIT_EXCEEDED = "limit_exceeded"
    SIGNATURE = "signature"
    BAD_FOOTER = "bad_footer"
    BAD_INDEX = "bad_index"
    DECOMPRESSION = "decompression"
    UNSAFE_PATH = "unsafe_path"
    BROKEN_PIPE = "broken_pipe"
    INVALID_JSON = "invalid_json"
    ENVIRONMENT_MISMATCH = "environment_mismatch"
    CONFLICT = "conflict"
    UNSUPPORTED_PICKLE = "unsupported_pickle"
    LOCK_TIMEOUT = "lock_timeout"
    FILE_LOCK_TIMEOUT = "file_lock_timeout"
    KEY_ENCODING = "key_encoding"
    VALUE_ENCODING = "value_encoding"
    VALUE_DECODING = "value_decoding"
    KEY_PICKLING = "key_pickling"
    VALUE_PICKLING = "value_pickling"
    VALUE_UNPICKLING = "value_unpickling"
    CUSTOM_PARAMS_ENCODER_REQUIRED = "custom_params_encoder_required"
    CUSTOM_RESULT_ENCODER_REQUIRED = "custom_result_encoder_required"
    CUSTOM_RESULT_DECODER_REQUIRED = "custom_result_decoder_required"
    DETERMINISTIC_CACHING_DISABLED = "deterministic_caching_disabled"
    DETERMINISTIC_CACHING_REQUIRES_STRONG_CONSISTENCY = (
        "deterministic_caching_requires_strong_consistency"
    )
    STRICT_DETERMINISTIC_CACHING_KEY_NOT_FOUND = "strict_deterministic_caching_key_not_found"
    DETERMINISTIC_CACHING_INVALID_CONFIGURATION = "deterministic_caching_invalid_configuration"
    STRICT_DETERMINISTIC_CACHING_INSERTION = "strict_deterministic_caching_insertion"
    DETERMINISTIC_CACHING_IMC_DUMP_CONFLICT = "deterministic_caching_imc_dump_conflict"
    CACHE_MISS = "cache_miss"


class Error(Exception):
    """Base of every cachepack error.

    Attributes:
        code: the :class:`ErrorCode` (also given by the subclass).
        reason: the :class:`ErrorReason`.
        message: the bare message, without code, reason or location.
        file: the file involved, if any.
        url: the backend's URL (password masked) when a backend failed.
        offset: the byte offset in the input, if known.
        key: the artifact key involved, if any.
    """

    default_code = ErrorCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: ErrorReason = ErrorReason.UNSPECIFIED,
        file: str | None = None,
        url: str | None = None,
        offset: int | None = None,
        key: str | None = None,
        text: str | None = None,
    ) -> None:
        self.code = self.default_code
        self.reason = reason
        self.message = message
        self.file = file
        self.url = url
        self.offset = offset
        self.key = key
        self.text = text if text is not None else self._describe()
        super().__init__(self.text)

    def _describe(self) -> str:
        """The CLI's form for an error made in Python."""
        head = self.code.value.replace("_", " ")
        if self.reason is not ErrorReason.UNSPECIFIED:
            head += f" ({self.reason.value.replace('_', ' ')})"
        where = [f"file {self.file}"] if self.file else []
        where += [f"url {self.url}"] if self.url else []
        where += [f"offset {self.offset}"] if self.offset is not None else []
        where += [f'key "{self.key}"'] if self.key is not None else []
        return f"{head}: {self.message}" + (f" [{', '.join(where)}]" if where else "")

    def __str__(self) -> str:
        return self.text


class InvalidArgumentError(Error):
    """The caller passed something wrong (a bad URL, option or value)."""

    default_code = ErrorCode.INVALID_ARGUMENT


class EnvironmentMismatchError(InvalidArgumentError):
    """A bundle's artifacts were made where PyTorch's cache keys differ from here.

    Raised before anything is written, with one line per blocking difference
    (docs/ENVIRONMENT.md); ``ignore_environment=True`` goes on anyway.
    """


class NotFoundError(Error):
    """A named thing does not exist: a file, an artifact, a type."""

    default_code = ErrorCode.NOT_FOUND


class AlreadyExistsError(Error):
    """Creating something that exists (a key file, a type name)."""

    default_code = ErrorCode.ALREADY_EXISTS


class DataLossError(Error):
    """Input bytes are corrupt or not what they claim; ``offset`` says where."""

    default_code = ErrorCode.DATA_LOSS


class UnsupportedError(Error):
    """Valid but not supported: a newer format version, an unknown type."""

    default_code = ErrorCode.UNIMPLEMENTED


class PermissionDeniedError(Error):
    """Access refused: a file's permissions, or a missing trusted signature."""

    default_code = ErrorCode.PERMISSION_DENIED


class SignatureError(PermissionDeniedError):
    """A signature is missing, malformed or not by a trusted key."""


class ResourceExhaustedError(Error):
    """A configured limit was hit, or memory ran out."""

    default_code = ErrorCode.RESOURCE_EXHAUSTED


class UnavailableError(Error):
    """A server or resource is down or busy (a bundle locked by a writer): retry."""

    default_code = ErrorCode.UNAVAILABLE


class DeadlineExceededError(Error):
    """A timeout expired."""

    default_code = ErrorCode.DEADLINE_EXCEEDED


class LocalIOError(Error):
    """The local system failed: disk full, EIO, ..."""

    default_code = ErrorCode.IO_ERROR


class InternalError(Error):
    """A bug in cachepack."""

    default_code = ErrorCode.INTERNAL


# torch/_inductor/runtime/caching/exceptions.py, one class of the same name
# for each (docs/RUNTIME.md); each is also the cachepack.Error subclass of its
# code, so ``except cachepack.DeadlineExceededError`` still catches a lock
# timeout. SystemError shadows the builtin only inside this module and
# cachepack.runtime, as in torch's module.


class CacheError(Error):
    """Base of the runtime caches' errors (torch's ``CacheError``)."""


class SystemError(CacheError):  # noqa: A001
    """The system failed the cache (torch's ``SystemError``)."""


class UserError(CacheError):
    """The caller gave the cache something it cannot take (torch's ``UserError``)."""


class LockTimeoutError(SystemError, DeadlineExceededError):
    """A thread lock was not taken within its timeout."""


class FileLockTimeoutError(SystemError, DeadlineExceededError):
    """A lock file was not taken within its timeout."""


class KeyEncodingError(UserError, InvalidArgumentError):
    """A cache key cannot be pickled by cachepack's codec."""


class ValueEncodingError(UserError, InvalidArgumentError):
    """A cache value cannot be pickled by cachepack's codec."""


class ValueDecodingError(UserError, DataLossError):
    """A stored value does not unpickle; ``file`` and ``offset`` say where."""


# Generation A of the runtime caches (fcache, dcache, icache; an older torch's
# runtime/caching, docs/RUNTIME.md): the same names and bases as there.


class KeyPicklingError(KeyEncodingError):
    """A memoization key cannot be pickled (torch's ``KeyPicklingError``)."""


class ValuePicklingError(ValueEncodingError):
    """A memoized value cannot be pickled (torch's ``ValuePicklingError``)."""


class ValueUnPicklingError(ValueDecodingError):
    """A stored memoized value does not unpickle (``ValueUnPicklingError``)."""


class CustomParamsEncoderRequiredError(UserError, InvalidArgumentError):
    """The parameters do not pickle: give ``custom_params_encoder``."""


class CustomResultEncoderRequiredError(UserError, InvalidArgumentError):
    """The result does not pickle, or a decoder came without its encoder."""


class CustomResultDecoderRequiredError(UserError, InvalidArgumentError):
    """A custom result encoder came without its decoder."""


class DeterministicCachingDisabledError(UserError, InvalidArgumentError):
    """dcache used while TORCHINDUCTOR_ENABLE_DETERMINISTIC_CACHING is not 1."""


class DeterministicCachingRequiresStrongConsistencyError(UserError, InvalidArgumentError):
    """GLOBAL determinism with a backend that is not strongly consistent."""


class StrictDeterministicCachingKeyNotFoundError(UserError, NotFoundError):
    """A strict deterministic mode met a key that is not cached."""


class DeterministicCachingInvalidConfigurationError(UserError, InvalidArgumentError):
    """No deterministic mode (pre-populated, global, local) is selected."""


class StrictDeterministicCachingInsertionError(UserError, PermissionDeniedError):
    """An insert in a strict deterministic mode, where inserts are refused."""


class DeterministicCachingIMCDumpConflictError(SystemError, AlreadyExistsError):
    """The exit dump found a key already in the existing dump file."""


_BY_REASON: dict[ErrorReason, type[Error]] = {
    ErrorReason.LOCK_TIMEOUT: LockTimeoutError,
    ErrorReason.FILE_LOCK_TIMEOUT: FileLockTimeoutError,
    ErrorReason.KEY_ENCODING: KeyEncodingError,
    ErrorReason.VALUE_ENCODING: ValueEncodingError,
    ErrorReason.VALUE_DECODING: ValueDecodingError,
    ErrorReason.KEY_PICKLING: KeyPicklingError,
    ErrorReason.VALUE_PICKLING: ValuePicklingError,
    ErrorReason.VALUE_UNPICKLING: ValueUnPicklingError,
    ErrorReason.CUSTOM_PARAMS_ENCODER_REQUIRED: CustomParamsEncoderRequiredError,
    ErrorReason.CUSTOM_RESULT_ENCODER_REQUIRED: CustomResultEncoderRequiredError,
    ErrorReason.CUSTOM_RESULT_DECODER_REQUIRED: CustomResultDecoderRequiredError,
    ErrorReason.DETERMINISTIC_CACHING_DISABLED: DeterministicCachingDisabledError,
    ErrorReason.DETERMINISTIC_CACHING_REQUIRES_STRONG_CONSISTENCY: (
        DeterministicCachingRequiresStrongConsistencyError
    ),
    ErrorReason.STRICT_DETERMINISTIC_CACHING_KEY_NOT_FOUND: (
        StrictDeterministicCachingKeyNotFoundError
    ),
    ErrorReason.DETERMINISTIC_CACHING_INVALID_CONFIGURATION: (
        DeterministicCachingInvalidConfigurationError
    ),
    ErrorReason.STRICT_DETERMINISTIC_CACHING_INSERTION: StrictDeterministicCachingInsertionError,
    ErrorReason.DETERMINISTIC_CACHING_IMC_DUMP_CONFLICT: DeterministicCachingIMCDumpConflictError,
}


_BY_CODE: dict[ErrorCode, type[Error]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        DataLossError,
        UnsupportedError,
        PermissionDeniedError,
        ResourceExhaustedError,
        UnavailableError,
        DeadlineExceededError,
        LocalIOError,
        InternalError,
    )
}


def _from_native(
    code: str,
    reason: str,
    message: str,
    text: str,
    file: str | None,
    url: str | None,
    offset: int | None,
    key: str | None,
) -> Error:
    """The exception for an error of the C++ library (python/native/errors.cc)."""
    error_reason = ErrorReason(reason)
    cls = _BY_CODE[ErrorCode(code)]
    if cls is PermissionDeniedError and error_reason is ErrorReason.SIGNATURE:
        cls = SignatureError
    if cls is InvalidArgumentError and error_reason is ErrorReason.ENVIRONMENT_MISMATCH:
        cls = EnvironmentMismatchError
    if error_reason in _BY_REASON and issubclass(_BY_REASON[error_reason], cls):
        cls = _BY_REASON[error_reason]
    return cls(message, reason=error_reason, file=file, url=url, offset=offset, key=key, text=text)
