"""VinDr-Mammo adapter: detect the layout at a data root and read it into a manifest."""

from __future__ import annotations

from pathlib import Path

from mammobench.api import DataError, Manifest
from mammobench_vindr import dicom_layout, png_layout

LAYOUTS = (dicom_layout.LAYOUT, png_layout.LAYOUT)


def load(root: Path | str, layout: str | None = None) -> Manifest:
    """Read VinDr-Mammo at ``root`` into a validated manifest.

    Layout detection: the PhysioNet DICOM release when ``breast-level_annotations.csv`` is present
    (unless only the Mammo-CLIP CSV has an image folder next to it), else the Mammo-CLIP PNG
    release when ``vindr_detection_v1_folds.csv`` is present.

    Args:
        root (Path | str): The data root.
        layout (str | None): ``'physionet-dicom'`` or ``'mammoclip-png'`` to skip detection, for
            a folder that contains both.

    Returns:
        Manifest: Images with the official ``train``/``test`` split, image-level finding labels,
        density and BI-RADS, and boxes.

    Raises:
        DataError: When no known layout is found at the root or a file fails validation.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"VinDr-Mammo data root '{root}' not found; set MAMMOBENCH_VINDR_ROOT or pass --data-root"
        )

    chosen = layout or detect_layout(root)
    if chosen == dicom_layout.LAYOUT:
        return dicom_layout.load_dicom_layout(root)
    if chosen == png_layout.LAYOUT:
        return png_layout.load_png_layout(root)
    raise DataError(f"VinDr-Mammo layout '{chosen}' is unknown; choose one of {list(LAYOUTS)}")


def detect_layout(root: Path) -> str:
    """Return the name of the layout found at ``root`` or raise :class:`DataError`."""
    has_dicom_csv = (root / dicom_layout.BREAST_LEVEL_CSV).is_file()
    has_dicom_images = (root / dicom_layout.IMAGES_DIR).is_dir()
    has_png_csv = (root / png_layout.FOLDS_CSV).is_file()

    if has_dicom_csv and (has_dicom_images or not has_png_csv):
        return dicom_layout.LAYOUT
    if has_png_csv:
        return png_layout.LAYOUT
    raise DataError(
        f"no VinDr-Mammo layout found at '{root}': expected '{dicom_layout.BREAST_LEVEL_CSV}', "
        f"'{dicom_layout.FINDING_CSV}' and '{dicom_layout.IMAGES_DIR}/' (PhysioNet release) or "
        f"'{png_layout.FOLDS_CSV}' and 'images_png/' (Mammo-CLIP PNG release); point "
        "MAMMOBENCH_VINDR_ROOT or --data-root at the folder that contains them"
    )
