"""Box detection on an encoder's dense feature maps: the pieces behind the ``detection`` protocol.

Modules: :mod:`~mammobench.detection.names` (metric names, importable without torch),
:mod:`~mammobench.detection.config` (settings per resolution profile),
:mod:`~mammobench.detection.targets` (ground-truth boxes in processed pixels),
:mod:`~mammobench.detection.anchors` (anchor sizes from the training boxes and their coverage),
:mod:`~mammobench.detection.model` (FPN and torchvision's RetinaNet head),
:mod:`~mammobench.detection.features` (cached or on-the-fly feature maps),
:mod:`~mammobench.detection.training` (training with epoch selection and prediction),
:mod:`~mammobench.detection.scoring` (AP and FROC with patient-bootstrap intervals) and
:mod:`~mammobench.detection.overlays` (PNG overlays of boxes).
"""
