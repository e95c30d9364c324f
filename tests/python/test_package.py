"""The installed package: where it lives, what it ships, what it imports."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import cachepack
from cachepack import _native


def test_the_package_is_installed_with_its_native_module_and_type_information() -> None:
    package = Path(cachepack.__file__).parent
    assert Path(sysconfig.get_paths()["platlib"]).resolve() in package.resolve().parents
    assert Path(_native.__file__).name == "_native" + sysconfig.get_config_var("EXT_SUFFIX")
    assert Path(_native.__file__).parent == package
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()


def test_importing_cachepack_never_imports_torch() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, cachepack, cachepack.errors; print('torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_the_public_names_are_all_exported() -> None:
    for name in cachepack.__all__:
        assert hasattr(cachepack, name), name
    assert cachepack.__version__ == "0.1.0"
