"""cachepack.open(): bundles and Mega-Cache blobs, listed and read lazily."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import cachepack


def manifest_artifacts(vectors: Path, name: str) -> list[dict[str, object]]:
    return json.loads((vectors / name).read_text())["artifacts"]


def test_a_blob_lists_every_artifact_in_stored_order_as_the_manifest_says(vectors: Path) -> None:
    expected = manifest_artifacts(vectors, "all_types.json")
    with cachepack.open(vectors / "all_types.bin") as blob:
        assert blob.format == "pytorch-megacache"
        assert len(blob) == len(expected)
        listed = list(blob)
    assert [(a.type, a.key, a.size, a.sha256) for a in listed] == [
        (e["type"], e["key"], e["content_size"], e["content_sha256"]) for e in expected
    ]
    assert all(isinstance(a, cachepack.Artifact) for a in listed)


def test_reading_a_blob_artifact_gives_its_exact_content(vectors: Path) -> None:
    with cachepack.open(vectors / "one_artifact.bin") as blob:
        (artifact,) = blob
        content = bytes(blob.read(artifact.type, artifact.key))
    assert hashlib.sha256(content).hexdigest() == artifact.sha256
    assert len(content) == artifact.size


def test_a_repeated_type_and_key_reads_the_last_one_stored(tmp_path: Path) -> None:
    bundle_path, blob_path = tmp_path / "twice.cpk", tmp_path / "twice.bin"
    cachepack.write(bundle_path, [("custom", "k", b"first"), ("custom", "k", b"second")])
    with cachepack.open(bundle_path) as bundle:
        blob_path.write_bytes(bundle.to_megacache())
        assert len(bundle) == 2
        assert bytes(bundle.read("custom", "k")) == b"second"
    with cachepack.open(blob_path) as blob:
        assert [a.size for a in blob] == [5, 6]
        assert bytes(blob.read("custom", "k")) == b"second"


def test_a_blob_of_two_saves_keeps_both_saves_groups(vectors: Path) -> None:
    expected = manifest_artifacts(vectors, "appended_two_saves.json")
    with cachepack.open(vectors / "appended_two_saves.bin") as blob:
        assert [(a.type, a.key) for a in blob] == [(e["type"], e["key"]) for e in expected]
        for a in blob:
            assert hashlib.sha256(blob.read(a.type, a.key)).hexdigest() == a.sha256


def test_a_bundle_lists_the_same_artifacts_as_the_blob_it_was_made_from(
    sample_blob: Path, sample_bundle: Path
) -> None:
    with cachepack.open(sample_blob) as blob, cachepack.open(sample_bundle) as bundle:
        assert bundle.format == "cachepack"
        assert list(bundle) == list(blob)
        for a in bundle:
            assert bytes(bundle.read(a.type, a.key)) == bytes(blob.read(a.type, a.key))


def test_the_format_is_told_from_the_bytes_not_the_file_name(
    tmp_path: Path, sample_blob: Path, sample_bundle: Path
) -> None:
    blob_named_cpk = tmp_path / "blob.cpk"
    bundle_named_bin = tmp_path / "bundle.bin"
    shutil.copy(sample_blob, blob_named_cpk)
    shutil.copy(sample_bundle, bundle_named_bin)
    assert cachepack.open(blob_named_cpk).format == "pytorch-megacache"
    assert cachepack.open(bundle_named_bin).format == "cachepack"


def test_unregistered_types_are_listed_and_carried(tmp_path: Path) -> None:
    path = tmp_path / "custom.cpk"
    cachepack.write(
        path, [("my_compiler_cache", "k1", b"payload"), ("inductor", "f" + "a" * 51, b"x")]
    )
    with cachepack.open(path) as bundle:
        registered = {a.type: a.registered for a in bundle}
        assert registered == {"my_compiler_cache": False, "inductor": True}
        assert bytes(bundle.read("my_compiler_cache", "k1")) == b"payload"


def test_keys_that_are_not_utf8_round_trip_as_surrogate_escaped_str(tmp_path: Path) -> None:
    path = tmp_path / "bytes-key.cpk"
    cachepack.write(path, [("custom", b"\xff\xfe-key", b"content")])
    with cachepack.open(path) as bundle:
        (artifact,) = bundle
        assert artifact.key == b"\xff\xfe-key".decode("utf-8", "surrogateescape")
        assert bytes(bundle.read("custom", artifact.key)) == b"content"
        assert bytes(bundle.read("custom", b"\xff\xfe-key")) == b"content"


def test_a_bundle_made_from_a_blob_gives_the_blob_back_byte_for_byte(
    vectors: Path, tmp_path: Path
) -> None:
    for name in ("all_types.bin", "appended_two_saves.bin", "large.bin", "empty.bin"):
        original = (vectors / name).read_bytes()
        cachepack.write(tmp_path / f"{name}.cpk", original)
        with cachepack.open(tmp_path / f"{name}.cpk") as bundle:
            assert bundle.to_megacache() == original, name
        with cachepack.open(vectors / name) as blob:
            assert blob.to_megacache() == original, name


def test_metadata_holds_the_producer_and_the_user_metadata(
    tmp_path: Path, sample_blob: Path
) -> None:
    path = tmp_path / "meta.cpk"
    cachepack.write(path, sample_blob, metadata={"torch": "2.13.0", "team": "infra"})
    with cachepack.open(path) as bundle:
        assert bundle.metadata["producer"] == "cachepack"
        assert bundle.metadata["user"] == {"torch": "2.13.0", "team": "infra"}
        assert "creation_unix_seconds" not in bundle.metadata  # Deterministic by default.
    with cachepack.open(sample_blob) as blob:
        assert blob.metadata == {}


def test_the_environment_round_trips_through_the_reserved_metadata_key(
    tmp_path: Path, sample_blob: Path
) -> None:
    environment = {"torch": "2.13.0", "python": "3.11.7", "cuda": None, "flags": ["a", "b"]}
    path = tmp_path / "env.cpk"
    cachepack.write(path, sample_blob, environment=environment)
    with cachepack.open(path) as bundle:
        assert bundle.environment == environment
        stored = bundle.metadata["user"][cachepack.ENVIRONMENT_KEY]
        assert cachepack.ENVIRONMENT_KEY == "cachepack.environment"
        assert json.loads(stored) == environment
    with cachepack.open(sample_blob) as blob:
        assert blob.environment is None


def test_environment_text_that_is_not_json_is_data_loss(tmp_path: Path, sample_blob: Path) -> None:
    path = tmp_path / "bad-env.cpk"
    cachepack.write(path, sample_blob, metadata={cachepack.ENVIRONMENT_KEY: "{not json"})
    with cachepack.open(path) as bundle, pytest.raises(cachepack.DataLossError):
        _ = bundle.environment


def test_a_closed_bundle_refuses_every_call(sample_bundle: Path) -> None:
    bundle = cachepack.open(sample_bundle)
    bundle.close()
    assert bundle.closed
    with pytest.raises(cachepack.InvalidArgumentError, match="closed"):
        len(bundle)
    with pytest.raises(cachepack.InvalidArgumentError):
        bundle.read("inductor", "x")


def test_verify_reports_what_it_checked(sample_blob: Path, signed_bundle: Path, key: Path) -> None:
    with cachepack.open(sample_blob) as blob:
        report = blob.verify()
        assert report.format == "pytorch-megacache"
        assert report.entries == len(blob)
        assert report.stored_bytes == sample_blob.stat().st_size
    with cachepack.open(signed_bundle) as bundle:
        report = bundle.verify(trusted_keys=[f"{key}.pub"])
        assert (report.valid_signatures, report.trusted_signatures) == (1, 1)
        assert report.summary.endswith("1 valid signature (trusted)")
        assert bundle.verify().trusted_signatures == 0


def test_opening_with_trusted_keys_accepts_a_bundle_they_signed(
    signed_bundle: Path, key: Path
) -> None:
    public = Path(f"{key}.pub")
    for trusted in ([public], [str(public)], public, [public.read_bytes()]):
        with cachepack.open(signed_bundle, trusted_keys=trusted) as bundle:
            assert len(bundle) > 0
