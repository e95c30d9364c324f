"""Environments: where a compile cache was made, and where it can hit.

An environment is a dict of the JSON form of docs/ENVIRONMENT.md
(``torch_version``, ``triton_version``, ``gpu_name``, ...): every value a
string, an absent field unknown and never compared, ``""`` a known value
meaning *none*. :func:`current` describes this process; :func:`compare`
says which differences from a bundle's recorded environment keep its
artifacts from hitting. The C++ environment model does the comparing.
Nothing here imports torch until :func:`current` is called with
``torch=True``.
"""

from __future__ import annotations

import importlib
import platform
from dataclasses import dataclass
from typing import Any

from cachepack import _native

#: An environment in its JSON form: field name to value.
Environment = dict[str, Any]


@dataclass(frozen=True)
class Difference:
    """One field whose value differs between two environments."""

    field: str  # The JSON key: "torch_version".
    recorded: str  # Where the artifacts were made.
    target: str  # Where they would be used.
    severity: str  # "blocks" (artifacts miss) or "warns".
    message: str  # "made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit"

    @property
    def blocks(self) -> bool:
        """Whether this difference keeps PyTorch's cache from hitting."""
        return self.severity == "blocks"

    def __str__(self) -> str:
        return self.message


def _differences(raw: list[dict[str, str]]) -> list[Difference]:
    return [Difference(**d) for d in raw]


def native() -> Environment:
    """What cachepack's C++ side knows: cachepack_version, cpu_arch, os, libc."""
    return _native.current_native_environment()


def from_json(text: str, source: str = "") -> Environment:
    """Parses and checks an environment's JSON text (``source`` names it in errors)."""
    return _native.environment_from_json(text, source)


def to_json(environment: Environment, indent: int | None = None) -> str:
    """The canonical JSON text: known fields in their order, then the others sorted."""
    return _native.environment_to_json(environment, -1 if indent is None else indent)


def compare(recorded: Environment, target: Environment) -> list[Difference]:
    """Fields known on both sides with different values, in field order."""
    return _differences(_native.compare_environments(recorded, target))


def require_compatible(
    recorded: Environment, target: Environment, source: str = ""
) -> list[Difference]:
    """The warning differences when nothing blocks.

    Else raises :class:`cachepack.EnvironmentMismatchError` naming every
    blocking difference, one per line (``source`` as its file).
    """
    return _differences(_native.require_compatible_environment(recorded, target, source))


def _libc() -> str:
    name, version = platform.libc_ver()
    return f"{name} {version}".strip()


def _torch_fields() -> Environment:
    """What torch (and Triton, the GPU, Inductor's CPU target) says; {} without torch."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return {}
    env: Environment = {
        "torch_version": str(torch.__version__),
        "torch_git": str(getattr(torch.version, "git_version", "") or ""),
        "cuda_version": str(torch.version.cuda or ""),
        "rocm_version": str(getattr(torch.version, "hip", None) or ""),
    }
    try:
        env["triton_version"] = str(importlib.import_module("triton").__version__)
    except ImportError:
        pass
    gpu_name = gpu_capability = ""
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        # On ROCm the architecture name tells GPUs apart; the device name does not.
        gpu_name = str(getattr(props, "gcnArchName", "") or props.name)
        gpu_capability = f"{props.major}.{props.minor}"
    env["gpu_name"] = gpu_name
    env["gpu_capability"] = gpu_capability
    try:
        from torch._inductor import cpu_vec_isa

        isa = cpu_vec_isa.pick_vec_isa()
        # The invalid ISA (no vector code) is falsy.
        env["vector_isa"] = str(isa) if isa else ""
    except Exception:  # noqa: BLE001 - a private API: unknown rather than wrong.
        pass
    return env


def current(torch: bool = True) -> Environment:
    """This process's environment: the native fields, Python's, and with ``torch`` torch's.

    ``python_version``, ``cpu_arch`` (``platform.machine()``) and ``libc``
    (``platform.libc_ver()``) come from Python; with ``torch=True`` and torch
    importable, also ``torch_version``, ``torch_git``, ``cuda_version``,
    ``rocm_version``, ``triton_version`` (if Triton imports), ``gpu_name``
    and ``gpu_capability`` (``""`` without a GPU) and ``vector_isa`` (the
    ISA Inductor's CPU code targets, ``""`` for none). torch is imported
    only here, when asked.
    """
    env = native()
    env["python_version"] = platform.python_version()
    env["cpu_arch"] = platform.machine()
    libc = _libc()
    if libc:
        env["libc"] = libc
    if torch:
        env.update(_torch_fields())
    return from_json(to_json(env))
