"""Detection: a RetinaNet on the encoder's dense feature maps, backbone frozen or trained.

Shared work (:meth:`Detection.setup`, once per run):

1. Images that are positive for a task category at image level but carry no box of it (a
   finding without coordinates) are removed from every split. As training negatives they would
   teach the detector to miss the finding, and in evaluation its detections would count as
   false positives. Images without any finding stay, so false positives on normal mammograms
   count.
2. Every image is preprocessed through the image cache and its boxes are mapped into processed
   pixels (:mod:`mammobench.detection.targets`).
3. With a frozen backbone (the default), the encoder's maps of every image are computed once and
   cached on disk, and every epoch of every cell reads them. When they would not fit on disk,
   the encoder runs on the fly instead, still frozen.

Per cell (label fraction and seed):

1. Anchors are derived from the cell's training boxes, and their coverage of the training and
   test boxes is stored (:mod:`mammobench.detection.anchors`).
2. The detector trains on the label subset, and the epoch with the best validation main metric
   is kept (:mod:`mammobench.detection.training`).
3. The selected model predicts the test split once. AP at IoU 0.25, 0.5 and 0.5:0.95 and FROC
   sensitivity at 0.25-4 false positives per image are scored with patient-bootstrap
   intervals (:mod:`mammobench.detection.scoring`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mammobench.data.fractions import LabelSubset
from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.detection.anchors import coverage_report, plan_anchors
from mammobench.detection.config import DetectorConfig, detector_config
from mammobench.detection.features import CachedMaps, ImageBatches
from mammobench.detection.model import RetinaNetDetector, available_strides, input_levels
from mammobench.detection.names import FROC_FP_RATES, detection_metric_names
from mammobench.detection.overlays import write_overlays
from mammobench.detection.scoring import evaluate_boxes, score_with_intervals
from mammobench.detection.targets import MIN_BOX_SIZE, TargetTable, build_targets
from mammobench.detection.training import DetectorRun, copy_encoder, predict, train
from mammobench.encoders.embedding_cache import CacheSpaceError
from mammobench.encoders.feature_maps import FeatureMapSet, compute_feature_maps
from mammobench.metrics.froc import DEFAULT_HIT_IOU
from mammobench.plural import counted
from mammobench.progress import callback
from mammobench.protocols.base import CellResult, Protocol, ProtocolContext
from mammobench.specs import Capability
from mammobench.tasks.base import DetectionTask

logger = logging.getLogger(__name__)

# Storage dtype of cached feature maps: half the disk space of float32.
FEATURE_DTYPE = "float16"


class Detection(Protocol):
    """RetinaNet with an FPN on the encoder's dense maps, with the epoch selected on validation."""

    name = "detection"
    capabilities = (Capability.DENSE,)
    task_kinds = ("detection",)

    def __init__(self) -> None:
        self.config: DetectorConfig | None = None
        self.targets: TargetTable | None = None
        self.feature_maps: FeatureMapSet | None = None
        self.shared_details: dict[str, Any] = {}

    def setup(self, context: ProtocolContext) -> None:
        task = _detection_task(context)
        settings = context.settings
        profile = get_profile(settings.profile)
        self.config = detector_config(
            settings.profile, epochs=settings.epochs, learning_rate=settings.learning_rate, options=settings.options
        )

        context.manifest, dropped = drop_unlocalized_positives(context.manifest, task.categories)
        total = len(context.manifest.images)
        with context.reporter.step("Preparing images and boxes", total) as handle:
            self.targets = build_targets(
                context.manifest,
                task.categories,
                profile,
                num_workers=settings.num_workers,
                progress=callback(handle),
            )
        self.shared_details = {
            "unlocalized_positives_removed": dropped,
            "boxes": {
                "kept": self.targets.counts.kept,
                "grown_to_min_size": self.targets.counts.clamped,
                "dropped_degenerate": self.targets.counts.dropped,
                "min_size_px": MIN_BOX_SIZE,
            },
        }
        if settings.freeze_backbone:
            self.feature_maps = self._cache_feature_maps(context, profile)

    def run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        task = _detection_task(context)
        if self.config is None or self.targets is None:
            raise RuntimeError("Detection.setup must run before run_cell")
        config, targets = self.config, self.targets
        settings = context.settings
        profile = get_profile(settings.profile)
        device = torch.device(settings.device)
        categories = tuple(task.categories)
        main_metric = _main_metric(task)
        torch.manual_seed(subset.seed)

        train_ids = targets.readable(sorted(subset.image_ids))
        validation_ids = targets.readable(_ids(context.images("val")))
        test_ids = targets.readable(_ids(context.images("test")))

        cached = self.feature_maps is not None
        feature_info = self.feature_maps.feature_info if cached else context.encoder.feature_info
        plan = plan_anchors(targets.box_array(train_ids), available_strides(feature_info), min_stride=config.min_stride)
        coverage = coverage_report(
            plan,
            {
                split: (targets.box_array(ids), targets.label_array(ids))
                for split, ids in (("train", train_ids), ("test", test_ids))
            },
            categories,
            profile.size,
        )
        logger.info(
            "anchors at strides %s with sizes %s and aspect ratios %s cover %s of the training and %s "
            "of the test boxes at IoU >= 0.5",
            list(plan.strides),
            [list(sizes) for sizes in plan.sizes],
            list(plan.aspect_ratios),
            _share(coverage.get("train")),
            _share(coverage.get("test")),
        )

        detector = RetinaNetDetector(feature_info, plan, len(categories), config, profile.size).to(device)
        if cached:
            source = CachedMaps(self.feature_maps, targets, device)
            encoder = None
        else:
            encoder = context.encoder if settings.freeze_backbone else copy_encoder(context.encoder, device)
            source = ImageBatches(context.manifest, targets, profile, device, settings.num_workers)
        run = DetectorRun(detector, encoder, not settings.freeze_backbone, categories, device)

        validation_truth = targets.frame(validation_ids)

        def score_validation(predictions: pd.DataFrame) -> float:
            scores = evaluate_boxes(
                validation_truth,
                predictions,
                image_ids=validation_ids,
                categories=categories,
                max_detections=config.detections_per_image,
            )
            return scores.value(main_metric).value

        training = train(
            run,
            source,
            train_ids,
            validation_ids,
            config=config,
            batch_size=settings.batch_size,
            seed=subset.seed,
            score_validation=score_validation,
            reporter=context.reporter,
        )

        predictions = predict(run, source, test_ids, settings.batch_size)
        if isinstance(source, ImageBatches):
            source.close()
        test_truth = targets.frame(test_ids)
        scores = evaluate_boxes(
            test_truth, predictions, image_ids=test_ids, categories=categories, max_detections=config.detections_per_image
        )
        names = _metric_names(task, main_metric)
        patients = _patients(context.manifest, test_ids)
        with context.reporter.step(f"Scoring {len(names)} metrics ({settings.n_bootstrap} bootstrap resamples)", len(names)) as handle:
            metrics = score_with_intervals(
                scores, names, patients, n_bootstrap=settings.n_bootstrap, seed=subset.seed, progress=callback(handle)
            )

        overlays = None
        if settings.save_overlays is not None:
            overlays = Path(settings.save_overlays) / f"{task.name}-fraction{subset.fraction:g}-seed{subset.seed}"
            write_overlays(overlays, context.manifest, test_ids, test_truth, predictions, categories, profile)

        details = {
            **self.shared_details,
            "detector": config.as_dict(),
            "batch_size": settings.batch_size,
            "features": _feature_mode(cached, settings.freeze_backbone),
            "augmentation": "none (cached feature maps)" if cached else "vertical flip, contrast and brightness jitter",
            "anchors": {**plan.as_dict(), "coverage": coverage},
            "best_epoch": training.best_epoch,
            "history": training.history,
            "max_detections": config.detections_per_image,
            "froc": {"hit_criterion": "iou", "iou_threshold": DEFAULT_HIT_IOU, "fp_rates": list(FROC_FP_RATES)},
            "n_boxes": {"train": int(len(targets.box_array(train_ids))), "test": int(len(test_truth))},
            "n_images": {"train": len(train_ids), "val": len(validation_ids), "test": len(test_ids)},
            "box_coordinates": (
                f"xmin, ymin, xmax, ymax: processed pixels of profile '{profile.name}' "
                f"({profile.height}x{profile.width}); source_*: original image pixels"
            ),
            "overlays": str(overlays) if overlays is not None else None,
        }
        return CellResult(
            predictions=_with_source_coordinates(predictions, targets, context.manifest),
            validation=training.best_validation,
            cache_key=self.feature_maps.key if cached else None,
            details=details,
            failed_images=dict(targets.failed),
            metrics=metrics,
        )

    def _cache_feature_maps(self, context: ProtocolContext, profile: ResolutionProfile) -> FeatureMapSet | None:
        settings = context.settings
        encoder = context.encoder
        levels = input_levels(encoder.feature_info, self.config.min_stride)
        total = len(context.manifest.images)
        try:
            with context.reporter.step("Computing feature maps (frozen encoder)", total) as handle:
                feature_maps = compute_feature_maps(
                    encoder,
                    context.manifest,
                    profile,
                    levels=levels,
                    dtype=FEATURE_DTYPE,
                    batch_size=settings.batch_size,
                    num_workers=settings.num_workers,
                    progress=callback(handle),
                    precision=settings.precision,
                )
        except CacheSpaceError as error:
            logger.warning("feature maps are not cached (%s); the frozen encoder runs in every epoch instead", error)
            return None
        logger.info(
            "%s feature maps of %d images at %s",
            "read cached" if feature_maps.from_cache else "cached",
            len(feature_maps),
            feature_maps.path,
        )
        return feature_maps


def drop_unlocalized_positives(manifest: Manifest, categories: Sequence[str]) -> tuple[Manifest, int]:
    """Remove images positive for a category at image level that have no box of that category.

    Only categories that are also image-level label columns are checked.

    Returns:
        The manifest without those images, and how many were removed.
    """
    images = manifest.images
    unlocalized = np.zeros(len(images), dtype=bool)
    for category in categories:
        if category not in images.columns:
            continue
        with_box = set(manifest.boxes.loc[manifest.boxes["category"] == category, "image_id"].astype(str))
        positive = (images[category] == 1.0).to_numpy()
        unlocalized |= positive & ~images["image_id"].astype(str).isin(with_box).to_numpy()
    count = int(unlocalized.sum())
    if count:
        logger.warning(
            "dataset '%s': removed %s that are positive for %s at image level but have "
            "no box of that finding; they can be neither negatives nor localized positives",
            manifest.dataset,
            counted(count, "image"),
            " or ".join(categories),
        )
    return manifest.with_images(images[~unlocalized]), count


def _detection_task(context: ProtocolContext) -> DetectionTask:
    task = context.task
    if not isinstance(task, DetectionTask):
        raise TypeError(f"the detection protocol needs a detection task, got {type(task).__name__}")
    return task


def _main_metric(task: DetectionTask) -> str:
    if task.spec is not None:
        return task.spec.main_metric
    return task.metrics[0]


def _metric_names(task: DetectionTask, main_metric: str) -> list[str]:
    names = list(task.spec.metrics) if task.spec is not None and task.spec.metrics else list(task.metrics)
    if not names:
        names = detection_metric_names(task.categories)
    if main_metric not in names:
        names.insert(0, main_metric)
    return names


def _feature_mode(cached: bool, frozen: bool) -> str:
    if cached:
        return "frozen encoder, cached feature maps"
    if frozen:
        return "frozen encoder, maps computed in every epoch"
    return "encoder trained with the detector"


def _share(value: float | None) -> str:
    return "none (no boxes)" if value is None else f"{100 * value:.0f}%"


def _ids(images: pd.DataFrame) -> list[str]:
    return [str(image_id) for image_id in images["image_id"]]


def _patients(manifest: Manifest, image_ids: Sequence[str]) -> list[str]:
    patient_of = dict(zip(manifest.images["image_id"].astype(str), manifest.images["patient_id"].astype(str)))
    return [patient_of[image_id] for image_id in image_ids]


def _with_source_coordinates(predictions: pd.DataFrame, targets: TargetTable, manifest: Manifest) -> pd.DataFrame:
    """Add ``patient_id`` and the boxes in original image pixels (``source_*``)."""
    frame = predictions.copy()
    patient_of = dict(zip(manifest.images["image_id"].astype(str), manifest.images["patient_id"].astype(str)))
    frame.insert(1, "patient_id", [patient_of[image_id] for image_id in frame["image_id"]])
    source = np.zeros((len(frame), 4))
    for image_id, rows in frame.groupby("image_id", sort=False).indices.items():
        boxes = frame.iloc[rows][["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float)
        source[rows] = targets.images[image_id].transform.inverse(boxes, clip=True)
    for position, name in enumerate(("xmin", "ymin", "xmax", "ymax")):
        frame[f"source_{name}"] = source[:, position]
    return frame
