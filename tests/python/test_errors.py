"""Every failure is a cachepack.Error subclass, raised by real bad input,
carrying code, reason and location, and worded as the CLI words it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import run_binary

import cachepack
from cachepack import ErrorCode, ErrorReason


def cli_message(binary: Path, *args: str | os.PathLike[str]) -> str:
    """The error line the CLI prints, without its "cachepack: " prefix."""
    done = run_binary(binary, *args)
    assert done.returncode == 1
    line = done.stderr.decode("utf-8", "surrogateescape").strip().splitlines()[-1]
    assert line.startswith("cachepack: ")
    return line.removeprefix("cachepack: ")


def test_the_hierarchy_has_one_class_per_code() -> None:
    classes = {
        ErrorCode.INVALID_ARGUMENT: cachepack.InvalidArgumentError,
        ErrorCode.NOT_FOUND: cachepack.NotFoundError,
        ErrorCode.ALREADY_EXISTS: cachepack.AlreadyExistsError,
        ErrorCode.DATA_LOSS: cachepack.DataLossError,
        ErrorCode.UNIMPLEMENTED: cachepack.UnsupportedError,
        ErrorCode.PERMISSION_DENIED: cachepack.PermissionDeniedError,
        ErrorCode.RESOURCE_EXHAUSTED: cachepack.ResourceExhaustedError,
        ErrorCode.UNAVAILABLE: cachepack.UnavailableError,
        ErrorCode.DEADLINE_EXCEEDED: cachepack.DeadlineExceededError,
        ErrorCode.IO_ERROR: cachepack.LocalIOError,
        ErrorCode.INTERNAL: cachepack.InternalError,
    }
    assert set(classes) == set(ErrorCode)
    for code, cls in classes.items():
        assert issubclass(cls, cachepack.Error)
        assert cls("m").code == code
    assert issubclass(cachepack.SignatureError, cachepack.PermissionDeniedError)


@pytest.mark.parametrize(
    ("vector", "reason", "offset"),
    [
        ("corrupt_length_overrun_valid_crc.bin", ErrorReason.LENGTH_OVERRUN, 120),
        ("corrupt_crc_byte_flipped.bin", ErrorReason.CHECKSUM_MISMATCH, 0),
        ("corrupt_too_short.bin", ErrorReason.TOO_SHORT, 0),
        ("corrupt_invalid_utf8_key.bin", ErrorReason.INVALID_UTF8, None),
        ("corrupt_truncated.bin", ErrorReason.CHECKSUM_MISMATCH, 0),
    ],
)
def test_a_corrupt_blob_is_data_loss_naming_reason_file_and_offset(
    vectors: Path, cli_binary: Path, vector: str, reason: ErrorReason, offset: int | None
) -> None:
    path = vectors / vector
    with pytest.raises(cachepack.DataLossError) as raised:
        cachepack.open(path)
    error = raised.value
    assert error.code == ErrorCode.DATA_LOSS
    assert error.reason == reason
    assert error.file == str(path)
    if offset is not None:
        assert error.offset == offset
    assert error.offset is not None
    assert str(error) == cli_message(cli_binary, "verify", path)


def test_a_blob_of_an_unsupported_version_is_unsupported(vectors: Path) -> None:
    with pytest.raises(cachepack.UnsupportedError) as raised:
        cachepack.open(vectors / "corrupt_bad_version.bin")
    assert raised.value.reason == ErrorReason.UNSUPPORTED_VERSION
    assert raised.value.offset == 4


def test_a_bundle_of_a_newer_format_version_is_unsupported(
    tmp_path: Path, sample_bundle: Path
) -> None:
    data = bytearray(sample_bundle.read_bytes())
    data[8:12] = (7).to_bytes(4, "big")
    path = tmp_path / "v7.cpk"
    path.write_bytes(bytes(data))
    with pytest.raises(cachepack.UnsupportedError) as raised:
        cachepack.open(path)
    assert raised.value.reason == ErrorReason.UNSUPPORTED_VERSION
    assert (raised.value.file, raised.value.offset) == (str(path), 8)


def test_a_missing_file_is_not_found(tmp_path: Path, cli_binary: Path) -> None:
    missing = tmp_path / "missing.cpk"
    with pytest.raises(cachepack.NotFoundError) as raised:
        cachepack.open(missing)
    assert raised.value.file == str(missing)
    assert str(raised.value) == cli_message(cli_binary, "ls", missing)
    with pytest.raises(cachepack.NotFoundError):
        cachepack.populate(missing, "mem://")


def test_a_missing_artifact_is_not_found_naming_its_key(sample_bundle: Path) -> None:
    with cachepack.open(sample_bundle) as bundle, pytest.raises(cachepack.NotFoundError) as raised:
        bundle.read("inductor", "no-such-key")
    assert raised.value.key == "no-such-key"


@pytest.mark.parametrize(
    "url", ["nope://x", "file://relative/dir", "redis://host:notaport", "no scheme at all"]
)
def test_a_bad_url_is_an_invalid_argument(sample_bundle: Path, url: str) -> None:
    with pytest.raises(cachepack.InvalidArgumentError) as raised:
        cachepack.populate(sample_bundle, url)
    assert raised.value.reason == ErrorReason.UNSPECIFIED


def test_bad_options_are_invalid_arguments(tmp_path: Path, sample_blob: Path) -> None:
    with pytest.raises(cachepack.InvalidArgumentError, match="policy"):
        cachepack.populate(sample_blob, "mem://", policy="sometimes")
    with pytest.raises(cachepack.InvalidArgumentError, match="level"):
        cachepack.write(tmp_path / "x.cpk", sample_blob, level=99)
    with pytest.raises(cachepack.InvalidArgumentError, match="threads"):
        cachepack.populate(sample_blob, "mem://", threads=1000)
    with pytest.raises(cachepack.InvalidArgumentError, match="triples"):
        cachepack.write(tmp_path / "x.cpk", [("inductor", "key only")])
    with pytest.raises(cachepack.InvalidArgumentError, match="bytes-like"):
        cachepack.write(tmp_path / "x.cpk", [("inductor", "k", "a str is not bytes")])
    with pytest.raises(cachepack.InvalidArgumentError, match="trusted key"):
        cachepack.open(sample_blob, trusted_keys=[42])
    with pytest.raises(cachepack.InvalidArgumentError, match="source"):
        cachepack.write(tmp_path / "x.cpk", 42)
    with pytest.raises(cachepack.InvalidArgumentError, match="threads"):
        cachepack.populate(sample_blob, "mem://", threads=-1)


def test_an_untrusted_signature_is_a_signature_error(
    signed_bundle: Path, other_key: Path, cli_binary: Path
) -> None:
    with pytest.raises(cachepack.SignatureError) as raised:
        cachepack.open(signed_bundle, trusted_keys=[f"{other_key}.pub"])
    error = raised.value
    assert isinstance(error, cachepack.PermissionDeniedError)
    assert (error.code, error.reason) == (ErrorCode.PERMISSION_DENIED, ErrorReason.SIGNATURE)
    assert error.file == str(signed_bundle)
    assert str(error) == cli_message(
        cli_binary, "verify", signed_bundle, "--trusted-key", f"{other_key}.pub"
    )


def test_an_unsigned_bundle_or_a_blob_is_a_signature_error_when_trust_is_required(
    sample_bundle: Path, sample_blob: Path, key: Path
) -> None:
    for path in (sample_bundle, sample_blob):
        with pytest.raises(cachepack.SignatureError):
            cachepack.populate(path, "mem://", trusted_keys=[f"{key}.pub"])


def test_an_existing_key_file_already_exists(key: Path) -> None:
    with pytest.raises(cachepack.AlreadyExistsError) as raised:
        cachepack.keygen(key)
    assert raised.value.file is not None


def test_a_failing_local_system_is_an_io_error(tmp_path: Path, sample_blob: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    with pytest.raises(cachepack.LocalIOError):
        cachepack.write(not_a_dir / "x.cpk", sample_blob)


def test_a_dead_server_is_unavailable_per_artifact_and_the_rest_goes_on(
    sample_bundle: Path,
) -> None:
    # Nothing listens on port 1: every put is refused, none raises.
    report = cachepack.populate(sample_bundle, "redis://127.0.0.1:1?connect_timeout_ms=200")
    assert not report.ok
    assert report.failed == len(report.failures) > 0
    for _, key, error in report.failures:
        assert isinstance(error, cachepack.UnavailableError)
        assert error.url == "redis://127.0.0.1:1?connect_timeout_ms=200"
        assert error.key == key


@pytest.fixture
def locked_cache(tmp_path: Path) -> Iterator[Path]:
    """A file:// cache root whose every shard lock another holder has."""
    root = tmp_path / "locked"
    (root / "locks").mkdir(parents=True)
    fds = []
    try:
        for shard in range(256):
            fd = os.open(root / "locks" / f"{shard:02x}.lock", os.O_CREAT | os.O_RDWR)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield root
    finally:
        for fd in fds:
            os.close(fd)


def test_a_lock_held_past_its_timeout_is_deadline_exceeded(
    locked_cache: Path, sample_bundle: Path
) -> None:
    report = cachepack.populate(sample_bundle, f"file://{locked_cache}?lock_timeout_ms=20")
    assert report.stored == 0
    assert report.failures
    for _, _, error in report.failures:
        assert isinstance(error, cachepack.DeadlineExceededError)


def test_a_closed_bundle_passed_on_is_an_invalid_argument(sample_bundle: Path) -> None:
    bundle = cachepack.open(sample_bundle)
    bundle.close()
    with pytest.raises(cachepack.InvalidArgumentError):
        cachepack.populate(bundle, "mem://")


def test_a_full_memory_cache_is_resource_exhausted_per_artifact(sample_bundle: Path) -> None:
    # A 16-byte budget holds none of the sample's artifacts.
    report = cachepack.populate(sample_bundle, "mem://?max_bytes=16")
    assert not report.ok
    assert report.failures
    for _, key, error in report.failures:
        assert isinstance(error, cachepack.ResourceExhaustedError)
        assert error.code is ErrorCode.RESOURCE_EXHAUSTED
        assert error.key == key
