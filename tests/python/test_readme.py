"""The README's Python example runs as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from support import REPO


def readme_python_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("\n## Python\n") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md's Python section has no python example"
    return match.group(1)


def test_the_readme_python_example_runs(tmp_path: Path, sample_blob: Path) -> None:
    code = readme_python_example()
    for call in ("cachepack.open(", "cachepack.write(", "cachepack.populate("):
        assert call in code
    # The example's inputs and cache directory, inside this test's folder.
    shutil.copy(sample_blob, tmp_path / "cache.bin")
    cache_dir = re.search(r'"torch://(/[^"]+)"', code)
    assert cache_dir, "the example populates a torch:// directory"
    code = code.replace(cache_dir.group(1), str(tmp_path / "torchinductor"))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].split()[1:3] == ["stored", "in"]
    assert int(lines[-1].split()[0]) > 0
    assert (tmp_path / "cache.cpk").is_file()
    assert any((tmp_path / "torchinductor").rglob("*"))
