"""Mammo-FActOR: attribute-text alignment of frozen feature maps and weakly supervised localization.

The ``factor`` protocol (:mod:`mammobench.protocols.factor`) is built from these modules:

- :mod:`~mammobench.factor.config`: the protocol's settings, their defaults and run overrides.
- :mod:`~mammobench.factor.attributes`: one text embedding per attribute from its sentence family.
- :mod:`~mammobench.factor.heads`: the per-attribute channel mapper, image scores and the loss.
- :mod:`~mammobench.factor.features`: cached final feature maps read as channel descriptors.
- :mod:`~mammobench.factor.training`: training of one head per attribute, epoch chosen on validation.
- :mod:`~mammobench.factor.heatmaps`: heatmaps in the processed image frame and their boxes.
- :mod:`~mammobench.factor.ground_truth`: attribute boxes mapped into the processed image frame.
- :mod:`~mammobench.factor.localization`: heatmaps, boxes and overlays of a cell's test images.
- :mod:`~mammobench.factor.scoring`: AUC, IoU hit rates, pointing game and AP with patient
  bootstrap intervals.
- :mod:`~mammobench.factor.overlays`: heatmap overlay PNGs with ground-truth boxes.
- :mod:`~mammobench.factor.names`: metric names, importable without torch.
"""
