from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mammobench.data.profiles import ResolutionProfile
from mammobench.encoders.embed import compute_embeddings
from mammobench.errors import DataError, IncompatibleError
from mammobench.specs import Capability

# Smaller than 'tiny', to keep forward passes cheap; divisible by the tiny encoder's strides.
SMALL = ResolutionProfile("small-test", 64, 48)


def embed(encoder, manifest, cache, **options):
    options.setdefault("batch_size", 4)
    options.setdefault("num_workers", 0)
    return compute_embeddings(encoder, manifest, SMALL, cache=cache, **options)


def test_embeddings_cover_readable_images(tiny_encoder, tiny_manifest, tiny_data, embedding_cache):
    result = embed(tiny_encoder, tiny_manifest, embedding_cache)

    assert result.ids == [f"image{i}" for i in range(6)]
    assert result.array.shape == (6, 16)
    assert result.array.dtype == np.float32
    assert list(result.failed) == [tiny_data.BAD_IMAGE_ID]
    assert "PNG signature" in result.failed[tiny_data.BAD_IMAGE_ID]
    assert not result.from_cache


def test_embeddings_match_direct_forward(tiny_encoder, tiny_manifest, embedding_cache):
    from mammobench.data.loading import ImageDataset

    result = embed(tiny_encoder, tiny_manifest, embedding_cache)
    image = ImageDataset(tiny_manifest, SMALL)[0]["image"].unsqueeze(0)
    with torch.inference_mode():
        expected = tiny_encoder.encode_image(tiny_encoder.prepare(image)).numpy()

    assert np.allclose(result.rows(["image0"]), expected, atol=1e-6)


def test_second_run_reads_cache(tiny_encoder, tiny_manifest, embedding_cache):
    first = embed(tiny_encoder, tiny_manifest, embedding_cache)
    calls = tiny_encoder.calls

    second = embed(tiny_encoder, tiny_manifest, embedding_cache)

    assert second.from_cache
    assert tiny_encoder.calls == calls
    assert second.key == first.key
    assert np.array_equal(second.array, first.array)
    assert second.failed == first.failed


def test_fixed_image_is_embedded_again(tiny_encoder, tiny_manifest, tiny_data, embedding_cache):
    embed(tiny_encoder, tiny_manifest, embedding_cache)
    damaged = tiny_manifest.root / "damaged.png"
    tiny_data.write_mammogram(damaged, seed=99)
    # Some file systems store coarse times, so move the change clearly after the cache entry.
    later = damaged.stat().st_mtime + 10
    os.utime(damaged, (later, later))

    second = embed(tiny_encoder, tiny_manifest, embedding_cache)

    assert not second.from_cache
    assert second.failed == {}
    assert tiny_data.BAD_IMAGE_ID in second.ids


def test_unchanged_failed_image_reads_cache(tiny_encoder, tiny_manifest, tiny_data, embedding_cache):
    embed(tiny_encoder, tiny_manifest, embedding_cache)

    second = embed(tiny_encoder, tiny_manifest, embedding_cache)

    assert second.from_cache
    assert tiny_data.BAD_IMAGE_ID in second.failed


def change_split(encoder, manifest):
    return manifest, {"split": "train"}


def change_profile(encoder, manifest):
    return manifest, {"profile": ResolutionProfile("small-test", 32, 48)}


def change_manifest(encoder, manifest):
    images = manifest.images.copy()
    images.loc[0, "density"] = "C"
    return manifest.with_images(images), {}


def change_revision(encoder, manifest):
    encoder.info.revision = "sha256:ffffffffffffffff"
    return manifest, {}


def change_canonical_side(encoder, manifest):
    return manifest, {"canonical_side": "right"}


@pytest.mark.parametrize(
    "change",
    [change_split, change_profile, change_manifest, change_revision, change_canonical_side],
)
def test_changed_input_gives_new_key(tiny_encoder, tiny_manifest, embedding_cache, change):
    first = embed(tiny_encoder, tiny_manifest, embedding_cache)
    manifest, options = change(tiny_encoder, tiny_manifest)
    profile = options.pop("profile", SMALL)

    second = compute_embeddings(
        tiny_encoder,
        manifest,
        profile,
        cache=embedding_cache,
        batch_size=4,
        num_workers=0,
        **options,
    )

    assert second.key != first.key
    assert not second.from_cache


def test_split_embeds_only_that_split(tiny_encoder, tiny_manifest, embedding_cache):
    result = embed(tiny_encoder, tiny_manifest, embedding_cache, split="test")

    assert result.ids == ["image4", "image5"]
    assert result.failed == {}


def test_empty_split_is_an_error(tiny_encoder, tiny_manifest, embedding_cache):
    with pytest.raises(DataError, match="split 'val'"):
        embed(tiny_encoder, tiny_manifest, embedding_cache, split="val")


def test_rows_explain_failed_image(tiny_encoder, tiny_manifest, tiny_data, embedding_cache):
    result = embed(tiny_encoder, tiny_manifest, embedding_cache)

    with pytest.raises(DataError, match="failed"):
        result.rows([tiny_data.BAD_IMAGE_ID])


def test_progress_reaches_total(tiny_encoder, tiny_manifest, embedding_cache):
    reports = []

    embed(
        tiny_encoder,
        tiny_manifest,
        embedding_cache,
        progress=lambda done, total: reports.append((done, total)),
    )

    assert reports[-1] == (7, 7)
    assert [done for done, _ in reports] == [4, 7]


def test_worker_processes_give_same_embeddings(
    tiny_encoder, tiny_manifest, embedding_cache, tmp_path
):
    from mammobench.encoders.embedding_cache import EmbeddingCache

    in_process = embed(tiny_encoder, tiny_manifest, embedding_cache)
    with_workers = embed(
        tiny_encoder, tiny_manifest, EmbeddingCache(tmp_path / "other"), num_workers=2
    )

    assert with_workers.ids == in_process.ids
    assert np.allclose(with_workers.array, in_process.array)


def test_global_required(tiny_encoders, tiny_manifest, embedding_cache):
    dense_only = tiny_encoders.TinyEncoder(capabilities=(Capability.DENSE,))

    with pytest.raises(IncompatibleError, match="lacks capability global"):
        embed(dense_only, tiny_manifest, embedding_cache)
