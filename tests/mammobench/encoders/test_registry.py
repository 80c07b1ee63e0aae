from __future__ import annotations

import pytest
import torch

from mammobench.encoders.registry import build_encoder, check_compatible, resolve_device
from mammobench.errors import ConfigError, MammobenchError, UnknownNameError
from mammobench.specs import Capability


def test_build_returns_encoder_in_eval_mode(tiny_host):
    encoder = build_encoder("tiny/ok")

    assert encoder.name == "tiny/ok"
    assert not encoder.training
    assert encoder.capabilities == {Capability.GLOBAL, Capability.DENSE}


def test_factory_must_return_encoder(tiny_host):
    with pytest.raises(MammobenchError, match="returned object, not an Encoder"):
        build_encoder("tiny/broken")


def test_unknown_name_suggests_close_one(tiny_host):
    with pytest.raises(UnknownNameError, match="did you mean 'tiny/ok'"):
        build_encoder("tiny/okk")


def test_compatible_pair_gives_none(tiny_host):
    assert check_compatible(build_encoder("tiny/ok"), ["global", "dense"]) is None


def test_missing_capability_is_reported(tiny_host):
    reason = check_compatible(build_encoder("tiny/constant"), [Capability.DENSE])

    assert reason == "encoder 'tiny/constant' lacks capability dense (it has: global)"


def test_spec_capabilities_are_checked(tiny_host):
    spec, _ = tiny_host.encoder("tiny/constant")

    assert (
        check_compatible(spec, ["text"])
        == "encoder 'tiny/constant' lacks capability text (it has: global)"
    )


def test_unknown_capability_is_rejected(tiny_host):
    with pytest.raises(ValueError):
        check_compatible(build_encoder("tiny/ok"), ["colour"])


def test_auto_device_resolves():
    assert resolve_device("auto") in ("cuda", "mps", "cpu")


def test_invalid_device_is_rejected():
    with pytest.raises(ConfigError, match="device 'gpu0' is invalid"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_missing_cuda_is_reported():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
