"""Weak localization end to end on planted feature maps: a trained head finds the planted cell.

In positive images one channel responds to the attribute: it is raised slightly everywhere and
contains a bright cell at one of a few positions, whose pixels are the ground-truth box. Training
uses image labels only, so finding the cell again through the head's channel weights, the
heatmap and its boxes checks the whole chain and its frames.

The raised level gives the head a signal at every position. Without it, the score's maximum over
channels passes the gradient to one channel per image, and a planted position whose channel
starts below the noise channels never becomes the maximum, so some positions stay unlearnt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mammobench.factor.config import FactorConfig
from mammobench.factor.features import ChannelFeatures
from mammobench.factor.heatmaps import attribute_heatmap, heatmap_boxes, to_image_frame
from mammobench.factor.training import channel_similarities, train_head
from mammobench.metrics.localization import iou_hits, pointing_game

GRID = (8, 5)
STRIDE = 8
IMAGE_SIZE = (GRID[0] * STRIDE, GRID[1] * STRIDE)
PLANTED_CHANNEL = 3
# Cells that hold the planted signal, corners and edges included; few enough that the training
# images show each of them often.
PLANTED_CELLS = ((0, 0), (2, 3), (4, 1), (5, 4), (7, 2), (7, 4))
# Added to every value of the responding channel of a positive image; the noise has scale 0.1.
RAISED_LEVEL = 0.3


def _planted(n_images: int, seed: int):
    rng = np.random.default_rng(seed)
    maps = rng.normal(scale=0.1, size=(n_images, 8, *GRID)).astype(np.float32)
    labels = (np.arange(n_images) % 2 == 0).astype(float)
    cells = {}
    for index in np.flatnonzero(labels):
        row, column = PLANTED_CELLS[int(rng.integers(len(PLANTED_CELLS)))]
        maps[index, PLANTED_CHANNEL] += RAISED_LEVEL
        maps[index, PLANTED_CHANNEL, row, column] = 3.0
        cells[f"img{index:03d}"] = (row, column)
    ids = [f"img{index:03d}" for index in range(n_images)]
    return ChannelFeatures(maps=maps, ids=ids, stride=STRIDE, key="planted"), labels, cells


def test_head_localizes_planted_cell():
    features, labels, cells = _planted(160, seed=0)
    ids = features.ids
    features.fit_standardization(ids[:120])
    text = torch.nn.functional.normalize(torch.ones(16), dim=0)
    config = FactorConfig(epochs=10, train_batch_size=32)

    trained = train_head("mass", text, features, ids[:120], labels[:120], ids[120:140], labels[120:140], config, seed=0)

    test_ids = [image_id for image_id in ids[140:] if image_id in cells]
    similarities = channel_similarities(trained.head, features, test_ids)
    truth, predicted, heatmaps = [], [], {}
    for image_id, image_similarities, maps in zip(test_ids, similarities, features.raw_maps(test_ids), strict=True):
        heatmap = to_image_frame(attribute_heatmap(maps, image_similarities, config.temperature), STRIDE, IMAGE_SIZE)
        heatmaps[image_id] = heatmap
        boxes = heatmap_boxes(heatmap, percentile=97.0, confidence=1.0)
        predicted.append(boxes.assign(image_id=image_id, category="mass"))
        row, column = cells[image_id]
        truth.append((image_id, "mass", column * STRIDE, row * STRIDE, (column + 1) * STRIDE, (row + 1) * STRIDE))
    truth = pd.DataFrame(truth, columns=["image_id", "category", "xmin", "ymin", "xmax", "ymax"])

    hits = iou_hits(truth, pd.concat(predicted, ignore_index=True))
    pointing = pointing_game(heatmaps, truth)
    assert np.argmax(similarities.mean(axis=0)) == PLANTED_CHANNEL
    assert hits["hit@0.25"].mean() >= 0.9
    assert pointing["hit"].mean() >= 0.9
