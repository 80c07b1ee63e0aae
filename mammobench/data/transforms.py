"""The geometric record of preprocessing, applied to boxes in both directions.

Preprocessing crops, optionally flips horizontally and resizes. :class:`BoxTransform` stores
those steps as one axis-aligned affine map from source pixels to processed pixels:

    x_processed = scale_x * (crop_width - (x - crop_x0))   with a flip
    x_processed = scale_x * (x - crop_x0)                  without
    y_processed = scale_y * (y - crop_y0)

Coordinates are continuous: pixel ``i`` covers ``[i, i + 1)``, so a box around one pixel is
``(i, j, i + 1, j + 1)`` and the image frame is ``[0, width] x [0, height]``. Boxes are
``(N, 4)`` arrays of ``xmin, ymin, xmax, ymax``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Bump when the dictionary layout of BoxTransform changes.
_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BoxTransform:
    """Crop, optional horizontal flip and resize, from a source image to a processed image.

    Attributes:
        source_size: ``(height, width)`` of the source image in pixels.
        crop: ``(x0, y0, x1, y1)`` integer crop in source pixels, ``x1``/``y1`` exclusive.
        flip: True when the crop is mirrored left-right before resizing.
        output_size: ``(height, width)`` of the processed image in pixels.
    """

    source_size: tuple[int, int]
    crop: tuple[int, int, int, int]
    flip: bool
    output_size: tuple[int, int]

    def __post_init__(self) -> None:
        source_height, source_width = self.source_size
        x0, y0, x1, y1 = self.crop
        output_height, output_width = self.output_size
        if not (0 <= x0 < x1 <= source_width and 0 <= y0 < y1 <= source_height):
            raise ValueError(
                f"crop {self.crop} must be a non-empty box inside the source frame "
                f"(height {source_height}, width {source_width})"
            )
        if output_height <= 0 or output_width <= 0:
            raise ValueError(f"output size {self.output_size} must be positive")

    # ---------------------------------------------------------------------------------------------
    # Construction and serialisation
    # ---------------------------------------------------------------------------------------------

    @classmethod
    def identity(cls, height: int, width: int) -> BoxTransform:
        """Return the transform that leaves an image of this size unchanged."""
        return cls((height, width), (0, 0, width, height), False, (height, width))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary; :meth:`from_dict` reverses it."""
        return {
            "version": _SCHEMA_VERSION,
            "source_size": list(self.source_size),
            "crop": list(self.crop),
            "flip": self.flip,
            "output_size": list(self.output_size),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> BoxTransform:
        """Rebuild a transform from :meth:`to_dict` output.

        Raises:
            ValueError: the dictionary has another schema version or misses a field.
        """
        version = payload.get("version")
        if version != _SCHEMA_VERSION:
            raise ValueError(
                f"box transform schema version {version!r}; expected {_SCHEMA_VERSION}"
            )
        try:
            source_height, source_width = (int(v) for v in payload["source_size"])
            x0, y0, x1, y1 = (int(v) for v in payload["crop"])
            output_height, output_width = (int(v) for v in payload["output_size"])
            flip = bool(payload["flip"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"invalid box transform dictionary {payload!r}: {error}") from None
        return cls(
            (source_height, source_width), (x0, y0, x1, y1), flip, (output_height, output_width)
        )

    # ---------------------------------------------------------------------------------------------
    # Geometry
    # ---------------------------------------------------------------------------------------------

    @property
    def crop_size(self) -> tuple[int, int]:
        """``(height, width)`` of the crop in source pixels."""
        x0, y0, x1, y1 = self.crop
        return (y1 - y0, x1 - x0)

    @property
    def scale(self) -> tuple[float, float]:
        """``(scale_x, scale_y)``: processed pixels per source pixel along each axis."""
        crop_height, crop_width = self.crop_size
        output_height, output_width = self.output_size
        return (output_width / crop_width, output_height / crop_height)

    def forward(self, boxes: np.ndarray, *, clip: bool = True) -> np.ndarray:
        """Map boxes from source pixels to processed pixels.

        Args:
            boxes: ``(N, 4)`` array of ``xmin, ymin, xmax, ymax`` in source pixels.
            clip: clip the result to the processed frame. A box entirely outside the crop then
                collapses to zero width or height; :func:`nondegenerate` finds those.

        Returns:
            ``(N, 4)`` float64 array in processed pixels.

        Raises:
            ValueError: ``boxes`` has the wrong shape, non-finite values, or ``max < min``.
        """
        boxes = _check_boxes(boxes)
        x0, y0, _, _ = self.crop
        crop_height, crop_width = self.crop_size
        scale_x, scale_y = self.scale

        x = boxes[:, [0, 2]] - x0
        y = boxes[:, [1, 3]] - y0
        if self.flip:
            x = crop_width - x[:, ::-1]
        result = np.column_stack(
            [x[:, 0] * scale_x, y[:, 0] * scale_y, x[:, 1] * scale_x, y[:, 1] * scale_y]
        )
        if clip:
            output_height, output_width = self.output_size
            result = clip_boxes(result, output_height, output_width)
        return result

    def inverse(self, boxes: np.ndarray, *, clip: bool = True) -> np.ndarray:
        """Map boxes from processed pixels back to source pixels.

        Args:
            boxes: ``(N, 4)`` array of ``xmin, ymin, xmax, ymax`` in processed pixels.
            clip: clip the result to the source frame.

        Returns:
            ``(N, 4)`` float64 array in source pixels.

        Raises:
            ValueError: ``boxes`` has the wrong shape, non-finite values, or ``max < min``.
        """
        boxes = _check_boxes(boxes)
        x0, y0, _, _ = self.crop
        crop_height, crop_width = self.crop_size
        scale_x, scale_y = self.scale

        x = boxes[:, [0, 2]] / scale_x
        y = boxes[:, [1, 3]] / scale_y
        if self.flip:
            x = crop_width - x[:, ::-1]
        result = np.column_stack([x[:, 0] + x0, y[:, 0] + y0, x[:, 1] + x0, y[:, 1] + y0])
        if clip:
            source_height, source_width = self.source_size
            result = clip_boxes(result, source_height, source_width)
        return result


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Clip ``(N, 4)`` boxes to the frame ``[0, width] x [0, height]``."""
    clipped = np.asarray(boxes, dtype=np.float64).copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0.0, float(width))
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0.0, float(height))
    return clipped


def nondegenerate(boxes: np.ndarray, min_size: float = 0.0) -> np.ndarray:
    """Return a boolean mask of boxes wider and taller than ``min_size`` pixels.

    Use it after :meth:`BoxTransform.forward` to drop boxes that clipping collapsed, e.g. a
    lesion box that lay entirely outside the breast crop.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return (widths > min_size) & (heights > min_size)


def _check_boxes(boxes: np.ndarray) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4); got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("boxes contain NaN or infinite coordinates")
    if (array[:, 2] < array[:, 0]).any() or (array[:, 3] < array[:, 1]).any():
        raise ValueError("boxes must satisfy xmin <= xmax and ymin <= ymax (xyxy order)")
    return array
