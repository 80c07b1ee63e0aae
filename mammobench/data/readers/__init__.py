"""Image readers: one call turns a mammogram file into float32 pixels in [0, 1].

Every reader returns a 2-D ``float32`` array with bright = dense tissue (the MONOCHROME2
convention), so preprocessing never has to know where an image came from. The format is chosen
by the file signature first and the file name suffix second:

- DICOM (``DICM`` at byte 128, or a ``.dcm``/``.dicom`` suffix): see :mod:`.dicom` for the order
  of the Modality LUT, VOI and polarity steps.
- PNG, 8- or 16-bit grayscale (e.g. the Mammo-CLIP preprocessed releases): see :mod:`.raster`.
- PGM, binary or ASCII (mini-MIAS): see :mod:`.raster`.

Every failure raises :class:`~mammobench.errors.ImageReadError` naming the file and the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mammobench.data.readers.dicom import (
    DICOM_CODECS_HINT,
    dicom_modality_values,
    dicom_padding_mask,
    dicom_stored_values,
    dicom_voi_values,
    load_dicom,
    read_dicom,
)
from mammobench.data.readers.dicom_header import DicomHeader, read_dicom_header
from mammobench.data.readers.raster import read_pgm, read_png
from mammobench.errors import ImageReadError

__all__ = [
    "DICOM_CODECS_HINT",
    "DicomHeader",
    "detect_format",
    "dicom_modality_values",
    "dicom_padding_mask",
    "dicom_stored_values",
    "dicom_voi_values",
    "load_dicom",
    "read_dicom",
    "read_dicom_header",
    "read_image",
    "read_pgm",
    "read_png",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
_PNG_SUFFIXES = {".png"}
_PGM_SUFFIXES = {".pgm", ".pnm"}


def read_image(path: str | Path) -> np.ndarray:
    """Read one mammogram as float32 pixels in [0, 1] with bright = dense tissue.

    Args:
        path: DICOM, PNG or PGM file.

    Returns:
        A C-contiguous ``(height, width)`` float32 array whose values span [0, 1].

    Raises:
        ImageReadError: the file is missing, in an unsupported format, undecodable, multi-frame,
            constant, or needs a codec that is not installed.
    """
    path = Path(path)
    image_format = detect_format(path)
    if image_format == "dicom":
        return read_dicom(path)
    if image_format == "png":
        return read_png(path)
    return read_pgm(path)


def detect_format(path: str | Path) -> str:
    """Return ``'dicom'``, ``'png'`` or ``'pgm'`` for ``path`` from its signature or suffix.

    Raises:
        ImageReadError: the file cannot be opened or is none of the supported formats.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except FileNotFoundError:
        raise ImageReadError(
            path, "file not found; check the data root and the manifest path"
        ) from None
    except OSError as error:
        raise ImageReadError(path, f"cannot be opened ({error.strerror or error})") from None

    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head[:2] in (b"P5", b"P2"):
        return "pgm"

    # Some DICOM writers omit the 128-byte preamble; trust the suffix for those.
    suffix = path.suffix.lower()
    if suffix in _DICOM_SUFFIXES:
        return "dicom"
    if suffix in _PNG_SUFFIXES or suffix in _PGM_SUFFIXES:
        raise ImageReadError(
            path,
            f"the file has a '{suffix}' suffix but not the {suffix[1:].upper()} signature; "
            "it is damaged or mislabelled",
        )
    raise ImageReadError(
        path,
        "unsupported image format; expected DICOM, PNG (8- or 16-bit grayscale) or PGM",
    )
