"""Bundle.read() hands out stored bytes without copying them where that is safe."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

import cachepack


def address(view: memoryview) -> int:
    """Where the view's bytes are in memory."""
    return np.frombuffer(view, dtype=np.uint8).ctypes.data


def test_blob_contents_are_read_only_views_of_the_mapped_file(sample_blob: Path) -> None:
    with cachepack.open(sample_blob) as blob:
        artifact = max(blob, key=lambda a: a.size)
        first = blob.read(artifact.type, artifact.key)
        second = blob.read(artifact.type, artifact.key)
        assert isinstance(first, memoryview)
        assert first.readonly
        assert len(first) == artifact.size
        assert address(first) == address(second)  # The same mapped bytes, not copies.


def test_raw_bundle_entries_are_views_and_compressed_ones_are_bytes(tmp_path: Path) -> None:
    content = bytes(range(256)) * 4096
    raw, packed = tmp_path / "raw.cpk", tmp_path / "packed.cpk"
    cachepack.write(raw, [("custom", "k", content)], level=0)
    cachepack.write(packed, [("custom", "k", content)], level=3)
    with cachepack.open(raw) as bundle:
        view = bundle.read("custom", "k")
        assert isinstance(view, memoryview)
        assert view.readonly
        assert address(view) == address(bundle.read("custom", "k"))
        assert view == content
    with cachepack.open(packed) as bundle:
        data = bundle.read("custom", "k")
        assert isinstance(data, bytes)
        assert data == content


def test_a_view_keeps_its_bytes_after_the_bundle_is_closed_and_gone(tmp_path: Path) -> None:
    content = b"survives close " * 1000
    path = tmp_path / "raw.cpk"
    cachepack.write(path, [("custom", "k", content)], level=0)
    bundle = cachepack.open(path)
    view = bundle.read("custom", "k")
    bundle.close()
    del bundle
    gc.collect()
    assert view == content


def test_a_damaged_raw_entry_is_data_loss_not_a_view_of_bad_bytes(tmp_path: Path) -> None:
    content = b"A" * 10000
    path = tmp_path / "raw.cpk"
    cachepack.write(path, [("custom", "k", content)], level=0)
    data = bytearray(path.read_bytes())
    at = bytes(data).index(content)
    data[at + 5000] ^= 0x01
    path.write_bytes(bytes(data))
    with cachepack.open(path) as bundle, pytest.raises(cachepack.DataLossError) as raised:
        bundle.read("custom", "k")
    assert raised.value.reason == cachepack.ErrorReason.CHECKSUM_MISMATCH
    assert raised.value.offset == at
    assert raised.value.key == "k"
