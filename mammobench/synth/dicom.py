"""Writing synthetic images as DICOM Digital Mammography X-Ray Image (For Presentation) objects.

Three transfer syntaxes are supported so that readers exercise their real decoding paths:
uncompressed (Explicit VR Little Endian), RLE Lossless and JPEG 2000 Lossless. Compression
uses pydicom's encoders (RLE natively; JPEG 2000 through pylibjpeg-openjpeg). Every UID is
derived from ids by hashing, so the same ids give byte-identical files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    JPEG2000Lossless,
    RLELossless,
    UID,
    DigitalMammographyXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

from mammobench.errors import ConfigError
from mammobench.synth.detector import StoredImage, Vendor

# pylibjpeg-openjpeg logs "tile number 1 / 1" at INFO for every image it encodes.
logging.getLogger("openjpeg").setLevel(logging.WARNING)

TRANSFER_SYNTAXES: dict[str, UID] = {
    "uncompressed": ExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg2000": JPEG2000Lossless,
}

# PatientOrientation of each (laterality, view) for the chest wall on the image side that
# DICOM mammography uses: right breasts face left, left breasts face right.
_ORIENTATION = {
    ("L", "CC"): ["A", "R"],
    ("L", "MLO"): ["A", "F"],
    ("R", "CC"): ["P", "L"],
    ("R", "MLO"): ["P", "F"],
}


@dataclass(frozen=True)
class DicomHeader:
    """Patient, study and image identity written into one DICOM file."""

    patient_id: str
    patient_age: int
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    study_date: str  # YYYYMMDD
    study_id: str
    accession_number: str
    laterality: str
    view: str
    instance_number: int
    pixel_spacing_mm: float
    burned_in_label: bool


def dicom_uid(*parts: object) -> str:
    """Return a valid, deterministic DICOM UID derived from ``parts``."""
    return str(generate_uid(entropy_srcs=["mammobench-synthetic", *(str(part) for part in parts)]))


def write_dicom(
    path: Path,
    stored: StoredImage,
    header: DicomHeader,
    vendor: Vendor,
    encoding: str,
) -> None:
    """Write one image as a DICOM file, creating parent folders.

    Args:
        path: Output file.
        stored: Pixel values as stored and their window.
        header: Identity and acquisition values.
        vendor: Manufacturer and model names.
        encoding: ``uncompressed``, ``rle`` or ``jpeg2000``.
    """
    if encoding not in TRANSFER_SYNTAXES:
        choices = ", ".join(TRANSFER_SYNTAXES)
        raise ConfigError(f"encoding '{encoding}' is not supported; choose one of: {choices}")

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalMammographyXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = header.sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    _fill_header(dataset, stored, header, vendor)

    dataset.PixelData = stored.pixels.tobytes()
    if encoding != "uncompressed":
        # generate_instance_uid=False keeps the SOP Instance UID, so output stays deterministic.
        dataset.compress(TRANSFER_SYNTAXES[encoding], stored.pixels, generate_instance_uid=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)


def _fill_header(dataset: FileDataset, stored: StoredImage, header: DicomHeader, vendor: Vendor) -> None:
    height, width = stored.pixels.shape
    dataset.SpecificCharacterSet = "ISO_IR 100"
    dataset.ImageType = ["ORIGINAL", "PRIMARY", ""]
    dataset.SOPClassUID = DigitalMammographyXRayImageStorageForPresentation
    dataset.SOPInstanceUID = header.sop_instance_uid
    dataset.StudyDate = header.study_date
    dataset.SeriesDate = header.study_date
    dataset.ContentDate = header.study_date
    dataset.StudyTime = "090000"
    dataset.ContentTime = "090000"
    dataset.AccessionNumber = header.accession_number
    dataset.Modality = "MG"
    dataset.PresentationIntentType = "FOR PRESENTATION"
    dataset.Manufacturer = vendor.manufacturer
    dataset.ManufacturerModelName = vendor.model
    dataset.InstitutionName = "mammobench synthetic data"
    dataset.ReferringPhysicianName = ""
    dataset.StudyDescription = "Screening mammography (synthetic)"
    dataset.SeriesDescription = f"{header.laterality} {header.view}"

    dataset.PatientName = f"SYNTHETIC^{header.patient_id}"
    dataset.PatientID = header.patient_id
    dataset.PatientBirthDate = ""
    dataset.PatientSex = "F"
    dataset.PatientAge = f"{header.patient_age:03d}Y"

    dataset.BodyPartExamined = "BREAST"
    dataset.ViewPosition = header.view
    dataset.Laterality = header.laterality
    dataset.ImageLaterality = header.laterality
    dataset.PatientOrientation = _ORIENTATION[(header.laterality, header.view)]
    dataset.BurnedInAnnotation = "YES" if header.burned_in_label else "NO"

    dataset.StudyInstanceUID = header.study_instance_uid
    dataset.SeriesInstanceUID = header.series_instance_uid
    dataset.StudyID = header.study_id
    dataset.SeriesNumber = 1
    dataset.InstanceNumber = header.instance_number

    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = stored.photometric
    dataset.Rows = height
    dataset.Columns = width
    dataset.BitsAllocated = 16
    dataset.BitsStored = stored.bits_stored
    dataset.HighBit = stored.bits_stored - 1
    dataset.PixelRepresentation = 0
    spacing = f"{header.pixel_spacing_mm:.6f}"
    dataset.PixelSpacing = [spacing, spacing]
    dataset.ImagerPixelSpacing = [spacing, spacing]
    # Stored values rise with X-ray intensity for MONOCHROME1 and fall for MONOCHROME2.
    dataset.PixelIntensityRelationship = "LOG"
    dataset.PixelIntensityRelationshipSign = 1 if stored.photometric == "MONOCHROME1" else -1
    dataset.RescaleIntercept = "0"
    dataset.RescaleSlope = "1"
    dataset.RescaleType = "US"
    dataset.WindowCenter = [f"{value:.1f}" for value in stored.window_centers]
    dataset.WindowWidth = [f"{value:.1f}" for value in stored.window_widths]
    if len(stored.window_centers) > 1:
        dataset.WindowCenterWidthExplanation = ["NORMAL", "HARDER", "SOFTER"][: len(stored.window_centers)]
    dataset.VOILUTFunction = stored.voi_function
