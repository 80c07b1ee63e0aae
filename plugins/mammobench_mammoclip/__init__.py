"""Mammo-CLIP (Ghosh et al., MICCAI 2024) for mammobench: pretraining, trained and released encoders.

- ``mammobench pretrain RECIPE`` trains a Mammo-CLIP model from a recipe in ``models/``.
- Encoder ``mammoclip``: a model trained in mammobench (the demo recipe's by default).
- Encoder ``mammoclip-official``: the authors' released EfficientNet-B5 or B2 checkpoint.
- :func:`mammobench_mammoclip.prompts.default_prompts`: zero-shot prompts per label and class.
"""
