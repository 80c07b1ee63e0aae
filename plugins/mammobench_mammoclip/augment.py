"""Image augmentation for mammogram pretraining, drawn from a seeded generator.

Every random choice comes from a ``numpy.random.Generator`` passed in by the caller, so the
same (seed, epoch, item) always gives the same augmented image. That makes a resumed run see
the same data as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from mammobench_mammoclip.recipe import AugmentationConfig


class MammogramAugmentation:
    """Small affine change, optional flips, then brightness and contrast, on one ``(1, H, W)`` image.

    Values stay in ``[0, 1]``: the area uncovered by the affine transform is filled with 0
    (background), and intensities are clipped after the brightness and contrast change. With
    per-image min-max rescaling in the input contract, a pure brightness or contrast change would
    be undone, so these two act through the clipping at 0 and 1 (saturating the densest or the
    faintest tissue).
    """

    def __init__(self, config: AugmentationConfig) -> None:
        self.config = config

    def __call__(self, image: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Return an augmented copy of ``image`` (float ``(1, H, W)`` in ``[0, 1]``)."""
        config = self.config
        height, width = image.shape[-2:]

        angle = float(rng.uniform(-config.rotate_degrees, config.rotate_degrees))
        shift_x = float(rng.uniform(-config.translate_fraction, config.translate_fraction)) * width
        shift_y = float(rng.uniform(-config.translate_fraction, config.translate_fraction)) * height
        scale = float(rng.uniform(*config.scale_range))
        shear = float(rng.uniform(-config.shear_degrees, config.shear_degrees))
        augmented = TF.affine(
            image,
            angle=angle,
            translate=[shift_x, shift_y],
            scale=scale,
            shear=[shear, 0.0],
            interpolation=TF.InterpolationMode.BILINEAR,
            fill=0.0,
        )

        if rng.random() < config.horizontal_flip:
            augmented = augmented.flip(-1)
        if rng.random() < config.vertical_flip:
            augmented = augmented.flip(-2)

        brightness = float(rng.uniform(-config.brightness, config.brightness))
        contrast = float(rng.uniform(1.0 - config.contrast, 1.0 + config.contrast))
        mean = augmented.mean()
        augmented = (augmented - mean) * contrast + mean + brightness
        return augmented.clamp(0.0, 1.0)
