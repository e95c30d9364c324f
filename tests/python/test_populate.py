"""cachepack.populate() into caches, and cachepack.pack() out of them."""

from __future__ import annotations

from pathlib import Path

import pytest

import cachepack


def listed(path: Path) -> list[cachepack.Artifact]:
    with cachepack.open(path) as bundle:
        return list(bundle)


def test_populate_writes_every_artifact_and_reports_per_type(
    tmp_path: Path, sample_bundle: Path
) -> None:
    url = f"file://{tmp_path / 'cache'}"
    report = cachepack.populate(sample_bundle, url)
    artifacts = listed(sample_bundle)
    assert report.ok
    assert report.url == url
    assert report.stored == len(artifacts)
    assert report.bytes == sum(a.size for a in artifacts)
    assert report.seconds > 0
    assert set(report.by_type) == {a.type for a in artifacts}
    for type_, summary in report.by_type.items():
        assert summary.stored == sum(a.type == type_ for a in artifacts)


def test_populate_takes_a_path_an_open_bundle_or_bytes(tmp_path: Path, sample_blob: Path) -> None:
    with cachepack.open(sample_blob) as blob:
        sources = [sample_blob, str(sample_blob), blob, sample_blob.read_bytes()]
        for i, source in enumerate(sources):
            report = cachepack.populate(source, f"file://{tmp_path / str(i)}")
            assert report.stored == len(blob)


def test_skip_existing_skips_what_is_there_and_overwrite_writes_it_again(
    tmp_path: Path, sample_bundle: Path
) -> None:
    url = f"file://{tmp_path / 'cache'}"
    first = cachepack.populate(sample_bundle, url, threads=2)
    again = cachepack.populate(sample_bundle, url)
    assert (again.stored, again.skipped) == (0, first.stored)
    overwritten = cachepack.populate(sample_bundle, url, policy="overwrite")
    assert overwritten.stored == first.stored
    verified = cachepack.populate(sample_bundle, url, policy="verify")
    assert verified.ok


def test_a_pytorch_cache_dir_skips_types_it_has_no_place_for(tmp_path: Path, vectors: Path) -> None:
    report = cachepack.populate(vectors / "all_types.bin", f"torch://{tmp_path / 'torch'}")
    assert report.by_type["inductor_triton"].unsupported == 3
    # all_types.bin holds hand-made keys that cannot be file names: each is a
    # reported failure, and the other artifacts are written.
    assert report.failed == len(report.failures) > 0
    for type_, key, error in report.failures:
        assert isinstance(error, cachepack.InvalidArgumentError)
        assert error.key == key
        assert error.reason == cachepack.ErrorReason.INVALID_KEY
        assert type_ in report.by_type
    assert report.stored > 0


def test_populate_with_trusted_keys_needs_their_signature_and_writes_nothing_without(
    tmp_path: Path, signed_bundle: Path, key: Path, other_key: Path
) -> None:
    trusted = cachepack.populate(
        signed_bundle, f"file://{tmp_path / 'ok'}", trusted_keys=[f"{key}.pub"]
    )
    assert trusted.ok
    assert trusted.stored > 0
    with pytest.raises(cachepack.SignatureError):
        cachepack.populate(
            signed_bundle, f"file://{tmp_path / 'no'}", trusted_keys=[f"{other_key}.pub"]
        )
    assert not (tmp_path / "no").exists() or not any((tmp_path / "no").rglob("objects/*/*/*"))


def test_pack_gathers_a_cache_into_a_bundle_or_a_blob(tmp_path: Path, sample_bundle: Path) -> None:
    url = f"file://{tmp_path / 'cache'}"
    cachepack.populate(sample_bundle, url)
    expected = {(a.type, a.key, a.sha256) for a in listed(sample_bundle)}
    for out in (tmp_path / "packed.cpk", tmp_path / "packed.bin"):
        stats = cachepack.pack([url], out)
        assert stats.artifacts == len(expected)
        assert stats.file_size == out.stat().st_size
        assert {(a.type, a.key, a.sha256) for a in listed(out)} == expected
    assert cachepack.open(tmp_path / "packed.cpk").format == "cachepack"
    assert cachepack.open(tmp_path / "packed.bin").format == "pytorch-megacache"


def test_pack_keeps_identical_artifacts_once(
    tmp_path: Path, sample_blob: Path, sample_bundle: Path
) -> None:
    with cachepack.open(sample_blob) as blob:
        stats = cachepack.pack([sample_blob, sample_bundle, blob], tmp_path / "once.cpk")
        assert stats.artifacts == len(blob)
        assert stats.duplicates == 2 * len(blob)
