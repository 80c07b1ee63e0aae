"""Baseline encoders for mammobench: timm EfficientNet and ResNet with random or ImageNet weights,
and generic ``timm:<model>`` and ``hf:<path>`` encoders. Registration is in :mod:`.plugin`."""
