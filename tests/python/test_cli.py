"""`python -m cachepack` is the CLI itself, run in-process through run_cli()."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_binary, run_module


def assert_same_run(binary: Path, *args: str | Path) -> None:
    module = run_module(*args)
    native = run_binary(binary, *args)
    assert module.returncode == native.returncode
    assert module.stdout == native.stdout
    assert module.stderr == native.stderr


@pytest.mark.parametrize("command", [["ls"], ["ls", "--json"], ["verify"]])
def test_ls_and_verify_print_what_the_binary_prints(
    cli_binary: Path, vectors: Path, sample_bundle: Path, signed_bundle: Path, command: list[str]
) -> None:
    inputs = [vectors / "all_types.bin", vectors / "large.bin", sample_bundle, signed_bundle]
    for path in inputs:
        assert_same_run(cli_binary, *command, path)


def test_a_corrupt_blob_fails_with_the_binarys_message_and_exit_code(
    cli_binary: Path, vectors: Path
) -> None:
    for name in ("corrupt_length_overrun_valid_crc.bin", "corrupt_crc_byte_flipped.bin"):
        assert_same_run(cli_binary, "verify", vectors / name)
        assert run_module("verify", vectors / name).returncode == 1


def test_verify_with_a_trusted_key_matches_the_binary(
    cli_binary: Path, signed_bundle: Path, key: Path, other_key: Path
) -> None:
    assert_same_run(cli_binary, "verify", signed_bundle, "--trusted-key", f"{key}.pub")
    assert_same_run(cli_binary, "verify", signed_bundle, "--trusted-key", f"{other_key}.pub")


def test_usage_errors_exit_2_and_help_exits_0(cli_binary: Path) -> None:
    assert run_module("no-such-command").returncode == 2
    assert run_module("--help").returncode == 0
    assert_same_run(cli_binary, "ls")


def test_writing_commands_work_in_process(tmp_path: Path, sample_blob: Path) -> None:
    out = tmp_path / "converted.cpk"
    done = run_module("convert", sample_blob, out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"wrote ")
    assert run_module("verify", out).returncode == 0
