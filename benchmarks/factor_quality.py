"""Quality bar of Mammo-FActOR localization on the synthetic VinDr layout.

Compares, on the test images with a mass box, the IoU hit rate at 0.25 (and at 0.5, the
pointing game and AP at 0.25) of three localizers:

1. ``mammoclip``: the ``factor`` protocol on the demo Mammo-CLIP (the trained encoder);
2. ``random image tower``: the same protocol and text tower, with the image tower re-initialised
   (random-init features, same architecture and text embeddings);
3. ``centre box``: one box per image, of the median training mass box size (processed pixels),
   at the centre of the processed image.

A fourth row, ``oracle cell``, is a ceiling rather than a competitor: its heatmap is one hot
cell of the feature grid, the cell that contains the ground-truth box's centre, upsampled and
thresholded exactly like the protocol's heatmaps. It shows how far a heatmap built from maps of
that stride can localize boxes of the dataset's size at each percentile.

The bar is met when (1) beats both (2) and (3) on ``hit_rate@0.25/mass``. Every protocol run goes
through the same code as ``mammobench run -t vindr-factor-loc -p factor``; each seed trains new
heads. Extra ``--percentiles`` show how the box threshold changes the numbers.

Full run: the demo Mammo-CLIP on the default synthetic VinDr dataset, three seeds, the default
percentile and the 99th. Both the dataset and the demo weights are written to
``$MAMMOBENCH_HOME`` on first use, and the demo pretraining takes minutes on a CPU::

    python benchmarks/factor_quality.py --seeds 0,1,2 --percentiles 95,99

Smoke run, to check that the script works end to end: a few synthetic patients, a tiny
Mammo-CLIP pretrained on them (``mammobench pretrain`` with a small recipe), one epoch::

    mammobench data synth --layout vindr --out small-vindr --patients 24 --size 320x192
    python benchmarks/factor_quality.py --data-root small-vindr --weights TINY_MAMMOCLIP_DIR \
        --seeds 0 --epochs 1 --bootstrap 200
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    arguments = _parse_arguments(argv)
    import torch

    from mammobench.data.roots import load_dataset
    from mammobench.encoders.registry import build_encoder
    from mammobench.plugin_host import get_host
    from mammobench.protocols.base import RunSettings
    from mammobench.tasks.base import build_task

    if arguments.threads is not None:
        torch.set_num_threads(max(1, arguments.threads))
    host = get_host()
    task = build_task(host.task(arguments.task))
    dataset = load_dataset(task.spec.dataset, arguments.data_root)
    manifest = task.prepare(dataset)
    settings = RunSettings(
        profile=arguments.profile,
        batch_size=16,
        num_workers=0,
        n_bootstrap=arguments.bootstrap,
        epochs=arguments.epochs,
        save_overlays=Path(arguments.overlays) if arguments.overlays else None,
    )

    trained = build_encoder("mammoclip", weights=arguments.weights)
    random_tower = _with_random_image_tower(trained, arguments.random_seed)
    encoders = {"mammoclip": trained, "random image tower": random_tower}

    rows = []
    for label, encoder in encoders.items():
        for percentile in arguments.percentiles:
            for seed in arguments.seeds:
                options = {"heatmap_percentile": percentile, "feature_level": arguments.feature_level}
                metrics, details = _run_factor(task, dataset, manifest, encoder, settings, seed, options, label)
                rows.append((label, percentile, seed, metrics, details))
                print(f"{label}, percentile {percentile:g}, seed {seed}: {_summary(metrics)}", flush=True)

    centre, truth = _centre_baseline(task, manifest, settings, arguments.attribute, arguments.bootstrap)
    print(f"centre box: {_summary(centre)}", flush=True)
    stride = rows[0][4]["features"]["stride"]
    oracles = {
        percentile: _oracle_cell(truth, manifest, settings, stride, percentile, arguments.attribute, arguments.bootstrap)
        for percentile in arguments.percentiles
    }

    name = f"hit_rate@0.25/{arguments.attribute}"
    print()
    print(
        f"Mammo-FActOR quality on {'SYNTHETIC ' if manifest.synthetic else ''}{manifest.dataset} "
        f"({arguments.task}, profile {arguments.profile}, feature level {arguments.feature_level} "
        f"(stride {stride}), label fraction 1, "
        f"{details['n_images']['test']} test images; {centre[name][3]} with a {arguments.attribute} box)"
    )
    header = f"{'localizer':<20} {'pct':>5} {'seed':>4} {'hit@0.25':>22} {'hit@0.5':>8} {'pointing':>8} {'AP@0.25':>8} {'val AUC':>8}"
    print(header)
    attribute = arguments.attribute
    for label, percentile, seed, metrics, details in rows:
        print(
            f"{label:<20} {percentile:>5g} {seed:>4} {_with_ci(metrics[name]):>22} "
            f"{metrics[f'hit_rate@0.5/{attribute}'][0]:>8.3f} {metrics[f'pointing_game/{attribute}'][0]:>8.3f} "
            f"{metrics[f'ap@0.25/{attribute}'][0]:>8.3f} {_validation_auc(details, attribute):>8.3f}"
        )
    print(
        f"{'centre box':<20} {'-':>5} {'-':>4} {_with_ci(centre[name]):>22} "
        f"{centre[f'hit_rate@0.5/{attribute}'][0]:>8.3f} {centre[f'pointing_game/{attribute}'][0]:>8.3f} {'-':>8} {'-':>8}"
    )
    for percentile, oracle in oracles.items():
        print(
            f"{'oracle cell (ceiling)':<20} {percentile:>5g} {'-':>4} {_with_ci(oracle[name]):>22} "
            f"{oracle[f'hit_rate@0.5/{attribute}'][0]:>8.3f} {'-':>8} {'-':>8} {'-':>8}"
        )
    for label, percentile, seed, _, details in rows:
        if seed == arguments.seeds[0]:
            areas = details["evaluation"]["box_area"][attribute]
            print(
                f"{label}, percentile {percentile:g}: median top-box area {areas['top_box'] or float('nan'):.0f} px, "
                f"median ground-truth area {areas['ground_truth'] or float('nan'):.0f} px"
            )

    default = arguments.percentiles[0]
    ours = np.mean([m[name][0] for label, p, _, m, _ in rows if label == "mammoclip" and p == default])
    random = np.mean([m[name][0] for label, p, _, m, _ in rows if label == "random image tower" and p == default])
    bar_met = ours > random and ours > centre[name][0]
    print()
    print(
        f"mean {name} at percentile {default:g} over seeds {arguments.seeds}: mammoclip {ours:.3f}, "
        f"random image tower {random:.3f}, centre box {centre[name][0]:.3f} -> bar "
        f"{'HOLDS' if bar_met else 'DOES NOT HOLD'}"
    )
    return 0 if bar_met else 1


def _parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="vindr-factor-loc", help="A FActOR localization task.")
    parser.add_argument("--attribute", default="mass", help="Attribute the bar is checked on.")
    parser.add_argument("--data-root", type=Path, default=None, help="Dataset folder; the synthetic default when omitted.")
    parser.add_argument("--weights", type=Path, default=None, help="Mammo-CLIP folder; the demo weights when omitted.")
    parser.add_argument("--profile", default="tiny", help="Resolution profile of the feature maps.")
    parser.add_argument("--seeds", type=_ints, default=[0, 1, 2], help="Comma-separated seeds of the heads.")
    parser.add_argument(
        "--percentiles", type=_floats, default=[95.0], help="Heatmap box percentiles; the first one decides the bar."
    )
    parser.add_argument("--epochs", type=int, default=None, help="Head training epochs; the protocol default when omitted.")
    parser.add_argument(
        "--feature-level", type=int, default=-1, help="Dense level whose channels are the descriptors; -1 is the final map."
    )
    parser.add_argument("--random-seed", type=int, default=0, help="Seed of the re-initialised image tower.")
    parser.add_argument("--bootstrap", type=int, default=1000, help="Bootstrap resamples over patients.")
    parser.add_argument("--threads", type=int, default=None, help="Torch CPU threads; PyTorch's default when omitted.")
    parser.add_argument("--overlays", default=None, help="Write overlay PNGs of every run below this folder.")
    return parser.parse_args(argv)


def _with_random_image_tower(encoder, seed: int):
    """Return a copy of a Mammo-CLIP encoder whose image tower has fresh random weights."""
    import torch
    from mammobench_mammoclip.model import ImageTower

    copied = copy.deepcopy(encoder)
    image = copied.model.image
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        copied.model.image = ImageTower(image.architecture, in_chans=image.in_chans).eval()
    # A new revision gives the random tower its own feature-map cache entry.
    copied.info = dataclasses.replace(copied.info, revision=f"{copied.info.revision}-random-image-tower-{seed}")
    return copied


def _run_factor(task, dataset, manifest, encoder, settings, seed, options, label):
    """Run one ``factor`` cell at label fraction 1 and return {metric: (value, low, high, n)}."""
    from mammobench.data.fractions import sample_label_fraction
    from mammobench.protocols.base import ProtocolContext
    from mammobench.protocols.factor import Factor

    run_settings = dataclasses.replace(settings, options=options)
    if settings.save_overlays is not None:
        folder = f"{label.replace(' ', '-')}-level{options['feature_level']}-percentile{options['heatmap_percentile']:g}"
        run_settings = dataclasses.replace(run_settings, save_overlays=settings.save_overlays / folder)
    context = ProtocolContext(encoder=encoder, task=task, manifest=manifest, settings=run_settings, dataset_manifest=dataset)
    protocol = Factor()
    protocol.setup(context)
    subset = sample_label_fraction(manifest, 1.0, seed, task.stratify)
    result = protocol.run_cell(context, subset)
    metrics = {
        metric.name: (metric.estimate.value.value, metric.estimate.ci.low, metric.estimate.ci.high, metric.n_eval)
        for metric in result.metrics
    }
    return metrics, result.details


def _centre_baseline(task, manifest, settings, attribute: str, n_bootstrap: int):
    """Score one median-size box at the image centre on every evaluated test image."""
    import pandas as pd

    from mammobench.data.image_cache import ImageCache
    from mammobench.data.profiles import get_profile
    from mammobench.factor.features import CANONICAL_SIDE
    from mammobench.factor.ground_truth import processed_boxes
    from mammobench.metrics.bootstrap import bootstrap_mean
    from mammobench.metrics.localization import iou_hits, pointing_game

    profile = get_profile(settings.profile)
    cache = ImageCache(profile, canonical_side=CANONICAL_SIDE)
    images = manifest.images
    categories = {attribute: task.categories_for(attribute)}

    def positives(split: str) -> list[str]:
        rows = images[(images["split"] == split) & (images[attribute] == 1)]
        return [str(image_id) for image_id in rows["image_id"]]

    train_boxes = processed_boxes(manifest, positives("train"), categories, cache).boxes
    width = float(np.median(train_boxes["xmax"] - train_boxes["xmin"]))
    height = float(np.median(train_boxes["ymax"] - train_boxes["ymin"]))
    truth = processed_boxes(manifest, positives("test"), categories, cache).boxes
    evaluated = sorted(set(truth["image_id"]))

    centre_x, centre_y = profile.width / 2.0, profile.height / 2.0
    predictions = pd.DataFrame(
        [
            (image_id, attribute, centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2)
            for image_id in evaluated
        ],
        columns=["image_id", "category", "xmin", "ymin", "xmax", "ymax"],
    )
    hits = iou_hits(truth, predictions).set_index("image_id").loc[evaluated]
    # A heatmap that peaks at the centre pixel gives the centre's pointing game.
    heatmap = np.zeros(profile.size)
    heatmap[int(centre_y), int(centre_x)] = 1.0
    pointing = pointing_game({image_id: heatmap for image_id in evaluated}, truth).set_index("image_id").loc[evaluated]

    patient_of = dict(zip(images["image_id"].astype(str), images["patient_id"].astype(str)))
    patients = [patient_of[image_id] for image_id in evaluated]
    results = {}
    for name, values in (
        (f"hit_rate@0.25/{attribute}", hits["hit@0.25"]),
        (f"hit_rate@0.5/{attribute}", hits["hit@0.5"]),
        (f"pointing_game/{attribute}", pointing["hit"]),
    ):
        estimate = bootstrap_mean(values.astype(float).to_numpy(), patients, n_resamples=n_bootstrap)
        results[name] = (estimate.value.value, estimate.ci.low, estimate.ci.high, len(evaluated))
    print(f"centre box size: {width:.1f} x {height:.1f} processed pixels (median of {len(train_boxes)} training boxes)")
    return results, truth


def _oracle_cell(truth, manifest, settings, stride: int, percentile: float, attribute: str, n_bootstrap: int):
    """Score heatmaps that are one hot feature cell at each ground-truth box's centre."""
    import pandas as pd

    from mammobench.data.profiles import get_profile
    from mammobench.factor.heatmaps import heatmap_boxes, to_image_frame
    from mammobench.metrics.bootstrap import bootstrap_mean
    from mammobench.metrics.localization import iou_hits

    profile = get_profile(settings.profile)
    grid_size = (-(-profile.height // stride), -(-profile.width // stride))
    frames = []
    for image_id, boxes in truth.groupby("image_id", sort=True):
        grid = np.zeros(grid_size)
        for box in boxes[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float):
            row = int(((box[1] + box[3]) / 2) // stride)
            column = int(((box[0] + box[2]) / 2) // stride)
            grid[min(row, grid_size[0] - 1), min(column, grid_size[1] - 1)] = 1.0
        predicted = heatmap_boxes(to_image_frame(grid, stride, profile.size), percentile, 1.0)
        predicted.insert(0, "category", attribute)
        predicted.insert(0, "image_id", image_id)
        frames.append(predicted)
    predictions = pd.concat(frames, ignore_index=True)
    hits = iou_hits(truth, predictions).sort_values("image_id")

    images = manifest.images
    patient_of = dict(zip(images["image_id"].astype(str), images["patient_id"].astype(str)))
    patients = [patient_of[image_id] for image_id in hits["image_id"]]
    results = {}
    for threshold in ("0.25", "0.5"):
        estimate = bootstrap_mean(hits[f"hit@{threshold}"].astype(float).to_numpy(), patients, n_resamples=n_bootstrap)
        results[f"hit_rate@{threshold}/{attribute}"] = (estimate.value.value, estimate.ci.low, estimate.ci.high, len(hits))
    return results


def _summary(metrics) -> str:
    keys = [key for key in metrics if key.startswith(("hit_rate@0.25", "pointing_game"))]
    return ", ".join(f"{key} {metrics[key][0]:.3f}" for key in keys)


def _with_ci(entry) -> str:
    value, low, high, _ = entry
    if not np.isfinite(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _validation_auc(details, attribute: str) -> float:
    value = details["heads"][attribute]["best_validation_auc"]
    return float("nan") if value is None else float(value)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    sys.exit(main())
