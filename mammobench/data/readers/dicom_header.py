"""Read laterality, view and size from a DICOM header without decoding pixels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from mammobench.errors import ImageReadError

# CID 4014 "View for Mammography" (DICOM PS3.16): code value or code meaning -> the ACR MQCM
# 1999 abbreviation used as ViewPosition.
_VIEW_CODES = {
    "R-10224": "ML",
    "R-10226": "MLO",
    "R-10228": "LM",
    "R-10230": "LMO",
    "R-10242": "CC",
    "R-10244": "FB",
    "R-102D0": "SIO",
    "R-40AAA": "ISO",
    "R-1024A": "XCCL",
    "R-1024B": "XCCM",
    "Y-X1770": "XCCL",  # deprecated codes that older systems still write
    "Y-X1771": "XCCM",
}
_VIEW_MEANINGS = {
    "medio-lateral": "ML",
    "medio-lateral oblique": "MLO",
    "latero-medial": "LM",
    "latero-medial oblique": "LMO",
    "cranio-caudal": "CC",
    "caudo-cranial (from below)": "FB",
    "superolateral to inferomedial oblique": "SIO",
    "inferomedial to superolateral oblique": "ISO",
    "cranio-caudal exaggerated laterally": "XCCL",
    "cranio-caudal exaggerated medially": "XCCM",
}
_VIEW_ABBREVIATIONS = set(_VIEW_CODES.values()) | {"AT"}


@dataclass(frozen=True)
class DicomHeader:
    """Header facts that adapters and preprocessing need before any pixel is decoded."""

    laterality: str | None  # "L", "R" or None when the header does not say
    view: str | None  # ViewPosition-style abbreviation such as "CC" or "MLO", or None
    rows: int
    columns: int


def read_dicom_header(path: str | Path) -> DicomHeader:
    """Read laterality, view, rows and columns from a DICOM header, without decoding pixels.

    Laterality comes from ImageLaterality (0020,0062), else Laterality (0020,0060). The view
    comes from ViewPosition (0018,5101), else the first ViewCodeSequence item (CID 4014 code
    value or meaning), else PatientOrientation when it holds a view name, as CBIS-DDSM files do.

    Raises:
        ImageReadError: the file cannot be parsed or lacks Rows or Columns.
    """
    path = Path(path)
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as error:
        raise ImageReadError(path, f"is not a readable DICOM file ({error})") from None

    rows = dataset.get("Rows")
    columns = dataset.get("Columns")
    if rows is None or columns is None:
        raise ImageReadError(
            path, "Rows or Columns is missing; the file is truncated or not an image"
        )

    return DicomHeader(
        laterality=_laterality(dataset),
        view=_view(dataset),
        rows=int(rows),
        columns=int(columns),
    )


def _laterality(dataset: pydicom.Dataset) -> str | None:
    for keyword in ("ImageLaterality", "Laterality"):
        value = str(dataset.get(keyword, "") or "").strip().upper()
        if value in ("L", "R"):
            return value
    return None


def _view(dataset: pydicom.Dataset) -> str | None:
    position = str(dataset.get("ViewPosition", "") or "").strip().upper()
    if position:
        return position

    sequence = dataset.get("ViewCodeSequence")
    if sequence:
        item = sequence[0]
        code = str(item.get("CodeValue", "") or "").strip().upper()
        meaning = str(item.get("CodeMeaning", "") or "").strip().lower()
        if code in _VIEW_CODES:
            return _VIEW_CODES[code]
        if meaning in _VIEW_MEANINGS:
            return _VIEW_MEANINGS[meaning]

    orientation = dataset.get("PatientOrientation")
    if orientation:
        values = [orientation] if isinstance(orientation, str) else list(orientation)
        for value in values:
            candidate = str(value).strip().upper()
            if candidate in _VIEW_ABBREVIATIONS:
                return candidate
    return None
