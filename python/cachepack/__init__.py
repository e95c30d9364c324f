"""cachepack: PyTorch compile-cache artifacts in signed bundles, and the caches they fill.

Read a bundle (``.cpk``) or a Mega-Cache blob (``torch.compiler.
save_cache_artifacts()``) with :func:`open`, make bundles with :func:`write`
and :func:`append`, fill a cache (a PyTorch cache directory, a file tree,
Redis, HTTP) with :func:`populate`, and gather caches into one file with
:func:`pack`, and say why a bundle would not hit with :func:`explain`
(environments: :mod:`cachepack.environment`; PyTorch's own cache in one call:
:mod:`cachepack.torch`). The work is done by cachepack's C++ library, which releases
the GIL; every failure is a :class:`cachepack.Error` (module
:mod:`cachepack.errors`). Importing cachepack never imports torch.
See docs/PYTHON.md.
"""

from cachepack import environment
from cachepack._bundle import ENVIRONMENT_KEY, Artifact, Bundle, VerifyReport, open
from cachepack._explain import Explanation, TypeExplanation, explain
from cachepack._populate import PackStats, PopulateReport, TypeSummary, pack, populate
from cachepack._write import WriteStats, append, keygen, write
from cachepack.errors import (
    AlreadyExistsError,
    DataLossError,
    DeadlineExceededError,
    EnvironmentMismatchError,
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
    "EnvironmentMismatchError",
    "Error",
    "ErrorCode",
    "ErrorReason",
    "Explanation",
    "InternalError",
    "InvalidArgumentError",
    "LocalIOError",
    "NotFoundError",
    "PackStats",
    "PermissionDeniedError",
    "PopulateReport",
    "ResourceExhaustedError",
    "SignatureError",
    "TypeExplanation",
    "TypeSummary",
    "UnavailableError",
    "UnsupportedError",
    "VerifyReport",
    "WriteStats",
    "__version__",
    "append",
    "environment",
    "explain",
    "keygen",
    "open",
    "pack",
    "populate",
    "write",
]
