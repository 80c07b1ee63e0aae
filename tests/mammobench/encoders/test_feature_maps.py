from __future__ import annotations

import os

import numpy as np
import pytest

from mammobench.data.profiles import ResolutionProfile
from mammobench.encoders.embedding_cache import CacheSpaceError
from mammobench.encoders.feature_maps import compute_feature_maps
from mammobench.errors import IncompatibleError
from mammobench.specs import Capability

# Smaller than 'tiny', to keep forward passes cheap; divisible by the tiny encoder's strides.
SMALL = ResolutionProfile("small-test", 64, 48)


def test_feature_maps_are_cached(tiny_encoder, tiny_manifest, embedding_cache):
    options = {"batch_size": 4, "num_workers": 0, "cache": embedding_cache}

    first = compute_feature_maps(tiny_encoder, tiny_manifest, SMALL, **options)
    calls = tiny_encoder.calls
    second = compute_feature_maps(tiny_encoder, tiny_manifest, SMALL, **options)

    assert [a.shape for a in first.arrays] == [(6, 8, 16, 12), (6, 16, 8, 6)]
    assert first.arrays[0].dtype == np.float16
    assert [info.stride for info in first.feature_info] == [4, 8]
    assert second.from_cache
    assert tiny_encoder.calls == calls


def test_fixed_image_gets_feature_maps(tiny_encoder, tiny_manifest, tiny_data, embedding_cache):
    options = {"batch_size": 4, "num_workers": 0, "cache": embedding_cache}
    compute_feature_maps(tiny_encoder, tiny_manifest, SMALL, **options)
    damaged = tiny_manifest.root / "damaged.png"
    tiny_data.write_mammogram(damaged, seed=99)
    # Some file systems store coarse times, so move the change clearly after the cache entry.
    later = damaged.stat().st_mtime + 10
    os.utime(damaged, (later, later))

    second = compute_feature_maps(tiny_encoder, tiny_manifest, SMALL, **options)

    assert not second.from_cache
    assert tiny_data.BAD_IMAGE_ID in second.ids


def test_feature_levels_change_key(tiny_encoder, tiny_manifest, embedding_cache):
    options = {"batch_size": 4, "num_workers": 0, "cache": embedding_cache}

    all_levels = compute_feature_maps(tiny_encoder, tiny_manifest, SMALL, **options)
    last_level = compute_feature_maps(
        tiny_encoder, tiny_manifest, SMALL, levels=[1], dtype="float32", **options
    )

    assert last_level.key != all_levels.key
    assert [a.shape for a in last_level.arrays] == [(6, 16, 8, 6)]
    assert last_level.arrays[0].dtype == np.float32


def test_feature_maps_respect_size_limit(tiny_encoder, tiny_manifest, embedding_cache):
    with pytest.raises(CacheSpaceError, match="more than the limit"):
        compute_feature_maps(
            tiny_encoder, tiny_manifest, SMALL, max_bytes=1000, num_workers=0, cache=embedding_cache
        )


def test_dense_required(tiny_encoders, tiny_manifest, embedding_cache):
    global_only = tiny_encoders.TinyEncoder(capabilities=(Capability.GLOBAL,))

    with pytest.raises(IncompatibleError, match="lacks capability dense"):
        compute_feature_maps(
            global_only, tiny_manifest, SMALL, num_workers=0, cache=embedding_cache
        )
