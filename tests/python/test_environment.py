"""Environments, populate's environment check and explain, without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cachepack
from cachepack import environment

MADE = {
    "cachepack_version": "0.1.0",
    "torch_version": "2.13.0+cpu",
    "python_version": "3.11.7",
    "cuda_version": "",
    "cpu_arch": "x86_64",
    "vector_isa": "avx2",
}


def test_current_without_torch_does_not_import_torch() -> None:
    code = (
        "import json, sys, cachepack.environment as e; "
        "env = e.current(torch=False); print(json.dumps([env, 'torch' in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    env, imported = json.loads(done.stdout)
    assert imported is False
    assert "torch_version" not in env
    assert env["python_version"]
    assert env["cpu_arch"]
    assert env["cachepack_version"] == cachepack.__version__


def test_current_without_torch_has_the_native_fields_and_pythons() -> None:
    env = environment.current(torch=False)
    assert set(environment.native()) <= set(env)
    assert env["libc"].startswith("glibc ")


def test_json_round_trips_in_field_order_and_keeps_unknown_fields() -> None:
    text = environment.to_json({"torch_version": "2.13.0", "cachepack_version": "0.1.0", "z": 3})
    assert text == '{"cachepack_version":"0.1.0","torch_version":"2.13.0","z":3}'
    assert environment.from_json(text) == {
        "cachepack_version": "0.1.0",
        "torch_version": "2.13.0",
        "z": 3,
    }


def test_from_json_of_a_non_string_field_is_an_invalid_json_error() -> None:
    with pytest.raises(cachepack.InvalidArgumentError) as raised:
        environment.from_json('{"torch_version": 2}', "env.json")
    assert raised.value.reason is cachepack.ErrorReason.INVALID_JSON
    assert "torch_version" in str(raised.value)
    assert raised.value.file == "env.json"


def test_compare_gives_each_difference_with_its_severity() -> None:
    here = dict(MADE, torch_version="2.14.1", python_version="3.12.1", gpu_name="X")
    differences = environment.compare(MADE, here)
    assert [(d.field, d.severity) for d in differences] == [
        ("torch_version", "blocks"),
        ("python_version", "warns"),
    ]
    assert differences[0].recorded == "2.13.0+cpu"
    assert differences[0].target == "2.14.1"
    assert str(differences[0]) == "made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit"


def test_require_compatible_raises_environment_mismatch_naming_every_blocking_field() -> None:
    here = dict(MADE, torch_version="2.14.1", vector_isa="avx512")
    with pytest.raises(cachepack.EnvironmentMismatchError) as raised:
        environment.require_compatible(MADE, here, "cache.cpk")
    error = raised.value
    assert isinstance(error, cachepack.InvalidArgumentError)
    assert error.reason is cachepack.ErrorReason.ENVIRONMENT_MISMATCH
    assert "torch 2.13.0+cpu" in str(error)
    assert "vector ISA avx2" in str(error)
    assert error.file == "cache.cpk"


def test_require_compatible_returns_the_warnings_when_nothing_blocks() -> None:
    warnings = environment.require_compatible(MADE, dict(MADE, python_version="3.12.1"))
    assert [d.field for d in warnings] == ["python_version"]


@pytest.fixture
def made_elsewhere(tmp_path: Path, sample_blob: Path) -> Path:
    """The sample blob as a bundle that records MADE as its environment."""
    path = tmp_path / "made.cpk"
    cachepack.write(path, sample_blob, environment=MADE)
    return path


def test_populate_refuses_a_blocking_difference_and_writes_nothing(
    made_elsewhere: Path, tmp_path: Path
) -> None:
    target = tmp_path / "cache"
    with pytest.raises(cachepack.EnvironmentMismatchError, match="torch 2.13.0\\+cpu"):
        cachepack.populate(
            made_elsewhere, f"file://{target}", environment=dict(MADE, torch_version="2.99.0")
        )
    assert not target.exists() or not any(target.rglob("*"))


def test_populate_with_ignore_environment_goes_on_and_reports_the_difference(
    made_elsewhere: Path, tmp_path: Path
) -> None:
    report = cachepack.populate(
        made_elsewhere,
        f"file://{tmp_path / 'cache'}",
        environment=dict(MADE, torch_version="2.99.0"),
        ignore_environment=True,
    )
    assert report.stored > 0
    assert any("torch 2.13.0+cpu" in w for w in report.warnings)


def test_populate_returns_warnings_for_differences_that_do_not_block(
    made_elsewhere: Path, tmp_path: Path
) -> None:
    report = cachepack.populate(
        made_elsewhere,
        f"file://{tmp_path / 'cache'}",
        environment=dict(MADE, python_version="3.12.1"),
    )
    assert report.stored > 0
    assert len(report.warnings) == 1
    assert "3.12.1" in report.warnings[0]


def test_populate_without_an_environment_compares_nothing(
    made_elsewhere: Path, tmp_path: Path
) -> None:
    report = cachepack.populate(made_elsewhere, f"file://{tmp_path / 'cache'}")
    assert report.stored > 0
    assert report.warnings == []


def types_of(x: cachepack.Explanation) -> dict[str, Any]:
    return {t.type: t for t in x.types}


def test_explain_without_a_target_gives_the_environment_and_the_bundles_counts(
    made_elsewhere: Path,
) -> None:
    x = cachepack.explain(made_elsewhere, environment=dict(MADE, torch_version="2.99.0"))
    assert x.blocked
    assert [d.field for d in x.differences] == ["torch_version"]
    assert x.recorded == MADE
    assert x.target is None
    assert all(t.present is None and t.artifacts >= 1 for t in x.types)
    assert x.text.startswith("environment: ")
    assert "blocks: made with torch 2.13.0+cpu; here 2.99.0" in x.text


def test_explain_against_a_target_counts_what_populate_would_write(
    made_elsewhere: Path, tmp_path: Path
) -> None:
    url = f"file://{tmp_path / 'cache'}"
    before = cachepack.explain(made_elsewhere, url, environment=MADE)
    assert not before.blocked
    assert before.target == url
    assert all(t.present == 0 and t.would_write == t.keys for t in before.types)
    cachepack.populate(made_elsewhere, url)
    after = cachepack.explain(made_elsewhere, url, environment=MADE)
    assert all(t.present == t.keys and t.would_write == 0 for t in after.types)


def test_explain_of_a_blob_says_no_environment_was_recorded(sample_blob: Path) -> None:
    x = cachepack.explain(sample_blob)
    assert x.recorded is None
    assert not x.blocked
    assert "no environment recorded" in x.text
