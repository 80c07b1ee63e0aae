"""RetinaNet on an encoder's dense feature maps: torchvision's FPN, head, loss and postprocessing.

The detector starts from feature maps rather than images, so the same module trains on maps
read from the feature cache (frozen backbone) and on maps the encoder computes in the training
step (trained backbone).

:class:`PyramidNeck` builds a ``torchvision.ops.FeaturePyramidNetwork`` over the encoder levels
from the finest anchor stride upwards and returns the levels that carry anchors. When the
anchors need strides beyond the encoder's, it adds P6 and P7 with torchvision's
``LastLevelP6P7``, computed from the coarsest encoder map as in RetinaNet.

:class:`RetinaNetDetector` wraps a ``torchvision.models.detection.RetinaNet`` whose backbone is
that neck. It calls the RetinaNet head, ``compute_loss`` (sigmoid focal loss with alpha 0.25 and
gamma 2, L1 box regression, a matcher at IoU 0.5 / 0.4 that keeps low-quality matches) and
``postprocess_detections`` (score threshold, top-k per level, class-wise NMS). Only
torchvision's image transform is bypassed, because images are already preprocessed and
normalised by the encoder's input contract.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models.detection import RetinaNet
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from mammobench.detection.anchors import AnchorPlan
from mammobench.detection.config import DetectorConfig
from mammobench.encoders.base import FeatureInfo
from mammobench.errors import ConfigError

# Strides of the extra levels relative to the coarsest encoder level (RetinaNet's P6 and P7).
EXTRA_LEVEL_FACTORS = (2, 4)


def available_strides(feature_info: Sequence[FeatureInfo]) -> list[int]:
    """Return the strides a detector on these encoder levels can build, finest first."""
    strides = sorted({int(info.stride) for info in feature_info})
    return strides + [strides[-1] * factor for factor in EXTRA_LEVEL_FACTORS]


def input_levels(feature_info: Sequence[FeatureInfo], finest_stride: int) -> list[int]:
    """Return the indices of the encoder levels an FPN starting at ``finest_stride`` reads.

    When the encoder has several maps of one stride, the last one is used.
    """
    last_of_stride: dict[int, int] = {}
    for index, info in enumerate(feature_info):
        if info.stride >= finest_stride:
            last_of_stride[int(info.stride)] = index
    return [last_of_stride[stride] for stride in sorted(last_of_stride)]


class PyramidNeck(nn.Module):
    """FPN over encoder maps; returns the pyramid levels named in the anchor plan.

    Args:
        feature_info: The encoder's levels (stride and channels), in the order its maps come.
        plan: The anchor plan; its strides select the output levels.
        out_channels: Channels of every FPN level.
    """

    def __init__(self, feature_info: Sequence[FeatureInfo], plan: AnchorPlan, out_channels: int) -> None:
        super().__init__()
        self.input_indices = input_levels(feature_info, plan.strides[0])
        if not self.input_indices:
            raise ConfigError(
                f"the encoder has no feature map with a stride of at least {plan.strides[0]}"
            )
        in_strides = [int(feature_info[index].stride) for index in self.input_indices]
        in_channels = [int(feature_info[index].channels) for index in self.input_indices]

        strides = list(in_strides)
        extra = None
        if max(plan.strides) > max(in_strides):
            extra = LastLevelP6P7(in_channels[-1], out_channels)
            strides += [in_strides[-1] * factor for factor in EXTRA_LEVEL_FACTORS]
        missing = [stride for stride in plan.strides if stride not in strides]
        if missing:
            raise ConfigError(
                f"anchor strides {missing} are not pyramid levels of this encoder (levels: {strides})"
            )

        # Frozen encoders emit maps of very different scales per level (a randomly initialised
        # EfficientNet's stride-32 map is 10x smaller than its stride-4 map), so each input level
        # is batch-normalised before the FPN; the statistics are learnt with the detector.
        self.input_norms = nn.ModuleList(nn.BatchNorm2d(channels) for channels in in_channels)
        self.fpn = FeaturePyramidNetwork(in_channels, out_channels, extra_blocks=extra)
        self.out_channels = out_channels
        self.level_strides = strides
        self.output_positions = [strides.index(stride) for stride in plan.strides]

    def forward(self, maps: Sequence[torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
        """Return the anchor-carrying FPN levels of the encoder's ``maps``, finest first."""
        inputs = OrderedDict(
            (f"c{position}", norm(maps[index]))
            for position, (index, norm) in enumerate(zip(self.input_indices, self.input_norms, strict=True))
        )
        levels = list(self.fpn(inputs).values())
        return OrderedDict((f"p{self.level_strides[position]}", levels[position]) for position in self.output_positions)


class RetinaNetDetector(nn.Module):
    """torchvision's RetinaNet fed with encoder feature maps instead of images.

    Args:
        feature_info: The encoder's levels.
        plan: Anchor strides, sizes and aspect ratios.
        num_classes: Box categories; labels are 0 .. num_classes - 1 (no background class,
            because the focal loss scores each class with its own sigmoid).
        config: Head size and postprocessing settings.
        image_size: ``(height, width)`` of the processed images; predictions are clipped to it.
    """

    def __init__(
        self,
        feature_info: Sequence[FeatureInfo],
        plan: AnchorPlan,
        num_classes: int,
        config: DetectorConfig,
        image_size: Sequence[int],
    ) -> None:
        super().__init__()
        neck = PyramidNeck(feature_info, plan, config.fpn_channels)
        head = RetinaNetHead(neck.out_channels, plan.anchors_per_location, num_classes)
        if config.head_depth < len(head.classification_head.conv):
            # Fewer 3x3 layers per subnet keep the CPU demo fast; the output layers are unchanged.
            head.classification_head.conv = head.classification_head.conv[: config.head_depth]
            head.regression_head.conv = head.regression_head.conv[: config.head_depth]
        self.retinanet = RetinaNet(
            neck,
            num_classes,
            anchor_generator=plan.generator(),
            head=head,
            score_thresh=config.score_threshold,
            nms_thresh=config.nms_threshold,
            detections_per_img=config.detections_per_image,
            topk_candidates=config.topk_candidates,
        )
        self.image_size = (int(image_size[0]), int(image_size[1]))

    def forward(self, maps: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """Return the pyramid levels and the head's raw outputs for encoder ``maps``."""
        levels = list(self.retinanet.backbone(maps).values())
        return levels, self.retinanet.head(levels)

    def loss(
        self,
        levels: list[torch.Tensor],
        head_outputs: dict[str, torch.Tensor],
        targets: list[dict[str, torch.Tensor]],
    ) -> dict[str, torch.Tensor]:
        """Return RetinaNet's ``classification`` and ``bbox_regression`` losses, in float32.

        Args:
            levels: Pyramid levels from :meth:`forward`.
            head_outputs: Head outputs from :meth:`forward`.
            targets: Per image, ``boxes`` ``(N, 4)`` in processed pixels and ``labels`` ``(N,)``.
        """
        outputs = {name: value.float() for name, value in head_outputs.items()}
        anchors = self._anchors(levels, len(targets))
        return self.retinanet.compute_loss(targets, outputs, anchors)

    def detect(self, levels: list[torch.Tensor], head_outputs: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Return per image ``boxes`` (processed pixels), ``scores`` and ``labels``."""
        outputs = {name: value.float() for name, value in head_outputs.items()}
        batch = outputs["cls_logits"].shape[0]
        anchors = self._anchors(levels, batch)

        anchors_per_level = [level.shape[-2] * level.shape[-1] for level in levels]
        per_location = outputs["cls_logits"].shape[1] // sum(anchors_per_level)
        anchors_per_level = [count * per_location for count in anchors_per_level]
        split_outputs = {name: list(value.split(anchors_per_level, dim=1)) for name, value in outputs.items()}
        split_anchors = [list(image_anchors.split(anchors_per_level)) for image_anchors in anchors]
        return self.retinanet.postprocess_detections(split_outputs, split_anchors, [self.image_size] * batch)

    def _anchors(self, levels: list[torch.Tensor], batch: int) -> list[torch.Tensor]:
        grids = [level.shape[-2:] for level in levels]
        anchors = self.retinanet.anchor_generator.anchors_for(grids, levels[0].device)
        return [anchors] * batch
