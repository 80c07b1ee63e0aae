"""Heatmaps, boxes, localization scores and overlays of one cell's trained attribute heads.

For each test image that has an attribute and at least one of its boxes, the head's channel
similarities weight the image's channel maps into a heatmap in processed pixels
(:mod:`mammobench.factor.heatmaps`). The regions above the heatmap percentile become scored
boxes, and the heatmap maximum gives the pointing game. Boxes are scored against the ground
truth in the same frame (:mod:`mammobench.factor.scoring`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mammobench.data.image_cache import ImageCache
from mammobench.data.loading import load_cached_image
from mammobench.data.profiles import get_profile
from mammobench.factor.config import FactorConfig
from mammobench.factor.features import CANONICAL_SIDE, ChannelFeatures
from mammobench.factor.ground_truth import ProcessedBoxes, processed_boxes
from mammobench.factor.heatmaps import (
    attribute_heatmap,
    heatmap_boxes,
    similarity_confidence,
    to_image_frame,
)
from mammobench.factor.overlays import overlay_name, write_overlay
from mammobench.factor.scoring import AttributeOutcomes, score_localization
from mammobench.factor.training import TrainedHead, channel_similarities
from mammobench.metrics.localization import pointing_game
from mammobench.protocols.base import ProtocolContext
from mammobench.tasks.base import FactorTask

# Images whose heatmaps are built per chunk; bounds memory at large profiles.
HEATMAP_CHUNK = 64


class Localizer:
    """Heatmaps, boxes and overlays of one cell's trained heads on test images.

    Args:
        context: The run's context: manifest, settings (profile, device, bootstrap) and task.
        features: Channel maps of every readable image, as the heads were trained on.
        config: Heatmap weighting, box percentile, temperature and overlay count.
        heads: The cell's trained head of every attribute.
        task: The FActOR task, for each attribute's box categories.
        overlays: Folder for overlay PNGs, or None to write none.
    """

    def __init__(
        self,
        context: ProtocolContext,
        features: ChannelFeatures,
        config: FactorConfig,
        heads: dict[str, TrainedHead],
        task: FactorTask,
        overlays: Path | None,
    ) -> None:
        self.context = context
        self.features = features
        self.config = config
        self.heads = heads
        self.task = task
        self.overlays = overlays
        self.profile = get_profile(context.settings.profile)
        self.cache = ImageCache(self.profile, canonical_side=CANONICAL_SIDE)
        self.device = torch.device(context.settings.device)
        images = context.manifest.images
        self.patient_of = dict(zip(images["image_id"].astype(str), images["patient_id"].astype(str)))

    def localization(
        self, test_ids: list[str], labels: pd.DataFrame, seed: int
    ) -> tuple[pd.DataFrame, list, dict[str, Any]]:
        """Localize every attribute on its positive test images and score the boxes.

        Args:
            test_ids: Readable test images.
            labels: 0/1 attribute labels, indexed by image id.
            seed: Seed of the bootstrap resampling.

        Returns:
            The predicted boxes (one row per box, in processed and original pixels), the scored
            metrics, and the evaluation details stored with the cell.
        """
        truth = self._ground_truth(test_ids, labels)
        outcomes, frames = [], []
        evaluation: dict[str, Any] = {"positives_without_boxes": {}, "n_evaluated": {}, "box_area": {}}
        for attribute, trained in self.heads.items():
            positives = [image_id for image_id in test_ids if labels.at[image_id, attribute] == 1]
            located = set(truth.boxes.loc[truth.boxes["category"] == attribute, "image_id"])
            evaluated = [image_id for image_id in positives if image_id in located]
            evaluation["positives_without_boxes"][attribute] = len(positives) - len(evaluated)
            evaluation["n_evaluated"][attribute] = len(evaluated)

            boxes, pointing = self._localize(attribute, trained, evaluated, truth)
            # pycocotools rejects boxes of images outside the evaluated set.
            ground_truth = truth.boxes[
                (truth.boxes["category"] == attribute) & truth.boxes["image_id"].isin(set(evaluated))
            ]
            evaluation["box_area"][attribute] = {
                "top_box": _median_area(boxes.sort_values("score", ascending=False).groupby("image_id").head(1)),
                "ground_truth": _median_area(ground_truth),
            }
            outcomes.append(
                AttributeOutcomes(
                    attribute=attribute,
                    image_ids=evaluated,
                    ground_truth=ground_truth,
                    predictions=boxes,
                    pointing_hits=pointing,
                )
            )
            frames.append(boxes)

        settings = self.context.settings
        metrics = score_localization(outcomes, self.patient_of, n_bootstrap=settings.n_bootstrap, seed=seed)
        evaluation.update(
            {
                "dropped_boxes": truth.dropped,
                "heatmap": (
                    f"{self.config.heatmap_weighting}-weighted channel maps, bilinearly upsampled by the "
                    f"stride and cropped to {self.profile.height}x{self.profile.width}"
                ),
                "box_threshold_percentile": self.config.heatmap_percentile,
                "box_coordinates": (
                    f"xmin, ymin, xmax, ymax: processed pixels of profile '{self.profile.name}' "
                    f"({self.profile.height}x{self.profile.width}); source_*: original image pixels"
                ),
            }
        )
        predictions = _with_source_coordinates(pd.concat(frames, ignore_index=True), truth, self.patient_of)
        return predictions, metrics, evaluation

    def overlays_only(self, test_ids: list[str], labels: pd.DataFrame) -> None:
        """Write overlays of the positive test images, for a classification task run with overlays."""
        if self.overlays is None:
            return
        truth = self._ground_truth(test_ids, labels)
        for attribute, trained in self.heads.items():
            positives = [image_id for image_id in test_ids if labels.at[image_id, attribute] == 1]
            self._localize(attribute, trained, positives[: self.config.max_overlays], truth)

    def _ground_truth(self, test_ids: list[str], labels: pd.DataFrame) -> ProcessedBoxes:
        positive = labels.loc[test_ids, list(self.heads)].eq(1).any(axis=1)
        categories = {attribute: self.task.categories_for(attribute) for attribute in self.heads}
        return processed_boxes(self.context.manifest, list(positive.index[positive]), categories, self.cache)

    def _localize(
        self, attribute: str, trained: TrainedHead, image_ids: Sequence[str], truth: ProcessedBoxes
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Build heatmaps and boxes of ``image_ids``; return the boxes and pointing-game hits."""
        image_ids = [image_id for image_id in image_ids if image_id not in truth.failed]
        frames, pointing, written = [], [], 0
        for start in range(0, len(image_ids), HEATMAP_CHUNK):
            chunk = image_ids[start : start + HEATMAP_CHUNK]
            similarities = channel_similarities(trained.head, self.features, chunk, self.device)
            maps = self.features.raw_maps(chunk)
            for image_id, image_similarities, image_maps in zip(chunk, similarities, maps, strict=True):
                heatmap = to_image_frame(
                    attribute_heatmap(image_maps, image_similarities, self.config.temperature, self.config.heatmap_weighting),
                    self.features.stride,
                    self.profile.size,
                )
                confidence = similarity_confidence(float(image_similarities.max()))
                boxes = heatmap_boxes(heatmap, self.config.heatmap_percentile, confidence)
                boxes.insert(0, "category", attribute)
                boxes.insert(0, "image_id", image_id)
                frames.append(boxes)

                ground_truth = truth.of(image_id, attribute)
                if ground_truth.empty:
                    pointing.append(False)
                else:
                    pointing.append(bool(pointing_game({image_id: heatmap}, ground_truth)["hit"].iloc[0]))
                if self.overlays is not None and written < self.config.max_overlays:
                    self._write_overlay(image_id, attribute, heatmap, ground_truth, boxes, image_similarities)
                    written += 1

        columns = ["image_id", "category", "xmin", "ymin", "xmax", "ymax", "score", "n_pixels"]
        boxes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        return boxes, np.asarray(pointing, dtype=bool)

    def _write_overlay(
        self,
        image_id: str,
        attribute: str,
        heatmap: np.ndarray,
        ground_truth: pd.DataFrame,
        boxes: pd.DataFrame,
        similarities: np.ndarray,
    ) -> None:
        images = self.context.manifest.images
        row = images[images["image_id"].astype(str) == image_id].iloc[0]
        pixels, _ = load_cached_image(self.cache, self.context.manifest, row)
        title = (
            f"{attribute} | image {image_id} | score {float(similarities.max()) / self.config.temperature:.2f} "
            f"| boxes: heatmap above its {self.config.heatmap_percentile:g}th percentile"
        )
        if ground_truth.empty:
            title += " | no ground-truth box"
        write_overlay(self.overlays / overlay_name(image_id, attribute), pixels, heatmap, ground_truth, boxes, title)


def _median_area(boxes: pd.DataFrame) -> float | None:
    """Return the median box area in processed pixels, or None without boxes."""
    if boxes.empty:
        return None
    areas = (boxes["xmax"] - boxes["xmin"]).astype(float) * (boxes["ymax"] - boxes["ymin"]).astype(float)
    return float(areas.median())


def _with_source_coordinates(
    predictions: pd.DataFrame, truth: ProcessedBoxes, patient_of: dict[str, str]
) -> pd.DataFrame:
    """Add ``patient_id`` and the boxes in original image pixels (``source_*``)."""
    frame = predictions.reset_index(drop=True).copy()
    frame.insert(1, "patient_id", [patient_of[image_id] for image_id in frame["image_id"]])
    source = np.zeros((len(frame), 4))
    for image_id, rows in frame.groupby("image_id", sort=False).indices.items():
        boxes = frame.iloc[rows][["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float)
        source[rows] = truth.transforms[image_id].inverse(boxes, clip=True)
    for position, name in enumerate(("xmin", "ymin", "xmax", "ymax")):
        frame[f"source_{name}"] = source[:, position]
    return frame
