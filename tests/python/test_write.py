"""cachepack.write(), append() and keygen()."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import cachepack


def contents(path: Path) -> dict[tuple[str, str], bytes]:
    with cachepack.open(path) as bundle:
        return {(a.type, a.key): bytes(bundle.read(a.type, a.key)) for a in bundle}


def test_write_from_blob_bytes_a_path_and_an_open_blob_gives_the_same_bundle(
    tmp_path: Path, sample_blob: Path
) -> None:
    from_bytes, from_path, from_bundle = (tmp_path / f"{n}.cpk" for n in ("b", "p", "o"))
    stats = cachepack.write(from_bytes, sample_blob.read_bytes())
    cachepack.write(from_path, sample_blob)
    with cachepack.open(sample_blob) as blob:
        cachepack.write(from_bundle, blob)
        assert stats.entries == stats.added == len(blob)
    assert stats.file_size == from_bytes.stat().st_size
    assert from_bytes.read_bytes() == from_path.read_bytes() == from_bundle.read_bytes()


def test_write_from_triples_stores_each_artifact(tmp_path: Path) -> None:
    path = tmp_path / "triples.cpk"
    artifacts = [
        ("inductor", "f" + "a" * 51, b"graph"),
        ("custom", "bytearray", bytearray(b"mutable")),
        ("custom", "view", memoryview(b"0123456789")[2:5]),
        ("custom", "empty", b""),
    ]
    stats = cachepack.write(path, iter(artifacts))
    assert stats.added == 4
    assert contents(path) == {(t, k): bytes(c) for t, k, c in artifacts}


def test_the_bytes_do_not_depend_on_the_number_of_threads(
    tmp_path: Path, sample_blob: Path
) -> None:
    outputs = []
    for threads in (1, 2, 4):
        path = tmp_path / f"t{threads}.cpk"
        cachepack.write(path, sample_blob, threads=threads)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_levels_trade_size_and_zero_stores_raw(tmp_path: Path) -> None:
    content = b"compile cache artifact " * 20000
    sizes = {}
    for level in (0, 1, 19):
        path = tmp_path / f"l{level}.cpk"
        cachepack.write(path, [("custom", "k", content)], level=level)
        sizes[level] = path.stat().st_size
        assert contents(path) == {("custom", "k"): content}
    assert sizes[0] > len(content) > sizes[1] >= sizes[19]


def test_dictionaries_are_made_per_type_and_read_back(tmp_path: Path, sample_blob: Path) -> None:
    path = tmp_path / "dict.cpk"
    cachepack.write(path, sample_blob, dictionaries=True)
    assert contents(path) == contents(sample_blob)


def test_a_signed_bundle_verifies_only_with_its_key(
    tmp_path: Path, sample_blob: Path, key: Path, other_key: Path
) -> None:
    path = tmp_path / "signed.cpk"
    cachepack.write(path, sample_blob, sign_key=key)
    with cachepack.open(path) as bundle:
        assert bundle.verify([f"{key}.pub"]).trusted_signatures == 1
        with pytest.raises(cachepack.SignatureError):
            bundle.verify([f"{other_key}.pub"])


def test_a_signing_key_may_be_given_as_pem_bytes(
    tmp_path: Path, sample_blob: Path, key: Path
) -> None:
    path = tmp_path / "signed.cpk"
    cachepack.write(path, sample_blob, sign_key=key.read_bytes())
    assert cachepack.open(path).verify([f"{key}.pub"]).trusted_signatures == 1


def test_keygen_writes_a_private_key_only_its_owner_reads_and_returns_the_public_key(
    tmp_path: Path, sample_blob: Path
) -> None:
    path = tmp_path / "new.pem"
    public = cachepack.keygen(path)
    assert len(public) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Path(f"{path}.pub").is_file()
    signed = tmp_path / "signed.cpk"
    cachepack.write(signed, sample_blob, sign_key=path)
    assert cachepack.open(signed, trusted_keys=[public]).verify([public]).trusted_signatures == 1


def test_append_adds_entries_keeps_the_old_ones_and_drops_old_signatures(
    tmp_path: Path, sample_blob: Path, key: Path
) -> None:
    path = tmp_path / "grow.cpk"
    first = cachepack.write(path, sample_blob, sign_key=key, metadata={"a": "1"})
    stats = cachepack.append(path, [("custom", "added", b"new")], metadata={"b": "2"})
    assert stats.added == 1
    assert stats.entries == first.entries + 1
    with cachepack.open(path) as bundle:
        assert bytes(bundle.read("custom", "added")) == b"new"
        assert bundle.metadata["user"] == {"a": "1", "b": "2"}
        assert bundle.verify().valid_signatures == 0
    cachepack.append(path, sample_blob, sign_key=key)
    assert cachepack.open(path).verify([f"{key}.pub"]).trusted_signatures == 1


def test_write_replaces_a_file_only_with_a_complete_bundle(tmp_path: Path) -> None:
    path = tmp_path / "keep.cpk"
    path.write_bytes(b"old contents")

    def failing() -> object:
        yield ("custom", "k", b"fine")
        raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError, match="producer failed"):
        cachepack.write(path, failing())
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["keep.cpk"]


def test_environment_and_its_metadata_key_cannot_both_be_given(tmp_path: Path) -> None:
    with pytest.raises(cachepack.InvalidArgumentError):
        cachepack.write(
            tmp_path / "x.cpk",
            [],
            environment={"torch": "2.13.0"},
            metadata={cachepack.ENVIRONMENT_KEY: "{}"},
        )
