from __future__ import annotations

import subprocess
import sys

import pytest
import timm
import torch
from safetensors.torch import save_file

from mammobench.api import WeightsError
from mammobench.encoders.registry import build_encoder
from mammobench.errors import ConfigError
from mammobench.plugin_host import PluginHost
from mammobench.specs import Capability

# timm's tiny test architectures keep these tests fast.
TINY = "test_efficientnet"


@pytest.fixture(scope="module")
def host():
    return PluginHost(allow=["baselines"]).load()


def test_registers_every_baseline(host):
    names = set(host.encoders)

    for architecture in [f"efficientnet_b{i}" for i in range(6)] + ["resnet18", "resnet50"]:
        assert f"random/{architecture}" in names
        assert f"imagenet/{architecture}" in names
    assert host.encoders["timm:"].spec.takes_argument
    assert host.encoders["hf:"].spec.takes_argument
    assert host.failures == []


def test_registration_imports_no_torch():
    code = (
        "import sys\n"
        "from mammobench.plugin_host import PluginHost\n"
        "PluginHost(allow=['baselines']).load()\n"
        "heavy = [m for m in ('torch', 'timm', 'transformers') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == ""


def test_imagenet_spec_lists_pretraining_data(host):
    spec = host.encoders["imagenet/efficientnet_b5"].spec

    assert spec.pretraining_datasets == ["imagenet-12k", "imagenet-1k"]
    assert "timm/efficientnet_b5.sw_in12k_ft_in1k" in spec.weights


def test_random_init_is_reproducible(host):
    first = build_encoder(f"timm:{TINY}", host=host)
    second = build_encoder(f"timm:{TINY}", host=host)

    assert first.info.revision == second.info.revision
    assert first.info.revision.startswith("random-init-seed0-sha256:")
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_random_init_leaves_global_rng(host):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)

    build_encoder(f"timm:{TINY}", host=host)

    assert torch.equal(torch.rand(3), expected)


def test_global_and_dense_share_backbone(host):
    encoder = build_encoder(f"timm:{TINY}", host=host)
    images = torch.rand(2, 1, 64, 96)

    with torch.inference_mode():
        inputs = encoder.prepare(images)
        embedding = encoder.encode_image(inputs)
        maps = encoder.forward_features(inputs)

    assert encoder.capabilities == {Capability.GLOBAL, Capability.DENSE}
    assert embedding.shape == (2, encoder.embed_dim)
    assert [info.stride for info in encoder.feature_info] == [4, 8, 16, 32]
    assert [m.shape[1] for m in maps] == [info.channels for info in encoder.feature_info]
    assert [m.shape[2:] for m in maps] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert encoder.backbone is encoder.model
    assert any(p.requires_grad for p in encoder.backbone.parameters())


def test_resnet_drops_stride_two_stem(host):
    encoder = build_encoder("timm:test_resnet", host=host)

    assert [info.stride for info in encoder.feature_info] == [4, 8, 16, 32]
    assert [info.name for info in encoder.feature_info] == ["layer1", "layer2", "layer3", "layer4"]


def test_vit_accepts_profile_size(host):
    encoder = build_encoder("timm:test_vit", host=host)

    with torch.inference_mode():
        maps = encoder.forward_features(encoder.prepare(torch.rand(1, 1, 256, 160)))

    assert encoder.contract.size == (160, 160)
    assert [info.stride for info in encoder.feature_info] == [16]
    assert maps[0].shape[2:] == (16, 10)


def test_weights_file_loads_with_head(host, tmp_path):
    source = timm.create_model(TINY, num_classes=7)
    path = tmp_path / "finetuned.safetensors"
    save_file({"module." + k: v.contiguous() for k, v in source.state_dict().items()}, str(path))

    encoder = build_encoder(f"timm:{TINY}", weights=path, host=host)

    assert encoder.info.revision.startswith("sha256:")
    assert encoder.info.weights_path == str(path)
    assert torch.equal(encoder.model.conv_stem.weight, source.conv_stem.weight)


def test_wrong_architecture_weights_fail(host, tmp_path):
    path = tmp_path / "resnet.safetensors"
    save_file(timm.create_model("test_resnet", num_classes=0).state_dict(), str(path))

    with pytest.raises(WeightsError) as caught:
        build_encoder(f"timm:{TINY}", weights=path, host=host)

    message = str(caught.value)
    assert "missing keys (first: 'conv_stem.weight')" in message
    assert "unexpected keys (first: 'conv1." in message


def test_pickled_weights_need_trust(host, tmp_path):
    import argparse

    path = tmp_path / "checkpoint.pth"
    state_dict = timm.create_model(TINY, num_classes=0).state_dict()
    torch.save({"state_dict": state_dict, "args": argparse.Namespace(epochs=3)}, path)

    with pytest.raises(WeightsError, match="--trust-pickle"):
        build_encoder(f"timm:{TINY}", weights=path, host=host)
    encoder = build_encoder(f"timm:{TINY}", weights=path, trust_pickle=True, host=host)

    assert encoder.info.weights_path == str(path)


def test_random_baseline_rejects_weights(host, tmp_path):
    with pytest.raises(ConfigError, match="takes no --weights"):
        build_encoder("random/resnet18", weights=tmp_path / "x.safetensors", host=host)


def test_unknown_timm_model_suggests_names(host):
    with pytest.raises(ConfigError, match="timm has no model 'test_efficientnett'"):
        build_encoder("timm:test_efficientnett", host=host)


def test_missing_imagenet_weights_explain_source(host, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    with pytest.raises(WeightsError) as caught:
        build_encoder("imagenet/efficientnet_b0", host=host)

    message = str(caught.value)
    assert "'timm/efficientnet_b0.ra_in1k'" in message
    assert "--weights" in message
    assert "hf download timm/efficientnet_b0.ra_in1k" in message


def test_imagenet_weights_from_hf_cache(host, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    repository = cache / "models--timm--efficientnet_b0.ra_in1k"
    snapshot = repository / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text("0123abcd")
    torch.manual_seed(5)
    source = timm.create_model("efficientnet_b0", num_classes=1000)
    save_file(source.state_dict(), str(snapshot / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    encoder = build_encoder("imagenet/efficientnet_b0", host=host)

    assert encoder.info.weights_path == str(snapshot / "model.safetensors")
    assert encoder.info.pretraining_datasets == ["imagenet-1k"]
    assert torch.equal(encoder.model.conv_stem.weight, source.conv_stem.weight)
