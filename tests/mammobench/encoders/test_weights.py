from __future__ import annotations

import argparse
import hashlib

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from mammobench.encoders.weights import (
    file_sha256,
    load_checkpoint,
    load_state_dict_strict,
    require_weights_file,
    select_prefix,
    state_dict_sha256,
)
from mammobench.errors import WeightsError


def plain_network() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_safetensors_file_loads(tmp_path):
    source = plain_network()
    path = tmp_path / "weights.safetensors"
    save_file(source.state_dict(), str(path))

    state_dict = load_checkpoint(path)

    assert set(state_dict) == set(source.state_dict())
    assert torch.equal(state_dict["0.weight"], source.state_dict()["0.weight"])


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model": sd, "optimizer": {"lr": 0.1}},
        lambda sd: {"model_state_dict": sd},
        lambda sd: {"module": sd},
        lambda sd: {"model": {"state_dict": sd}},
    ],
    ids=["state_dict", "model", "model_state_dict", "module", "nested"],
)
def test_containers_are_unwrapped(tmp_path, wrap):
    source = plain_network()
    path = tmp_path / "checkpoint.pt"
    torch.save(wrap(source.state_dict()), path)

    state_dict = load_checkpoint(path)

    assert set(state_dict) == set(source.state_dict())


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_wrapper_prefixes_are_stripped(tmp_path, prefix):
    source = plain_network()
    path = tmp_path / "checkpoint.pt"
    torch.save({prefix + name: tensor for name, tensor in source.state_dict().items()}, path)

    state_dict = load_checkpoint(path)

    assert set(state_dict) == set(source.state_dict())


def test_partial_prefix_is_kept(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"module.a": torch.zeros(1), "b": torch.zeros(1)}, path)

    assert set(load_checkpoint(path)) == {"module.a", "b"}


def test_strict_load_fills_network():
    source, target = plain_network(), nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))

    load_state_dict_strict(target, source.state_dict(), source="test")

    assert torch.equal(target[0].weight, source[0].weight)


def test_mismatch_reports_counts_and_keys():
    target = plain_network()
    state_dict = dict(target.state_dict())
    del state_dict["0.bias"]
    del state_dict["1.weight"]
    state_dict["head.weight"] = torch.zeros(2)

    with pytest.raises(WeightsError) as caught:
        load_state_dict_strict(target, state_dict, source="ckpt.pt")

    message = str(caught.value)
    assert "ckpt.pt" in message
    assert "2 missing keys (first: '0.bias')" in message
    assert "1 unexpected keys (first: 'head.weight')" in message


def test_shape_mismatch_names_tensor():
    target = plain_network()
    state_dict = dict(target.state_dict())
    state_dict["0.weight"] = torch.zeros(8, 3, 3, 3)

    with pytest.raises(WeightsError) as caught:
        load_state_dict_strict(target, state_dict, source="ckpt.pt")

    assert (
        "1 tensors with the wrong shape (first: '0.weight' is (8, 3, 3, 3) in the file, (4, 3, 3, 3) in the network)"
        in str(caught.value)
    )


def test_ignored_prefix_drops_head():
    target = plain_network()
    state_dict = dict(target.state_dict())
    state_dict["classifier.weight"] = torch.zeros(10, 4)

    load_state_dict_strict(target, state_dict, source="ckpt.pt", ignore_prefixes=("classifier.",))


def test_missing_batchnorm_counter_is_accepted():
    target = plain_network()
    state_dict = {
        k: v for k, v in target.state_dict().items() if not k.endswith("num_batches_tracked")
    }

    load_state_dict_strict(target, state_dict, source="old.pt")


def test_pickle_with_object_is_rejected(tmp_path):
    path = tmp_path / "checkpoint.pth"
    torch.save(
        {"state_dict": plain_network().state_dict(), "args": argparse.Namespace(lr=0.1)}, path
    )

    with pytest.raises(WeightsError) as caught:
        load_checkpoint(path)

    message = str(caught.value)
    assert "--trust-pickle" in message
    assert "argparse.Namespace" in message
    assert str(path) in message


def test_trust_flag_loads_pickle(tmp_path):
    source = plain_network()
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": source.state_dict(), "args": argparse.Namespace(lr=0.1)}, path)

    state_dict = load_checkpoint(path, trust_pickle=True)

    assert set(state_dict) == set(source.state_dict())


def test_corrupt_file_is_reported(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint" * 8)

    with pytest.raises(WeightsError, match="broken.pt"):
        load_checkpoint(path)


def test_corrupt_safetensors_is_reported(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00" * 64)

    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_checkpoint(path)


def test_missing_file_names_path(tmp_path):
    with pytest.raises(WeightsError, match="absent.safetensors' not found"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_checkpoint_without_tensors_is_rejected(tmp_path):
    path = tmp_path / "metrics.pt"
    torch.save({"epoch": 3, "best": {"auc": 0.9}}, path)

    with pytest.raises(WeightsError, match="no state dict found"):
        load_checkpoint(path)


def test_select_prefix_keeps_subtree():
    state_dict = {"image_encoder.conv.weight": torch.zeros(1), "text_encoder.x": torch.zeros(1)}

    assert set(select_prefix(state_dict, "image_encoder.")) == {"conv.weight"}
    with pytest.raises(WeightsError, match="no keys under 'vision.'"):
        select_prefix(state_dict, "vision.")


def test_require_weights_file_explains_source(tmp_path):
    with pytest.raises(WeightsError) as caught:
        require_weights_file(
            None,
            encoder="imagenet/x",
            expected="model.safetensors of 'timm/x'",
            how_to_obtain="Run this.",
        )

    assert (
        "encoder 'imagenet/x': weights not found; expected model.safetensors of 'timm/x'. Run this."
        == str(caught.value)
    )


def test_file_checksum_is_sha256(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"mammobench" * 1000)

    assert file_sha256(path) == hashlib.sha256(b"mammobench" * 1000).hexdigest()


def test_state_dict_checksum_tracks_values():
    network = plain_network()
    before = state_dict_sha256(network)
    with torch.no_grad():
        network[0].weight[0, 0, 0, 0] += 1.0

    assert state_dict_sha256(plain_network()) == before
    assert state_dict_sha256(network) != before
