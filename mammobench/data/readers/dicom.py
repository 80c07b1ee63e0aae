"""DICOM pixel pipeline: stored values to float32 in [0, 1] with bright = dense tissue.

The steps follow DICOM PS3.4 Annex N (grayscale pipeline), each applied exactly once:

1. **Stored values** decoded by pydicom (JPEG 2000, JPEG-LS and RLE through the pylibjpeg
   plugins), checked against BitsStored and PixelRepresentation. pydicom discards the unused
   high bits of native and RLE data, where older files kept overlay planes. Set bits there can
   also mean a wrong BitsStored tag, which scrambles the image. So unsigned native data with
   such bits is read with them discarded, and a warning names the file. Decoded compressed
   values above BitsStored raise.
2. **Modality LUT**: the Modality LUT Sequence if present, else RescaleSlope/RescaleIntercept,
   else the identity (pydicom's ``apply_modality_lut``).
3. **VOI**, producing values in [0, 1]:

   - the first item (index 0) of the VOI LUT Sequence wins when the file has one, even when it
     also has window tags (pydicom's ``apply_voi_lut`` makes the same choice by default);
   - else the first window (index 0) of WindowCenter/WindowWidth, with the VOILUTFunction
     LINEAR (the default), LINEAR_EXACT or SIGMOID;
   - else min-max scaling over the image.

4. **Polarity**: MONOCHROME1 or Presentation LUT Shape INVERSE inverts (``1 - value``) once.
   In the DX and MG IODs a MONOCHROME1 image carries INVERSE for the same inversion, so both
   together still invert only once.
5. **Padding**: stored values equal to Pixel Padding Value, or between it and Pixel Padding
   Range Limit, mark pixels outside the detector's image (PS3.3 C.7.5.1.1.2). They become 0,
   the darkest value, whatever the polarity, so the breast crop treats them as background. The
   min-max VOI leaves them out of its range.

Any failure raises :class:`~mammobench.errors.ImageReadError` naming the file.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, get_decoder
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from mammobench.errors import ImageReadError

logger = logging.getLogger(__name__)

DICOM_CODECS_HINT = 'pip install "mammobench[dicom-codecs]"'

_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def read_dicom(path: str | Path) -> np.ndarray:
    """Read a single-frame grayscale DICOM image as float32 in [0, 1], bright = dense tissue.

    Args:
        path: DICOM file.

    Returns:
        A C-contiguous ``(rows, columns)`` float32 array.

    Raises:
        ImageReadError: the file is truncated, undecodable, multi-frame, not grayscale, has
            values outside BitsStored, is constant, or needs a codec that is not installed.
    """
    path = Path(path)
    dataset = load_dicom(path)
    stored = dicom_stored_values(dataset, path)
    padding = dicom_padding_mask(dataset, stored, path)
    modality = dicom_modality_values(dataset, stored, path)
    del stored
    values = dicom_voi_values(dataset, modality, path, padding=padding)
    del modality

    if _is_inverted(dataset):
        values = 1.0 - values
    if padding is not None:
        values[padding] = 0.0
    return np.ascontiguousarray(values, dtype=np.float32)


def _check_native_high_bits(dataset: Dataset, bits_stored: int, signed: bool, path: str | Path) -> None:
    """Warn when unsigned native Pixel Data has bits set above BitsStored.

    pydicom masks those bits, which older files used for overlay planes. The same bits are set
    when BitsStored is simply too small, and then the masked values are scrambled, so the warning
    names the file and the smallest BitsStored that fits. Signed data is not checked, because
    writers differ on whether they sign-extend into the unused bits.
    """
    bits_allocated = int(dataset.get("BitsAllocated", 0) or 0)
    transfer_syntax = _transfer_syntax(dataset)
    if signed or transfer_syntax.is_compressed or bits_allocated not in (8, 16, 32):
        return
    if bits_stored >= bits_allocated:
        return
    count = int(dataset.Rows) * int(dataset.Columns)
    if len(dataset.PixelData) < count * bits_allocated // 8:
        return  # decoding already failed or will fail with its own message
    order = "<" if transfer_syntax.is_little_endian else ">"
    raw = np.frombuffer(dataset.PixelData, dtype=f"{order}u{bits_allocated // 8}", count=count)
    maximum = int(raw.max())
    if maximum >> bits_stored:
        logger.warning(
            "%s: raw pixel values reach %d, above the %d that BitsStored %d allows. The bits above "
            "BitsStored are discarded, as for an overlay plane; if they are image data, the "
            "BitsStored tag is wrong (it should be at least %d) and the image will look scrambled",
            path,
            maximum,
            2**bits_stored - 1,
            bits_stored,
            maximum.bit_length(),
        )


def dicom_padding_mask(dataset: Dataset, stored: np.ndarray, path: str | Path) -> np.ndarray | None:
    """Return the mask of padding pixels from Pixel Padding Value and Range Limit, if any.

    Args:
        dataset: a dataset returned by :func:`load_dicom`.
        stored: its stored values, from :func:`dicom_stored_values`.
        path: the file, for error messages.

    Returns:
        A boolean array shaped like ``stored``, or None when the file has no Pixel Padding
        Value or no pixel carries it.

    Raises:
        ImageReadError: every pixel is padding.
    """
    value = _integer_tag(dataset, "PixelPaddingValue", path)
    if value is None:
        return None
    limit = _integer_tag(dataset, "PixelPaddingRangeLimit", path)
    low, high = sorted((value, value if limit is None else limit))
    padding = (stored >= low) & (stored <= high)
    if not padding.any():
        return None
    if padding.all():
        raise ImageReadError(
            path,
            f"every pixel lies in the Pixel Padding range [{low}, {high}]; the image is blank or "
            "its PixelPaddingValue tag is wrong",
        )
    return padding


def load_dicom(path: str | Path) -> Dataset:
    """Parse a DICOM file and check that mammobench can decode its pixels, without decoding them.

    Checks: the file parses and contains pixel data, one frame, one sample per pixel,
    MONOCHROME1 or MONOCHROME2, and an installed decoder for its transfer syntax.

    Raises:
        ImageReadError: any of the checks fails.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(path, force=True)
        except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as error:
            raise ImageReadError(path, f"is not a readable DICOM file ({error})") from None
    parse_warnings = [str(warning.message).replace(f" in file {path}", "") for warning in caught]

    if "PixelData" not in dataset:
        if not _has_dicom_marker(path):
            raise ImageReadError(
                path,
                "is not a DICOM file: it has neither the 'DICM' marker nor a Pixel Data element; "
                "check that the path points at a DICOM image",
            )
        reason = "has no Pixel Data element"
        if parse_warnings:
            reason += f"; the file looks truncated ({parse_warnings[0]})"
        raise ImageReadError(path, reason + "; copy the file again from its source")

    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageReadError(
            path,
            f"is a multi-frame image with {frames} frames (e.g. tomosynthesis); mammobench reads "
            "single-frame 2-D mammograms only, so export a 2-D or synthetic 2-D view",
        )

    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    photometric = str(dataset.get("PhotometricInterpretation", "")).strip().upper()
    if samples != 1 or photometric not in _MONOCHROME:
        raise ImageReadError(
            path,
            f"PhotometricInterpretation '{photometric or 'missing'}' with SamplesPerPixel "
            f"{samples} is not supported; expected a grayscale MONOCHROME1 or MONOCHROME2 image",
        )

    _check_decoder(dataset, path)
    return dataset


def _has_dicom_marker(path: Path) -> bool:
    """Return True when the file has the 'DICM' prefix after its 128-byte preamble."""
    try:
        with path.open("rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def dicom_stored_values(dataset: Dataset, path: str | Path) -> np.ndarray:
    """Decode the stored pixel values and check them against BitsStored.

    Args:
        dataset: a dataset returned by :func:`load_dicom`.
        path: the file, for error messages.

    Returns:
        The stored values as pydicom decodes them (``uint`` or ``int`` dtype), 2-D.

    Raises:
        ImageReadError: decoding fails, a value lies outside the range that BitsStored and
            PixelRepresentation allow, or every pixel has the same value.
    """
    try:
        stored = dataset.pixel_array
    except Exception as error:  # decoder plugins raise many exception types
        raise ImageReadError(
            path,
            f"pixel data could not be decoded ({type(error).__name__}: {error}); the file is "
            "truncated or corrupt",
        ) from None

    if stored.ndim != 2:
        raise ImageReadError(path, f"decoded pixel array has shape {stored.shape}; expected 2-D")

    bits_stored = dataset.get("BitsStored")
    if bits_stored is None:
        raise ImageReadError(path, "BitsStored (0028,0101) is missing")
    bits_stored = int(bits_stored)
    signed = int(dataset.get("PixelRepresentation", 0) or 0) == 1
    if signed:
        lowest, highest = -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    else:
        lowest, highest = 0, 2**bits_stored - 1

    _check_native_high_bits(dataset, bits_stored, signed, path)
    minimum, maximum = int(stored.min()), int(stored.max())
    if minimum < lowest or maximum > highest:
        kind = "signed" if signed else "unsigned"
        raise ImageReadError(
            path,
            f"decoded values span [{minimum}, {maximum}], outside the range [{lowest}, {highest}] "
            f"that BitsStored {bits_stored} ({kind}) allows; the file is corrupt or its "
            "BitsStored/PixelRepresentation tags are wrong",
        )
    if minimum == maximum:
        raise ImageReadError(
            path, f"every pixel has the stored value {minimum}; the image is blank"
        )
    return stored


def _integer_tag(dataset: Dataset, keyword: str, path: str | Path) -> int | None:
    """Return an integer tag's value, or None when it is absent or not a single integer."""
    value = dataset.get(keyword)
    if isinstance(value, int):
        return value
    if value is not None:
        logger.warning("%s: %s value %r is not an integer, so it is ignored", path, keyword, value)
    return None


def dicom_modality_values(dataset: Dataset, stored: np.ndarray, path: str | Path) -> np.ndarray:
    """Apply the Modality LUT Sequence or the rescale slope and intercept to stored values.

    Signed stored values stay signed: the output dtype is the LUT's (``uint8``/``uint16``),
    ``float64`` after a rescale, or the stored dtype when the file has neither.

    Raises:
        ImageReadError: the Modality LUT is malformed.
    """
    if "ModalityLUTSequence" in dataset:
        # pydicom indexes the LUT with an array of the input's dtype, so int64 input keeps
        # ``value - first_mapped`` from wrapping around for narrow unsigned inputs.
        stored = stored.astype(np.int64)
    try:
        return apply_modality_lut(stored, dataset)
    except (ValueError, TypeError, AttributeError, IndexError) as error:
        raise ImageReadError(path, f"the Modality LUT could not be applied ({error})") from None


def dicom_voi_values(
    dataset: Dataset, values: np.ndarray, path: str | Path, padding: np.ndarray | None = None
) -> np.ndarray:
    """Map Modality LUT output to [0, 1] with the VOI LUT Sequence, the window or min-max.

    The choice and its order are described in the module docstring. No polarity inversion
    happens here.

    Args:
        dataset: a dataset returned by :func:`load_dicom`.
        values: Modality LUT output.
        path: the file, for error messages.
        padding: Mask of padding pixels (see :func:`dicom_padding_mask`), left out of the
            min-max range and of the blank-image check.

    Returns:
        float32 values in [0, 1].

    Raises:
        ImageReadError: the VOI tags are invalid, or the VOI maps every pixel to one value.
    """
    voi_lut = _first_voi_lut(dataset)
    if voi_lut is not None:
        mapped = _apply_lut(values, dataset, voi_lut, path)
        source = "VOI LUT Sequence"
    elif "WindowCenter" in dataset and "WindowWidth" in dataset:
        mapped = _apply_window(values, dataset, path)
        source = "window"
    else:
        image = values if padding is None else values[~padding]
        low, high = float(image.min()), float(image.max())
        if high <= low:
            raise ImageReadError(path, f"every image pixel has the value {low} after the Modality LUT")
        mapped = (values.astype(np.float32) - np.float32(low)) / np.float32(high - low)
        source = "min-max"

    mapped = np.clip(mapped, 0.0, 1.0).astype(np.float32, copy=False)
    image = mapped if padding is None else mapped[~padding]
    if float(image.max()) - float(image.min()) <= 0.0:
        raise ImageReadError(
            path,
            f"the {source} maps every pixel to {float(image.min()):.3g}; the VOI tags do not "
            "cover the pixel values",
        )
    return mapped


# -------------------------------------------------------------------------------------------------
# Decoder availability
# -------------------------------------------------------------------------------------------------


def _check_decoder(dataset: Dataset, path: Path) -> None:
    transfer_syntax = _transfer_syntax(dataset)
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError:
        raise ImageReadError(
            path,
            f"transfer syntax '{transfer_syntax.name}' ({transfer_syntax}) has no pixel data "
            "decoder in pydicom; convert the file to an uncompressed or JPEG 2000 syntax",
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
        raise ImageReadError(
            path,
            f"decoding transfer syntax '{transfer_syntax.name}' needs a codec that is not "
            f"installed ({missing}); install the DICOM codecs with: {DICOM_CODECS_HINT}",
        )


def _transfer_syntax(dataset: Dataset) -> UID:
    """Return the file's transfer syntax, inferring it for files without file meta information."""
    file_meta = getattr(dataset, "file_meta", None)
    transfer_syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if transfer_syntax is not None:
        return UID(transfer_syntax)

    implicit_vr, little_endian = dataset.original_encoding
    if implicit_vr:
        inferred = ImplicitVRLittleEndian
    elif little_endian:
        inferred = ExplicitVRLittleEndian
    else:
        inferred = ExplicitVRBigEndian
    dataset.ensure_file_meta()
    dataset.file_meta.TransferSyntaxUID = inferred
    return inferred


# -------------------------------------------------------------------------------------------------
# VOI
# -------------------------------------------------------------------------------------------------


def _first_voi_lut(dataset: Dataset) -> Dataset | None:
    sequence = dataset.get("VOILUTSequence")
    if not sequence:
        return None
    item = sequence[0]
    if item.get("LUTDescriptor") is None or item.get("LUTData") is None:
        return None
    return item


def _apply_lut(values: np.ndarray, dataset: Dataset, item: Dataset, path: Path) -> np.ndarray:
    """Map values through a VOI LUT item and scale the LUT's output range to [0, 1].

    pydicom 3.0.2's ``apply_voi`` builds its index array in the LUT's own dtype, so an 8-bit
    LUT wraps input values above 255 around instead of clamping them to the last entry. This
    helper clamps with int64 indices as PS3.3 C.11.2.1.1 describes.
    """
    descriptor = [int(value) for value in item.LUTDescriptor]
    if len(descriptor) != 3:
        raise ImageReadError(path, f"VOI LUT Descriptor {descriptor} must have 3 values")
    entries = descriptor[0] or 2**16
    first_mapped = descriptor[1]
    if first_mapped >= 2**15 and int(dataset.get("PixelRepresentation", 0) or 0) == 1:
        first_mapped -= 2**16  # the descriptor's second value is signed for signed pixels

    table = _lut_data(item, dataset, entries)
    if table.size < entries:
        raise ImageReadError(
            path, f"VOI LUT Data has {table.size} entries but its descriptor promises {entries}"
        )
    table = table[:entries].astype(np.float32)

    indices = np.rint(values).astype(np.int64) - first_mapped
    np.clip(indices, 0, entries - 1, out=indices)

    # The LUT's own output range, not 2**bits - 1, because some writers declare 16 bits per
    # entry and fill only 12.
    low, high = float(table.min()), float(table.max())
    if high <= low:
        raise ImageReadError(path, f"every VOI LUT entry has the value {low}")
    return (table[indices] - np.float32(low)) / np.float32(high - low)


def _lut_data(item: Dataset, dataset: Dataset, entries: int) -> np.ndarray:
    element = item["LUTData"]
    if isinstance(element.value, (bytes, bytearray)):  # VR OW: raw 16-bit words
        little_endian = dataset.original_encoding[1]
        dtype = "<u2" if little_endian in (True, None) else ">u2"
        return np.frombuffer(element.value, dtype=dtype)
    return np.atleast_1d(np.asarray(element.value, dtype=np.int64))


def _apply_window(values: np.ndarray, dataset: Dataset, path: Path) -> np.ndarray:
    """Window ``values`` to [0, 1] with the formulas of PS3.3 C.11.2.1.2.

    Written here instead of calling pydicom's ``apply_windowing``, because that function scales
    to an output range derived from BitsStored and the rescale tags. The tests check that both
    agree up to that affine scale.
    """
    center = _first_value(dataset["WindowCenter"].value)
    width = _first_value(dataset["WindowWidth"].value)
    function = str(dataset.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in _WINDOW_FUNCTIONS:
        raise ImageReadError(
            path,
            f"VOILUTFunction '{function}' is not supported; expected one of "
            f"{', '.join(_WINDOW_FUNCTIONS)}",
        )

    x = values.astype(np.float64, copy=False)
    if function == "LINEAR":
        if width < 1:
            raise ImageReadError(path, f"WindowWidth {width} must be >= 1 for a LINEAR window")
        if width == 1:  # the standard's formula degenerates to a step at center - 0.5
            return (x > center - 0.5).astype(np.float32)
        scaled = (x - (center - 0.5)) / (width - 1) + 0.5
    elif function == "LINEAR_EXACT":
        if width <= 0:
            raise ImageReadError(path, f"WindowWidth {width} must be > 0 for a LINEAR_EXACT window")
        scaled = (x - center) / width + 0.5
    else:
        if width <= 0:
            raise ImageReadError(path, f"WindowWidth {width} must be > 0 for a SIGMOID window")
        scaled = 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def _first_value(value: Any) -> float:
    """Return the first of a multi-valued window tag (index 0) as float."""
    if isinstance(value, (list, tuple, MultiValue)):
        return float(value[0])
    return float(value)


# -------------------------------------------------------------------------------------------------
# Polarity
# -------------------------------------------------------------------------------------------------


def _is_inverted(dataset: Dataset) -> bool:
    photometric = str(dataset.get("PhotometricInterpretation", "")).strip().upper()
    shape = str(dataset.get("PresentationLUTShape", "") or "").strip().upper()
    return photometric == "MONOCHROME1" or shape == "INVERSE"
