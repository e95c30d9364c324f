"""PEP 517 backend for the cachepack package: Bazel builds, this packs.

``build_wheel`` runs ``bazel build //python:_native`` in the repository that
holds this directory, for the interpreter running the backend (passed to
the build as ``CACHEPACK_PYTHON``, which tools/python_configure.bzl reads), and
zips python/cachepack/ with the module beside its Python files. The Bazel
targets stay the one description of the C++ build. Extra Bazel flags (for
example ``-c opt``) come from ``$CACHEPACK_BAZEL_FLAGS``; the Bazel binary from
``$BAZEL`` or PATH. No build requirement is fetched from any index.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]  # python/
PACKAGE_DIR = PROJECT_DIR / "cachepack"
TARGET = "//python:_native"
# Fixed zip timestamps: the same sources give the same wheel.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BuildError(RuntimeError):
    """The native module could not be built."""


def _project() -> dict[str, str]:
    with open(PROJECT_DIR / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _dist_name() -> str:
    project = _project()
    return f"{project['name']}-{project['version']}"


def _tag() -> str:
    """The wheel tag of this interpreter: e.g. cp311-cp311-linux_x86_64."""
    impl = "cp" if sys.implementation.name == "cpython" else sys.implementation.name
    version = f"{impl}{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{version}-{version}-{platform}"


def _metadata() -> str:
    project = _project()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {project['name']}\n"
        f"Version: {project['version']}\n"
        f"Summary: {project['description']}\n"
        f"Requires-Python: {project['requires-python']}\n"
    )


def _wheel_file() -> str:
    return (
        "Wheel-Version: 1.0\n"
        "Generator: cachepack python/_build/backend.py\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {_tag()}\n"
    )


def _workspace() -> Path:
    for directory in [PROJECT_DIR, *PROJECT_DIR.parents]:
        if (directory / "WORKSPACE").is_file():
            return directory
    raise BuildError(
        f"no Bazel WORKSPACE above {PROJECT_DIR}: cachepack builds from a checkout of its "
        "repository (an sdist is not supported)"
    )


def _bazel_env() -> dict[str, str]:
    """The environment for Bazel: the target interpreter, and PATH as the
    user has it. Bazel hands the client's PATH to every action, so pip's
    isolated build environment, which puts a new temporary directory first
    on PATH, would otherwise change every action's key: the whole library
    rebuilt on each install, and again by the next plain `bazel build`."""
    env = dict(os.environ, CACHEPACK_PYTHON=sys.executable)
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in path if "pip-build-env-" not in p)
    env.pop("PYTHONPATH", None)
    return env


def _bazel(workspace: Path, *args: str) -> str:
    bazel = os.environ.get("BAZEL") or shutil.which("bazel")
    if not bazel:
        raise BuildError("bazel is not installed: run tools/setup.sh (Debian's bazel-bootstrap)")
    flags = shlex.split(os.environ.get("CACHEPACK_BAZEL_FLAGS", ""))
    env = _bazel_env()
    command = [bazel, args[0], *flags, *args[1:]]
    done = subprocess.run(
        command, cwd=workspace, env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise BuildError(f"{shlex.join(command)} failed with exit code {done.returncode}")
    return done.stdout


def _build_native() -> tuple[Path, str]:
    """Builds the module; returns its file and the name it has in the package."""
    workspace = _workspace()
    _bazel(workspace, "build", TARGET)
    bazel_bin = Path(_bazel(workspace, "info", "bazel-bin").strip())
    name = "_native" + sysconfig.get_config_var("EXT_SUFFIX")
    built = bazel_bin / "python" / name
    if not built.is_file():
        raise BuildError(f"bazel built {TARGET} but {built} is missing")
    return built, name


def _package_files() -> list[tuple[str, Path]]:
    files = []
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".so"):
            files.append((path.relative_to(PROJECT_DIR).as_posix(), path))
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _add(wheel: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    wheel.writestr(info, data)


def _write_dist_info(directory: Path) -> str:
    dist_info = f"{_dist_name()}.dist-info"
    (directory / dist_info).mkdir(parents=True, exist_ok=True)
    (directory / dist_info / "METADATA").write_text(_metadata())
    (directory / dist_info / "WHEEL").write_text(_wheel_file())
    return dist_info


# PEP 517 hooks.


def get_requires_for_build_wheel(config_settings: dict[str, str] | None = None) -> list[str]:
    """Nothing: the backend uses the standard library and Bazel only."""
    return []


def get_requires_for_build_sdist(config_settings: dict[str, str] | None = None) -> list[str]:
    """Nothing."""
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: dict[str, str] | None = None
) -> str:
    """Writes the .dist-info directory without building anything."""
    return _write_dist_info(Path(metadata_directory))


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, str] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Builds the native module with Bazel and zips the package around it."""
    native, native_name = _build_native()
    dist_info = f"{_dist_name()}.dist-info"
    wheel_name = f"{_dist_name()}-{_tag()}.whl"
    records = []
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w") as wheel:
        for name, path in _package_files():
            data = path.read_bytes()
            _add(wheel, name, data)
            records.append(_record_line(name, data))
        data = native.read_bytes()
        _add(wheel, f"cachepack/{native_name}", data, 0o755)
        records.append(_record_line(f"cachepack/{native_name}", data))
        for name, text in (("METADATA", _metadata()), ("WHEEL", _wheel_file())):
            _add(wheel, f"{dist_info}/{name}", text.encode())
            records.append(_record_line(f"{dist_info}/{name}", text.encode()))
        records.append(f"{dist_info}/RECORD,,")
        _add(wheel, f"{dist_info}/RECORD", ("\n".join(records) + "\n").encode())
    return wheel_name


def build_sdist(sdist_directory: str, config_settings: dict[str, str] | None = None) -> str:
    """Not supported: the package builds from the whole repository checkout."""
    raise BuildError(
        "cachepack has no sdist: its native module is built by Bazel from the repository "
        "checkout; install with `pip install --no-build-isolation ./python` there"
    )
