"""cachepack: PyTorch compile-cache artifacts in signed bundles, and the caches they fill.

Read a bundle (``.cpk``) or a Mega-Cache blob (``torch.compiler.
save_cache_artifacts()``) with :func:`open`, make bundles with :func:`write`
and :func:`append`, fill a cache (a PyTorch cache directory, a file tree,
Redis, HTTP) with :func:`populate`, and gather caches into one file with
:func:`pack`. The work is done by cachepack's C++ library, which releases
the GIL; every failure is a :class:`cachepack.Error` (module
:mod:`cachepack.errors`). Importing cachepack never imports torch.
See docs/PYTHON.md.
"""

from cachepack._bundle import ENVIRONMENT_KEY, Artifact, Bundle, VerifyReport, open
from cachepack._populate import PackStats, PopulateReport, TypeSummary, pack, populate
from cachepack._write import WriteStats, append, keygen, write
from cachepack.errors import (
    AlreadyExistsError,
    DataLossError,
    DeadlineExceededError,
    Error,
    ErrorCode,
    ErrorReason,
    InternalError,
    InvalidArgumentError,
    LocalIOError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SignatureError,
    UnavailableError,
    UnsupportedError,
)

__version__ = "0.1.0"

__all__ = [
    "ENVIRONMENT_KEY",
    "AlreadyExistsError",
    "Artifact",
    "Bundle",
    "DataLossError",
    "DeadlineExceededError",
    "Error",
    "ErrorCode",
    "ErrorReason",
    "InternalError",
    "InvalidArgumentError",
    "LocalIOError",
    "NotFoundError",
    "PackStats",
    "PermissionDeniedError",
    "PopulateReport",
    "ResourceExhaustedError",
    "SignatureError",
    "TypeSummary",
    "UnavailableError",
    "UnsupportedError",
    "VerifyReport",
    "WriteStats",
    "__version__",
    "append",
    "keygen",
    "open",
    "pack",
    "populate",
    "write",
]
