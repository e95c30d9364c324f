"""Fixtures of the Python package's tests.

They test the cachepack package installed in the running interpreter (by
tools/install_python.sh), never the source tree: `import cachepack` must
resolve to site-packages. The PyTorch test vectors come from
$CACHEPACK_VECTORS or ../shared/vectors/pytorch-megacache beside the
repository; tests that need them skip with a message when neither exists.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pytest
from support import REPO, run_module

import cachepack


def pytest_configure(config: pytest.Config) -> None:
    """Refuses to run against anything but the installed package."""
    installed = Path(sysconfig.get_paths()["platlib"]).resolve()
    where = Path(cachepack.__file__).resolve()
    if installed not in where.parents:
        raise pytest.UsageError(
            f"cachepack was imported from {where}, not from {installed}: run the tests "
            "with .venv/bin/python -m pytest tests/python from the repository root, "
            "after tools/install_python.sh"
        )


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The PyTorch Mega-Cache test vectors' folder."""
    env = os.environ.get("CACHEPACK_VECTORS")
    folder = Path(env) if env else REPO.parent / "shared" / "vectors" / "pytorch-megacache"
    if not (folder / "all_types.bin").is_file():
        pytest.skip(f"no PyTorch test vectors at {folder} (set CACHEPACK_VECTORS)")
    return folder


@pytest.fixture(scope="session")
def cli_binary() -> Path:
    """The cachepack CLI binary that Bazel built."""
    binary = Path(os.environ.get("CACHEPACK_BIN", REPO / "bazel-bin" / "tools" / "cachepack"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"cachepack binary not found at {binary}: run `bazel build //tools:cachepack` "
            "or set CACHEPACK_BIN",
            pytrace=False,
        )
    return binary


@pytest.fixture(scope="session")
def sample_blob(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Mega-Cache blob of PyTorch's types, from `cachepack sample`."""
    path = tmp_path_factory.mktemp("sample") / "sample.bin"
    done = run_module("sample", path, "--graphs", "6")
    assert done.returncode == 0, done.stderr.decode()
    return path


@pytest.fixture(scope="session")
def sample_bundle(tmp_path_factory: pytest.TempPathFactory, sample_blob: Path) -> Path:
    """The sample blob as a bundle (zstd level 3, not signed)."""
    path = tmp_path_factory.mktemp("bundle") / "sample.cpk"
    cachepack.write(path, sample_blob.read_bytes())
    return path


@pytest.fixture(scope="session")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Ed25519 private key (PEM); its public key is beside it as .pub."""
    path = tmp_path_factory.mktemp("keys") / "signing.pem"
    cachepack.keygen(path)
    return path


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second key pair, trusted by nobody."""
    path = tmp_path_factory.mktemp("other-keys") / "other.pem"
    cachepack.keygen(path)
    return path


@pytest.fixture(scope="session")
def signed_bundle(tmp_path_factory: pytest.TempPathFactory, sample_blob: Path, key: Path) -> Path:
    """The sample blob as a bundle signed by `key`."""
    path = tmp_path_factory.mktemp("signed") / "signed.cpk"
    cachepack.write(path, sample_blob, sign_key=key)
    return path
