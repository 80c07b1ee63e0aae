"""Preprocessed-image cache: keys, atomic files, the hash index and no second decode."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mammobench.data.image_cache as image_cache_module
from mammobench.data.image_cache import ImageCache
from mammobench.data.preprocess import PREPROCESS_VERSION
from mammobench.errors import ImageReadError


def write_breast_png(path: Path, chest_wall: str = "left", seed: int = 0) -> Path:
    """Write a 16-bit PNG holding a half-ellipse breast on a dark background."""
    rng = np.random.default_rng(seed)
    height, width = 300, 200
    rows, columns = np.mgrid[0:height, 0:width]
    distance = columns if chest_wall == "left" else width - 1 - columns
    inside = ((distance / (0.6 * width)) ** 2 + ((rows - height / 2) / (0.4 * height)) ** 2) <= 1.0
    image = rng.uniform(0.0, 0.02, size=(height, width))
    image[inside] = 0.7 - 0.3 * distance[inside] / width
    Image.fromarray((image * 65535).astype(np.uint16)).save(path)
    return path


class DecodeCounter:
    """Wraps the real reader and counts how often the cache decodes a file."""

    def __init__(self, read_image) -> None:
        self.read_image = read_image
        self.calls = 0

    def __call__(self, path):
        self.calls += 1
        return self.read_image(path)


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> DecodeCounter:
    spy = DecodeCounter(image_cache_module.read_image)
    monkeypatch.setattr(image_cache_module, "read_image", spy)
    return spy


def test_second_load_decodes_nothing(tmp_path: Path, counter: DecodeCounter) -> None:
    source = write_breast_png(tmp_path / "breast.png")

    first_image, first_transform = ImageCache("tiny", root=tmp_path / "cache").load(source, "L")
    second_cache = ImageCache("tiny", root=tmp_path / "cache")
    second_image, second_transform = second_cache.load(source, "L")

    assert counter.calls == 1
    assert second_cache.hits == 1
    assert second_cache.misses == 0
    assert np.array_equal(first_image, second_image)
    assert first_transform == second_transform
    assert second_image.dtype == np.float32
    assert second_image.shape == (256, 160)


def test_second_run_decodes_no_dicom(tmp_path: Path, counter: DecodeCounter) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless, SecondaryCaptureImageStorage, generate_uid

    png = write_breast_png(tmp_path / "breast.png")
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.set_pixel_data(np.asarray(Image.open(png)).astype(np.uint16), "MONOCHROME2", 16)
    dataset.compress(RLELossless)
    source = tmp_path / "breast.dcm"
    dataset.save_as(source, enforce_file_format=True)

    ImageCache("tiny", root=tmp_path / "cache").load(source, "L")
    ImageCache("tiny", root=tmp_path / "cache").load(source, "L")

    assert counter.calls == 1


def test_cached_matches_fresh_preprocess(tmp_path: Path) -> None:
    from mammobench.data.preprocess import preprocess
    from mammobench.data.readers import read_image

    source = write_breast_png(tmp_path / "breast.png")
    cached, transform = ImageCache("tiny", root=tmp_path / "cache").load(source, "L")
    fresh, fresh_transform = preprocess(read_image(source), "L", "tiny")

    assert transform == fresh_transform
    assert np.abs(cached - fresh).max() <= 1 / 65535 + 1e-7


def test_key_depends_on_content_not_path(tmp_path: Path, counter: DecodeCounter) -> None:
    source = write_breast_png(tmp_path / "breast.png")
    copy = tmp_path / "copy.png"
    copy.write_bytes(source.read_bytes())
    cache = ImageCache("tiny", root=tmp_path / "cache")

    cache.load(source, "L")
    cache.load(copy, "L")

    assert counter.calls == 1


def test_changed_file_is_reprocessed(tmp_path: Path, counter: DecodeCounter) -> None:
    source = write_breast_png(tmp_path / "breast.png")
    cache = ImageCache("tiny", root=tmp_path / "cache")
    cache.load(source, "L")

    write_breast_png(source, chest_wall="right", seed=1)
    os.utime(source, ns=(1, 1))  # a new mtime even on coarse filesystem clocks
    _, transform = cache.load(source, "L")

    assert counter.calls == 2
    assert transform.flip


def test_index_spares_rehashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_breast_png(tmp_path / "breast.png")
    cache = ImageCache("tiny", root=tmp_path / "cache")
    digest = cache.content_hash(source)

    def fail(path):
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr(image_cache_module, "_sha256_of_file", fail)
    assert cache.content_hash(source) == digest


def test_entries_separate_profile_side_and_laterality(tmp_path: Path, counter: DecodeCounter) -> None:
    source = write_breast_png(tmp_path / "breast.png")
    root = tmp_path / "cache"

    ImageCache("tiny", root=root).load(source, "L")
    ImageCache("tiny", root=root).load(source, "R")
    ImageCache("tiny", root=root, canonical_side="right").load(source, "L")
    ImageCache("medium", root=root).load(source, "L")

    assert counter.calls == 4
    folders = sorted(path.name for path in root.iterdir() if path.name != "index")
    assert folders == [
        f"medium-1024x608-v{PREPROCESS_VERSION}-left",
        f"tiny-256x160-v{PREPROCESS_VERSION}-left",
        f"tiny-256x160-v{PREPROCESS_VERSION}-right",
    ]


def test_entry_files_are_complete(tmp_path: Path) -> None:
    source = write_breast_png(tmp_path / "breast.png")
    cache = ImageCache("tiny", root=tmp_path / "cache")
    entry = cache.ensure(source, "L")

    pixels = np.load(entry.array_path, mmap_mode="r")
    meta = json.loads(entry.meta_path.read_text())
    leftovers = list(entry.array_path.parent.glob("*.tmp"))

    assert isinstance(pixels, np.memmap)
    assert pixels.dtype == np.uint16
    assert meta["preprocess_version"] == PREPROCESS_VERSION
    assert meta["transform"]["output_size"] == [256, 160]
    assert leftovers == []


def test_failed_read_caches_nothing(tmp_path: Path) -> None:
    source = tmp_path / "blank.png"
    Image.fromarray(np.zeros((20, 20), dtype=np.uint8)).save(source)
    cache = ImageCache("tiny", root=tmp_path / "cache")

    with pytest.raises(ImageReadError, match="blank"):
        cache.load(source, "L")
    assert not cache.contains(source, "L")


def test_missing_source_raises(tmp_path: Path) -> None:
    cache = ImageCache("tiny", root=tmp_path / "cache")
    with pytest.raises(ImageReadError, match="file not found"):
        cache.load(tmp_path / "absent.png", "L")


def test_default_root_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path / "home"))
    assert ImageCache("tiny").root == tmp_path / "home" / "images"
