"""Fixtures for reader tests: small DICOM files written with pydicom."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def build_dicom(pixels: np.ndarray, *, bits_stored: int = 16, photometric: str = "MONOCHROME2", **tags: Any) -> Dataset:
    """Return a single-frame grayscale dataset holding ``pixels`` plus extra ``tags``."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.Modality = "MG"
    dataset.set_pixel_data(pixels, photometric, bits_stored)
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    return dataset


@pytest.fixture
def write_dicom(tmp_path: Path) -> Callable[..., Path]:
    """Write ``build_dicom(pixels, **tags)`` to a temporary file and return its path."""
    counter = iter(range(1_000_000))

    def write(pixels: np.ndarray, *, name: str | None = None, compress: str | None = None, **tags: Any) -> Path:
        dataset = build_dicom(pixels, **tags)
        if compress is not None:
            dataset.compress(compress)
        path = tmp_path / (name or f"image{next(counter)}.dcm")
        dataset.save_as(path, enforce_file_format=True)
        return path

    return write


@pytest.fixture(scope="session")
def pydicom_data_dir(realdata_dir: Path) -> Path:
    """The folder of pydicom's real codec and display test files."""
    folder = realdata_dir / "dicom" / "pydicom-data"
    if not folder.is_dir():
        pytest.skip(f"'{folder}' is missing from the real-data folder")
    return folder
