from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import DigitalMammographyXRayImageStorageForPresentation

from mammobench.errors import ConfigError
from mammobench.synth.detector import VENDORS, StoredImage
from mammobench.synth.dicom import TRANSFER_SYNTAXES, DicomHeader, dicom_uid, write_dicom


def _stored(bits: int, photometric: str = "MONOCHROME2") -> StoredImage:
    rng = np.random.default_rng(bits)
    pixels = rng.integers(0, 2**bits, size=(96, 64)).astype(np.uint16)
    return StoredImage(
        pixels=pixels,
        bits_stored=bits,
        photometric=photometric,
        window_centers=(1000.0,),
        window_widths=(1800.0,),
        voi_function="LINEAR",
    )


def _header() -> DicomHeader:
    return DicomHeader(
        patient_id="p001",
        patient_age=57,
        study_instance_uid=dicom_uid("study"),
        series_instance_uid=dicom_uid("series"),
        sop_instance_uid=dicom_uid("image"),
        study_date="20200101",
        study_id="1",
        accession_number="SYN0000001",
        laterality="R",
        view="MLO",
        instance_number=4,
        pixel_spacing_mm=0.625,
        burned_in_label=True,
    )


@pytest.mark.parametrize("encoding", sorted(TRANSFER_SYNTAXES))
@pytest.mark.parametrize("bits", [12, 14, 16])
def test_encoding_decodes_exactly(tmp_path: Path, encoding: str, bits: int) -> None:
    stored = _stored(bits)
    path = tmp_path / "image.dcm"
    write_dicom(path, stored, _header(), VENDORS[0], encoding)

    dataset = pydicom.dcmread(path)
    assert dataset.file_meta.TransferSyntaxUID == TRANSFER_SYNTAXES[encoding]
    assert np.array_equal(dataset.pixel_array, stored.pixels)


def test_header_is_mammography(tmp_path: Path) -> None:
    path = tmp_path / "image.dcm"
    write_dicom(path, _stored(14, "MONOCHROME1"), _header(), VENDORS[3], "rle")
    dataset = pydicom.dcmread(path)

    assert dataset.SOPClassUID == DigitalMammographyXRayImageStorageForPresentation
    assert dataset.Modality == "MG"
    assert dataset.PresentationIntentType == "FOR PRESENTATION"
    assert dataset.ImageLaterality == "R"
    assert dataset.ViewPosition == "MLO"
    assert dataset.PhotometricInterpretation == "MONOCHROME1"
    assert dataset.BitsStored == 14
    assert dataset.HighBit == 13
    assert float(dataset.WindowCenter) == 1000.0
    assert dataset.PatientID == "p001"
    assert dataset.SOPInstanceUID == dicom_uid("image")
    assert dataset.BurnedInAnnotation == "YES"


def test_compression_keeps_instance_uid(tmp_path: Path) -> None:
    path = tmp_path / "image.dcm"
    write_dicom(path, _stored(12), _header(), VENDORS[0], "jpeg2000")
    dataset = pydicom.dcmread(path)
    assert dataset.SOPInstanceUID == dicom_uid("image")
    assert dataset.file_meta.MediaStorageSOPInstanceUID == dicom_uid("image")


def test_uid_is_valid_and_stable() -> None:
    uid = dicom_uid("a", 1)
    assert uid == dicom_uid("a", 1)
    assert uid != dicom_uid("a", 2)
    assert pydicom.uid.UID(uid).is_valid


def test_unknown_encoding_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="encoding 'jpegls' is not supported"):
        write_dicom(tmp_path / "x.dcm", _stored(12), _header(), VENDORS[0], "jpegls")
