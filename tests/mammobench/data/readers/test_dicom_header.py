"""DICOM header reader: laterality and view from the tags mammography files use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from mammobench.data.readers import read_dicom_header
from mammobench.errors import ImageReadError

PIXELS = np.arange(12, dtype=np.uint16).reshape(3, 4)


def test_header_prefers_image_laterality(write_dicom) -> None:
    header = read_dicom_header(write_dicom(PIXELS, ImageLaterality="R", Laterality="L", ViewPosition="MLO"))
    assert header.laterality == "R"
    assert header.view == "MLO"
    assert (header.rows, header.columns) == (3, 4)


def test_header_view_from_code_sequence(write_dicom) -> None:
    item = Dataset()
    item.CodeValue = "R-10242"
    item.CodingSchemeDesignator = "SRT"
    item.CodeMeaning = "cranio-caudal"
    header = read_dicom_header(write_dicom(PIXELS, ViewCodeSequence=[item]))
    assert header.view == "CC"


def test_header_view_from_code_meaning(write_dicom) -> None:
    item = Dataset()
    item.CodeValue = "399368009"  # SNOMED CT, not in the table of SRT codes
    item.CodingSchemeDesignator = "SCT"
    item.CodeMeaning = "medio-lateral oblique"
    header = read_dicom_header(write_dicom(PIXELS, ViewCodeSequence=[item]))
    assert header.view == "MLO"


def test_header_without_view_or_laterality(write_dicom) -> None:
    header = read_dicom_header(write_dicom(PIXELS))
    assert header.laterality is None
    assert header.view is None


def test_header_of_non_dicom_raises(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError):
        read_dicom_header(path)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("relative", "laterality"),
    [("sfm-benign-0/1-130.dcm", "L"), ("sfm-malign-0/1-282.dcm", "R")],
)
def test_cbis_ddsm_header(realdata_dir: Path, relative: str, laterality: str) -> None:
    header = read_dicom_header(realdata_dir / "dicom" / "cbis-ddsm" / relative)
    assert header.laterality == laterality
    assert header.view == "CC"  # stored in PatientOrientation in these files
    assert header.rows > 4000
