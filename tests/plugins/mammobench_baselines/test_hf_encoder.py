from __future__ import annotations

import json

import pytest
import torch
from transformers import (
    ConvNextConfig,
    ConvNextModel,
    ResNetConfig,
    ResNetForImageClassification,
    ResNetModel,
    ViTConfig,
    ViTModel,
)

from mammobench.api import WeightsError
from mammobench.encoders.registry import build_encoder
from mammobench.plugin_host import PluginHost
from mammobench.specs import Capability

TINY_RESNET = {"embedding_size": 8, "hidden_sizes": [8, 16, 24, 32], "depths": [1, 1, 1, 1]}


@pytest.fixture(scope="module")
def host():
    return PluginHost(allow=["baselines"]).load()


@pytest.fixture
def resnet_folder(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "tiny-resnet"
    ResNetModel(ResNetConfig(**TINY_RESNET)).save_pretrained(folder)
    return folder


def test_resnet_folder_gives_global_and_dense(host, resnet_folder):
    encoder = build_encoder(f"hf:{resnet_folder}", host=host)
    images = torch.rand(2, 1, 64, 96)

    with torch.inference_mode():
        inputs = encoder.prepare(images)
        embedding = encoder.encode_image(inputs)
        maps = encoder.forward_features(inputs)

    assert encoder.capabilities == {Capability.GLOBAL, Capability.DENSE}
    assert embedding.shape == (2, 32)
    assert [info.stride for info in encoder.feature_info] == [4, 8, 16, 32]
    assert [info.channels for info in encoder.feature_info] == [8, 16, 24, 32]
    assert [m.shape[1:] for m in maps] == [(8, 16, 24), (16, 8, 12), (24, 4, 6), (32, 2, 3)]


def test_folder_revision_is_stable(host, resnet_folder):
    first = build_encoder(f"hf:{resnet_folder}", host=host)
    second = build_encoder(f"hf:{resnet_folder}", host=host)

    assert first.info.revision == second.info.revision
    assert first.info.revision.startswith("sha256:")


def test_convnext_folder_loads(host, tmp_path):
    folder = tmp_path / "tiny-convnext"
    ConvNextModel(
        ConvNextConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1])
    ).save_pretrained(folder)

    encoder = build_encoder(f"hf:{folder}", host=host)

    assert encoder.embed_dim == 32
    assert [info.stride for info in encoder.feature_info] == [4, 8, 16, 32]


def test_vit_folder_has_global_only(host, tmp_path):
    folder = tmp_path / "tiny-vit"
    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
    )
    ViTModel(config).save_pretrained(folder)

    encoder = build_encoder(f"hf:{folder}", host=host)
    with torch.inference_mode():
        embedding = encoder.encode_image(encoder.prepare(torch.rand(1, 1, 64, 40)))

    assert encoder.capabilities == {Capability.GLOBAL}
    assert embedding.shape == (1, 32)
    assert encoder.contract.size == (32, 32)


def test_classifier_folder_loads_base(host, tmp_path):
    folder = tmp_path / "tiny-classifier"
    ResNetForImageClassification(ResNetConfig(**TINY_RESNET, num_labels=3)).save_pretrained(folder)

    encoder = build_encoder(f"hf:{folder}", host=host)

    assert encoder.embed_dim == 32


def test_processor_config_sets_normalisation(host, resnet_folder):
    processor = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]}
    (resnet_folder / "preprocessor_config.json").write_text(json.dumps(processor))

    encoder = build_encoder(f"hf:{resnet_folder}", host=host)

    assert encoder.contract.mean == (0.5, 0.5, 0.5)
    assert encoder.contract.std == (0.25, 0.25, 0.25)


def test_missing_weights_are_not_random(host, resnet_folder):
    config_path = resnet_folder / "config.json"
    config = json.loads(config_path.read_text())
    config["depths"] = [1, 1, 1, 2]
    config_path.write_text(json.dumps(config))

    with pytest.raises(WeightsError, match="missing keys") as caught:
        build_encoder(f"hf:{resnet_folder}", host=host)

    assert "random values" in str(caught.value)


def test_absent_folder_is_explained(host, tmp_path):
    with pytest.raises(
        WeightsError, match="neither a folder nor a model in the local Hugging Face cache"
    ):
        build_encoder(f"hf:{tmp_path / 'absent'}", host=host)


def test_folder_without_config_fails(host, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()

    with pytest.raises(WeightsError, match="could not be loaded as a transformers model"):
        build_encoder(f"hf:{empty}", host=host)
