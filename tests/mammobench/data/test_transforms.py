"""BoxTransform: boxes through crop, flip and resize, and back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mammobench.data.preprocess import apply_transform
from mammobench.data.transforms import BoxTransform, clip_boxes, nondegenerate

# A 1000 x 600 source cropped to x 100..500, y 200..900, flipped and resized to 350 x 200.
FLIPPED = BoxTransform(source_size=(1000, 600), crop=(100, 200, 500, 900), flip=True, output_size=(350, 200))


def test_round_trip_flip_crop_resize() -> None:
    boxes = np.array([[150.0, 250.0, 300.0, 400.0], [420.5, 700.25, 499.0, 899.0]])

    processed = FLIPPED.forward(boxes)
    restored = FLIPPED.inverse(processed)

    assert np.abs(restored - boxes).max() < 1e-9


def test_forward_values_by_hand() -> None:
    # x: crop offset 100, flip inside width 400, scale 0.5; y: offset 200, scale 0.5.
    processed = FLIPPED.forward(np.array([[150.0, 250.0, 300.0, 400.0]]))
    assert processed.tolist() == [[100.0, 25.0, 175.0, 100.0]]


def test_one_pixel_box_follows_its_pixel() -> None:
    source = np.zeros((1000, 600), dtype=np.float32)
    source[300:310, 200:210] = 1.0  # a 10 x 10 block so the pixel survives a 0.5 resize
    box = np.array([[200.0, 300.0, 210.0, 310.0]])
    one_pixel = np.array([[205.0, 305.0, 206.0, 306.0]])

    processed_box = FLIPPED.forward(box)[0]
    processed_pixel = FLIPPED.forward(one_pixel)[0]
    image = apply_transform(source, FLIPPED)

    assert processed_pixel[2] - processed_pixel[0] == pytest.approx(0.5)
    assert processed_pixel[3] - processed_pixel[1] == pytest.approx(0.5)
    assert FLIPPED.inverse(FLIPPED.forward(one_pixel)).tolist() == one_pixel.tolist()
    x0, y0, x1, y1 = (int(round(v)) for v in processed_box)
    assert image[y0:y1, x0:x1].mean() > 0.9
    assert image.sum() == pytest.approx(image[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1].sum(), rel=1e-4)


def test_box_partly_outside_is_clipped() -> None:
    # The box starts left of the crop (x 50 < 100) and ends inside it.
    box = np.array([[50.0, 300.0, 150.0, 400.0]])
    transform = BoxTransform((1000, 600), (100, 200, 500, 900), False, (700, 400))

    processed = transform.forward(box)

    assert processed.tolist() == [[0.0, 100.0, 50.0, 200.0]]
    assert nondegenerate(processed).tolist() == [True]


def test_box_fully_outside_collapses() -> None:
    box = np.array([[0.0, 0.0, 50.0, 50.0]])
    processed = FLIPPED.forward(box)
    assert nondegenerate(processed).tolist() == [False]


def test_unclipped_forward_keeps_outside_part() -> None:
    box = np.array([[50.0, 300.0, 150.0, 400.0]])
    transform = BoxTransform((1000, 600), (100, 200, 500, 900), False, (700, 400))
    processed = transform.forward(box, clip=False)
    assert processed[0, 0] == -50.0
    assert transform.inverse(processed, clip=False).tolist() == box.tolist()


def test_dict_round_trip_through_json() -> None:
    payload = json.loads(json.dumps(FLIPPED.to_dict()))
    assert BoxTransform.from_dict(payload) == FLIPPED


def test_from_dict_rejects_other_version() -> None:
    payload = FLIPPED.to_dict() | {"version": 99}
    with pytest.raises(ValueError, match="schema version 99"):
        BoxTransform.from_dict(payload)


def test_crop_outside_source_rejected() -> None:
    with pytest.raises(ValueError, match="inside the source frame"):
        BoxTransform((100, 100), (0, 0, 101, 100), False, (10, 10))


def test_malformed_boxes_rejected() -> None:
    with pytest.raises(ValueError, match="xmin <= xmax"):
        FLIPPED.forward(np.array([[10.0, 10.0, 5.0, 20.0]]))
    with pytest.raises(ValueError, match="shape"):
        FLIPPED.forward(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="NaN"):
        FLIPPED.forward(np.array([[np.nan, 0.0, 1.0, 1.0]]))


def test_empty_boxes_pass_through() -> None:
    assert FLIPPED.forward(np.zeros((0, 4))).shape == (0, 4)


def test_identity_leaves_boxes() -> None:
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert BoxTransform.identity(10, 10).forward(boxes).tolist() == boxes.tolist()


def test_clip_boxes_to_frame() -> None:
    clipped = clip_boxes(np.array([[-5.0, -1.0, 20.0, 8.0]]), height=6, width=10)
    assert clipped.tolist() == [[0.0, 0.0, 10.0, 6.0]]
