"""DICOM reader: pipeline order, polarity, VOI choices and clear errors on real and small files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_voi, apply_windowing
from pydicom.uid import JPEG2000Lossless, RLELossless

from mammobench.data.readers import (
    dicom_modality_values,
    dicom_stored_values,
    dicom_voi_values,
    load_dicom,
    read_dicom,
    read_image,
)
from mammobench.errors import ImageReadError

RAMP = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


# -------------------------------------------------------------------------------------------------
# Real files
# -------------------------------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("stem", ["RG1", "RG3"])
def test_monochrome1_jpeg2000_pair_polarity(pydicom_data_dir: Path, stem: str) -> None:
    lossless_path = pydicom_data_dir / f"{stem}_J2KR.dcm"
    lossy_path = pydicom_data_dir / f"{stem}_J2KI.dcm"
    lossless = read_image(lossless_path)
    lossy = read_image(lossy_path)

    assert lossless.dtype == np.float32
    assert lossless.shape == lossy.shape
    assert lossless.min() >= 0.0
    assert lossless.max() <= 1.0
    assert _correlation(lossless, lossy) > 0.99

    # MONOCHROME1: a high stored value is displayed dark, so the output runs against it.
    dataset = load_dicom(lossless_path)
    stored = dicom_stored_values(dataset, lossless_path)
    assert _correlation(lossless, stored) < -0.9


@pytest.mark.realdata
def test_window_matches_pydicom_windowing(pydicom_data_dir: Path) -> None:
    path = pydicom_data_dir / "RG1_J2KR.dcm"
    dataset = load_dicom(path)
    modality = dicom_modality_values(dataset, dicom_stored_values(dataset, path), path)

    ours = dicom_voi_values(dataset, modality, path)
    # pydicom scales to [0, 2**BitsStored - 1] for unsigned pixels without rescale tags.
    reference = apply_windowing(modality, dataset) / (2 ** int(dataset.BitsStored) - 1)

    assert np.abs(ours - reference).max() < 1e-5


@pytest.mark.realdata
def test_voi_lut_sequence_file_decodes(pydicom_data_dir: Path) -> None:
    path = pydicom_data_dir / "vlut_04.dcm"
    image = read_image(path)

    dataset = pydicom.dcmread(path)
    # The file's LUT has 16-bit entries, where pydicom's apply_voi indexes correctly.
    reference = apply_voi(dataset.pixel_array, dataset).astype(np.float64) / 65535.0
    assert image.shape == (512, 512)
    assert np.abs(image - reference).max() < 1e-6
    assert image.min() == 0.0
    assert image.max() == 1.0


@pytest.mark.realdata
def test_modality_lut_file_decodes(pydicom_data_dir: Path) -> None:
    path = pydicom_data_dir / "mlut_18.dcm"
    dataset = load_dicom(path)
    stored = dicom_stored_values(dataset, path)
    modality = dicom_modality_values(dataset, stored, path)
    image = read_image(path)

    assert stored.min() == -2048  # signed 12-bit stored values survive decoding
    assert modality.min() == 0
    assert modality.max() == 65535
    assert _correlation(modality, stored) > 0.9
    assert image.dtype == np.float32
    assert image.min() == 0.0
    assert image.max() == 1.0


@pytest.mark.realdata
def test_signed_jpeg_ls_stays_signed(pydicom_data_dir: Path) -> None:
    path = pydicom_data_dir / "MR_small_jpeg_ls_lossless.dcm"
    dataset = load_dicom(path)
    stored = dicom_stored_values(dataset, path)
    modality = dicom_modality_values(dataset, stored, path)

    # This file's signed values happen to be positive (127..2145); what matters is that they
    # stay a signed type through the Modality LUT stage.
    assert stored.dtype == np.int16
    assert np.issubdtype(modality.dtype, np.signedinteger) or np.issubdtype(modality.dtype, np.floating)
    assert np.array_equal(modality, stored)
    image = read_image(path)
    assert image.min() >= 0.0
    assert image.max() <= 1.0
    assert image.max() > image.min()


@pytest.mark.realdata
def test_multiframe_file_raises(pydicom_data_dir: Path) -> None:
    path = pydicom_data_dir / "emri_small_jpeg_ls_lossless.dcm"
    with pytest.raises(ImageReadError, match="multi-frame image with 10 frames") as caught:
        read_image(path)
    assert caught.value.path == str(path)


@pytest.mark.realdata
def test_truncated_file_raises(pydicom_data_dir: Path) -> None:
    path = pydicom_data_dir / "emri_small_jpeg_2k_lossless_too_short.dcm"
    with pytest.raises(ImageReadError, match="truncated") as caught:
        read_image(path)
    assert caught.value.path == str(path)


@pytest.mark.realdata
def test_missing_codec_names_package(pydicom_data_dir: Path) -> None:
    # A fresh interpreter in which the JPEG-LS plugins cannot be imported, as on an install
    # without the dicom-codecs extra.
    script = textwrap.dedent(
        f"""
        import sys
        for module in ("libjpeg", "pylibjpeg", "jpeg_ls", "gdcm"):
            sys.modules[module] = None
        from mammobench.data.readers import read_image
        from mammobench.errors import ImageReadError
        try:
            read_image({str(pydicom_data_dir / "MR_small_jpeg_ls_lossless.dcm")!r})
        except ImageReadError as error:
            print(error)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install "mammobench[dicom-codecs]"' in result.stdout
    assert "JPEG-LS" in result.stdout


# -------------------------------------------------------------------------------------------------
# Small synthetic files
# -------------------------------------------------------------------------------------------------


def test_no_voi_scales_min_max(write_dicom) -> None:
    image = read_dicom(write_dicom(RAMP + 100))
    assert image.min() == 0.0
    assert image.max() == 1.0
    assert image[0, 1] > image[0, 0]


def test_monochrome1_inverts_once(write_dicom) -> None:
    plain = read_dicom(write_dicom(RAMP, photometric="MONOCHROME1"))
    with_shape = read_dicom(write_dicom(RAMP, photometric="MONOCHROME1", PresentationLUTShape="INVERSE"))
    assert plain[0, 0] == 1.0
    assert plain[-1, -1] == 0.0
    assert np.array_equal(plain, with_shape)


def test_inverse_shape_inverts_monochrome2(write_dicom) -> None:
    image = read_dicom(write_dicom(RAMP, PresentationLUTShape="INVERSE"))
    assert image[0, 0] == 1.0


def test_rescale_applied_before_window(write_dicom) -> None:
    # Stored 0..4095 with intercept -1000: the window 0 +- 500 covers stored 500..1500.
    pixels = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    path = write_dicom(
        pixels, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1000,
        WindowCenter=0, WindowWidth=1000, VOILUTFunction="LINEAR_EXACT",
    )
    image = read_dicom(path)
    flat = image.ravel()
    assert flat[500] == 0.0
    assert flat[1000] == pytest.approx(0.5)
    assert flat[1500] == 1.0


def test_sigmoid_window(write_dicom) -> None:
    path = write_dicom(RAMP, WindowCenter=2048, WindowWidth=1024, VOILUTFunction="SIGMOID")
    image = read_dicom(path).ravel()
    assert image[2048] == pytest.approx(0.5)
    assert image[2048 + 512] == pytest.approx(1 / (1 + np.exp(-2)), rel=1e-5)


def test_first_window_is_used(write_dicom) -> None:
    path = write_dicom(RAMP, WindowCenter=[1000, 3000], WindowWidth=[2001, 2001])
    image = read_dicom(path).ravel()
    assert image[1000] == pytest.approx(0.5, abs=1e-3)


def test_voi_lut_sequence_wins_over_window(write_dicom) -> None:
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [256, 0, 8])
    item.add_new("LUTData", "US", list(range(255, -1, -1)))  # reversed, unlike any window
    path = write_dicom(RAMP, VOILUTSequence=[item], WindowCenter=2048, WindowWidth=4096)
    image = read_dicom(path).ravel()
    assert image[0] == 1.0
    assert image[255] == 0.0


def test_eight_bit_voi_lut_clamps(write_dicom) -> None:
    # pydicom 3.0.2's apply_voi wraps input 300 around to LUT entry 44 for an 8-bit LUT.
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [256, 0, 8])
    item.add_new("LUTData", "US", list(range(256)))
    path = write_dicom(RAMP, VOILUTSequence=[item])
    image = read_dicom(path).ravel()
    assert image[300] == 1.0
    assert image[4095] == 1.0


def test_signed_rle_keeps_negative_values(write_dicom) -> None:
    pixels = (np.arange(64 * 64, dtype=np.int16).reshape(64, 64) - 2048).astype(np.int16)
    path = write_dicom(pixels, bits_stored=12, compress=RLELossless, RescaleSlope=2, RescaleIntercept=-10)
    dataset = load_dicom(path)
    stored = dicom_stored_values(dataset, path)
    modality = dicom_modality_values(dataset, stored, path)
    assert stored.min() == -2048
    assert modality.min() == -2048 * 2 - 10
    assert read_dicom(path)[0, 0] == 0.0


def _padded_image() -> np.ndarray:
    """A 32 x 32 image whose left quarter contains the padding value 4095 and the rest a ramp."""
    pixels = np.tile(np.arange(32, dtype=np.uint16) * 10 + 500, (32, 1))
    pixels[:, :8] = 4095
    return pixels


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_padding_pixels_become_background(write_dicom, photometric: str) -> None:
    path = write_dicom(_padded_image(), photometric=photometric, PixelPaddingValue=4095)
    image = read_dicom(path)
    assert np.all(image[:, :8] == 0.0)
    assert image[:, 8:].max() == 1.0


def test_padding_left_out_of_min_max(write_dicom) -> None:
    image = read_dicom(write_dicom(_padded_image(), PixelPaddingValue=4095))
    # Without the padding in the range, the image ramp spans [0, 1] on its own.
    assert image[0, 8] == 0.0
    assert image[0, -1] == 1.0


def test_padding_range_limit_covers_a_span(write_dicom) -> None:
    pixels = _padded_image()
    pixels[:, 4:8] = 4090
    path = write_dicom(pixels, PixelPaddingValue=4095, PixelPaddingRangeLimit=4080)
    assert np.all(read_dicom(path)[:, :8] == 0.0)


def test_padding_everywhere_raises(write_dicom) -> None:
    pixels = np.full((32, 32), 7, dtype=np.uint16)
    pixels[0, 0] = 9
    path = write_dicom(pixels, PixelPaddingValue=0, PixelPaddingRangeLimit=9)
    with pytest.raises(ImageReadError, match="Pixel Padding range"):
        read_dicom(path)


def test_constant_dicom_raises(write_dicom) -> None:
    path = write_dicom(np.zeros((32, 32), dtype=np.uint16))
    with pytest.raises(ImageReadError, match="every pixel has the stored value 0"):
        read_dicom(path)


def test_window_missing_every_pixel_raises(write_dicom) -> None:
    path = write_dicom(RAMP, WindowCenter=60000, WindowWidth=10)
    with pytest.raises(ImageReadError, match="maps every pixel"):
        read_dicom(path)


def test_values_beyond_bits_stored_raise(write_dicom) -> None:
    # pydicom masks unused high bits of native and RLE data, as the standard requires, but a
    # JPEG 2000 codestream decodes at its own precision, which a wrong BitsStored can undercut.
    dataset_path = write_dicom(RAMP, compress=JPEG2000Lossless)
    dataset = pydicom.dcmread(dataset_path)
    dataset.BitsStored = 10
    dataset.HighBit = 9
    dataset.save_as(dataset_path)
    with pytest.raises(ImageReadError, match=r"outside the range \[0, 1023\] that BitsStored 10"):
        read_dicom(dataset_path)


def test_native_bits_above_bits_stored_warn(write_dicom, caplog) -> None:
    dataset_path = write_dicom(RAMP)
    dataset = pydicom.dcmread(dataset_path)
    dataset.BitsStored = 10
    dataset.HighBit = 9
    dataset.save_as(dataset_path)

    with caplog.at_level("WARNING", logger="mammobench.data.readers.dicom"):
        read_dicom(dataset_path)

    assert "it should be at least 12" in caplog.text
    assert str(dataset_path) in caplog.text


def test_native_bits_within_bits_stored_stay_quiet(write_dicom, caplog) -> None:
    with caplog.at_level("WARNING", logger="mammobench.data.readers.dicom"):
        read_dicom(write_dicom(RAMP))

    assert caplog.text == ""


def test_color_dicom_raises(write_dicom) -> None:
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0] = np.arange(8, dtype=np.uint8)
    path = write_dicom(rgb, photometric="RGB", bits_stored=8)
    with pytest.raises(ImageReadError, match="PhotometricInterpretation 'RGB'"):
        read_dicom(path)


def test_missing_pixel_data_raises(write_dicom) -> None:
    path = write_dicom(RAMP)
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    with pytest.raises(ImageReadError, match="has no Pixel Data element"):
        read_dicom(path)


@pytest.mark.parametrize("content", [b"", b"patient,label\n1,0\n"])
def test_non_dicom_file_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "not-an-image.dcm"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="is not a DICOM file"):
        read_dicom(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "absent.dcm")
