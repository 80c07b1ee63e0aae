"""Released-checkpoint loading, checked against the EfficientNet-PyTorch package itself.

The test builds EfficientNet-B2 with random weights in ``efficientnet_pytorch`` (the
implementation the Mammo-CLIP authors trained), saves it the way their trainer does
(``{"model": state_dict, "optimizer": ..., "config": <hydra object>, "epoch": ...}``, the image
encoder under ``image_encoder.``), loads it through ``mammoclip-official`` and requires the same
feature maps on the same input.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from mammobench.api import WeightsError
from mammobench.encoders.registry import build_encoder

efficientnet_pytorch = pytest.importorskip("efficientnet_pytorch")

# Not the reference size (260), with odd and even feature-map sizes at the strided layers, so a
# padding difference between the two implementations would show.
INPUT_SIZE = (320, 192)
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference_b2() -> nn.Module:
    torch.manual_seed(0)
    model = efficientnet_pytorch.EfficientNet.from_name("efficientnet-b2")
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def released_file(reference_b2: nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("released")
    state = {f"image_encoder.{name}": t for name, t in reference_b2.state_dict().items() if not name.startswith("_fc")}
    state["image_projection.projection.weight"] = torch.randn(512, 1408)
    state["image_projection.projection.bias"] = torch.randn(512)
    state["text_projection.projection.weight"] = torch.randn(512, 768)
    state["text_projection.projection.bias"] = torch.randn(512)
    state["logit_scale"] = torch.tensor(2.5)

    # The authors' hydra config is an object whose class needs omegaconf; a class from a module
    # that is gone at load time stands in for it, with an absolute path of their cluster.
    module_dir = folder / "modules"
    module_dir.mkdir()
    (module_dir / "fake_hydra_config.py").write_text(
        textwrap.dedent(
            """
            class DictConfig:
                def __init__(self, content):
                    self.content = content
            """
        ),
        encoding="utf-8",
    )
    sys.path.insert(0, str(module_dir))
    try:
        import fake_hydra_config

        config = fake_hydra_config.DictConfig({"data_dir": "/ocean/projects/example/PhD", "model": "b2"})
        path = folder / "b2-model-best-epoch-10.tar"
        torch.save(
            {"model": state, "optimizer": {"state": {}}, "config": config, "epoch": 10, "train_loss": 1.5},
            path,
        )
    finally:
        sys.path.remove(str(module_dir))
        sys.modules.pop("fake_hydra_config", None)
    return path


@pytest.fixture(scope="module")
def official(released_file: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MAMMOBENCH_BIOCLINICALBERT", raising=False)
        return build_encoder("mammoclip-official", weights=released_file, trust_pickle=True)


def test_official_feature_maps_match_reference(reference_b2, official):
    encoder = official
    inputs = torch.randn(2, 3, *INPUT_SIZE)

    with torch.no_grad():
        endpoints = reference_b2.extract_endpoints(inputs)
        expected_maps = [endpoints[f"reduction_{level}"] for level in (2, 3, 4, 5)]
        maps = encoder.forward_features(inputs)
        expected_pooled = reference_b2.extract_features(inputs).mean(dim=(2, 3))
        pooled = encoder.encode_image(inputs)

    assert [tuple(m.shape) for m in maps] == [tuple(m.shape) for m in expected_maps]
    for level, (found, expected) in enumerate(zip(maps, expected_maps)):
        assert (found - expected).abs().max().item() < TOLERANCE, f"dense level {level}"
    assert (pooled - expected_pooled).abs().max().item() < TOLERANCE


def test_official_without_text_model(official):
    encoder = official

    assert {c.value for c in encoder.capabilities} == {"global", "dense"}
    assert encoder.info.pretraining_datasets == ["upmc"]
    assert encoder.embed_dim == 1408
    assert [info.stride for info in encoder.feature_info] == [4, 8, 16, 32]


def test_official_projection_and_scale(official):
    encoder = official
    features = torch.randn(3, 1408)

    projected = encoder.project_image(features)

    assert projected.shape == (3, 512)
    assert torch.allclose(projected.norm(dim=1), torch.ones(3), atol=1e-5)
    assert encoder.logit_scale == pytest.approx(float(torch.tensor(2.5).exp()), rel=1e-6)


def test_official_requires_trust_flag(released_file):
    with pytest.raises(WeightsError, match="--trust-pickle"):
        build_encoder("mammoclip-official", weights=released_file)


def test_official_requires_weights():
    with pytest.raises(WeightsError, match="--weights"):
        build_encoder("mammoclip-official")
