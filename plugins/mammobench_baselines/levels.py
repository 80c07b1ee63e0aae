"""Choose which feature maps of a backbone an encoder exposes as its ``dense`` output."""

from __future__ import annotations

from collections.abc import Sequence

# Maps finer than this stride (e.g. the stride-2 stem) cost much memory and are rarely used by
# detection heads, which start at stride 8 (RetinaNet's P3).
MIN_DENSE_STRIDE = 4


def select_levels(strides: Sequence[int]) -> list[int]:
    """Return the indices of the last map of each distinct stride, for strides >= 4, in order.

    A CNN stage often emits several maps at one stride (a ResNet's stem and first stage); the
    last one is the most processed. A plain ViT has one stride, so only its last block is kept.
    """
    last_index_of_stride: dict[int, int] = {}
    for index, stride in enumerate(strides):
        if stride >= MIN_DENSE_STRIDE:
            last_index_of_stride[stride] = index
    return sorted(last_index_of_stride.values())
