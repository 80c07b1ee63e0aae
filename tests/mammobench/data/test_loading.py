"""ImageDataset, collate_images and make_loader over small PNG manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mammobench.data.image_cache import ImageCache
from mammobench.data.loading import ImageDataset, RandomVerticalFlip, collate_images, make_loader
from mammobench.data.manifest import Manifest
from mammobench.data.workers import default_num_workers
from mammobench.errors import ConfigError


def write_breast_png(path: Path, chest_wall: str = "left") -> Path:
    """A half-ellipse breast with a bright 'lesion' block at x 40..60, y 140..160."""
    height, width = 300, 200
    rows, columns = np.mgrid[0:height, 0:width]
    distance = columns if chest_wall == "left" else width - 1 - columns
    inside = ((distance / (0.6 * width)) ** 2 + ((rows - height / 2) / (0.4 * height)) ** 2) <= 1.0
    image = np.zeros((height, width))
    image[inside] = 0.4
    lesion_columns = slice(40, 60) if chest_wall == "left" else slice(width - 60, width - 40)
    image[140:160, lesion_columns] = 1.0
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    return path


def image_row(image_id: str, path: str, laterality: str) -> dict:
    return {
        "image_id": image_id, "patient_id": f"p-{image_id}", "exam_id": "e1",
        "laterality": laterality, "view": "CC", "path": path, "split": "train",
        "density": None, "birads": np.nan, "age": np.nan, "site": "",
    }


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    write_breast_png(tmp_path / "left.png")
    write_breast_png(tmp_path / "right.png", chest_wall="right")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(10))
    images = pd.DataFrame(
        [
            image_row("left", "left.png", "L"),
            image_row("right", "right.png", "R"),
            image_row("broken", "broken.png", "L"),
        ]
    )
    boxes = pd.DataFrame(
        [
            {"image_id": "left", "category": "mass", "xmin": 40.0, "ymin": 140.0, "xmax": 60.0, "ymax": 160.0},
            {"image_id": "left", "category": "calcification", "xmin": 190.0, "ymin": 0.0, "xmax": 199.0, "ymax": 10.0},
            {"image_id": "right", "category": "mass", "xmin": 140.0, "ymin": 140.0, "xmax": 160.0, "ymax": 160.0},
        ]
    )
    return Manifest(dataset="toy", root=tmp_path, images=images, boxes=boxes)


@pytest.fixture
def cache(tmp_path: Path) -> ImageCache:
    return ImageCache("tiny", root=tmp_path / "cache")


def _mean_inside(image: torch.Tensor, box: torch.Tensor) -> float:
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return float(image[0, y0:y1, x0:x1].mean())


def test_item_fields_and_types(manifest: Manifest, cache: ImageCache) -> None:
    item = ImageDataset(manifest, "tiny", cache=cache)[0]
    assert item["image"].shape == (1, 256, 160)
    assert item["image"].dtype == torch.float32
    assert item["image_id"] == "left"
    assert item["index"] == 0
    assert item["boxes"].dtype == torch.float32
    assert item["error"] is None


def test_boxes_land_on_lesion(manifest: Manifest, cache: ImageCache) -> None:
    dataset = ImageDataset(manifest, "tiny", cache=cache)
    for index in (0, 1):  # the right breast is flipped; its box must follow
        item = dataset[index]
        mass = item["boxes"][item["categories"].index("mass")]
        assert _mean_inside(item["image"], mass) > 0.9, item["image_id"]


def test_box_outside_crop_dropped(manifest: Manifest, cache: ImageCache) -> None:
    item = ImageDataset(manifest, "tiny", cache=cache)[0]
    # The calcification box sits in the empty top-right corner, outside the breast crop.
    assert item["categories"] == ["mass"]
    assert item["boxes"].shape == (1, 4)


def test_bad_image_yields_error_item(manifest: Manifest, cache: ImageCache) -> None:
    item = ImageDataset(manifest, "tiny", cache=cache)[2]
    assert item["error"] is not None
    assert "broken.png" in item["error"]
    assert item["image"].shape == (1, 256, 160)
    assert float(item["image"].abs().sum()) == 0.0
    assert item["boxes"].shape == (0, 4)


def test_without_cache_matches_cache(manifest: Manifest, cache: ImageCache) -> None:
    cached = ImageDataset(manifest, "tiny", cache=cache)[1]
    fresh = ImageDataset(manifest, "tiny", use_cache=False)[1]
    assert torch.allclose(cached["image"], fresh["image"], atol=2e-5)
    assert torch.allclose(cached["boxes"], fresh["boxes"])


def test_vertical_flip_moves_boxes(manifest: Manifest, cache: ImageCache) -> None:
    plain = ImageDataset(manifest, "tiny", cache=cache)[0]
    flipped = ImageDataset(manifest, "tiny", cache=cache, augment=RandomVerticalFlip(p=1.0))[0]

    height = plain["image"].shape[-2]
    assert torch.allclose(flipped["boxes"][:, 1], height - plain["boxes"][:, 3])
    assert _mean_inside(flipped["image"], flipped["boxes"][0]) > 0.9


def test_collate_stacks_images(manifest: Manifest, cache: ImageCache) -> None:
    dataset = ImageDataset(manifest, "tiny", cache=cache)
    batch = collate_images([dataset[0], dataset[1], dataset[2]])
    assert batch["image"].shape == (3, 1, 256, 160)
    assert batch["image_id"] == ["left", "right", "broken"]
    assert batch["index"].tolist() == [0, 1, 2]
    assert [len(boxes) for boxes in batch["boxes"]] == [1, 1, 0]
    assert batch["categories"] == [["mass"], ["mass"], []]
    assert batch["error"][:2] == [None, None]


def test_loader_with_worker_processes(manifest: Manifest, cache: ImageCache) -> None:
    dataset = ImageDataset(manifest, "tiny", cache=cache)
    loader = make_loader(dataset, batch_size=2, shuffle=True, num_workers=2, seed=0)

    assert loader.persistent_workers
    assert loader.prefetch_factor == 2
    for _ in range(2):  # a second epoch reuses the persistent workers
        seen = sorted(image_id for batch in loader for image_id in batch["image_id"])
        assert seen == ["broken", "left", "right"]


def test_loader_in_main_process(manifest: Manifest, cache: ImageCache) -> None:
    loader = make_loader(ImageDataset(manifest, "tiny", cache=cache), batch_size=3, shuffle=False, num_workers=0)
    batch = next(iter(loader))
    assert not loader.persistent_workers
    assert batch["image"].shape == (3, 1, 256, 160)


def test_worker_count_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMMOBENCH_NUM_WORKERS", "3")
    assert default_num_workers() == 3
    monkeypatch.delenv("MAMMOBENCH_NUM_WORKERS")
    assert 1 <= default_num_workers() <= 4
    monkeypatch.setenv("MAMMOBENCH_NUM_WORKERS", "many")
    with pytest.raises(ConfigError, match="MAMMOBENCH_NUM_WORKERS='many' is invalid"):
        default_num_workers()


def test_seeded_flip_repeats_decisions() -> None:
    image = torch.zeros((1, 8, 4))
    boxes = torch.zeros((0, 4))
    first = RandomVerticalFlip(p=0.5, seed=11)
    second = RandomVerticalFlip(p=0.5, seed=11)

    decisions = [first(image, boxes)[0] is not image for _ in range(20)]
    repeated = [second(image, boxes)[0] is not image for _ in range(20)]

    assert decisions == repeated
    assert 0 < sum(decisions) < 20


def test_flip_probability_checked() -> None:
    with pytest.raises(ConfigError, match="flip probability 1.5"):
        RandomVerticalFlip(p=1.5)
