"""Trained folders: weights and training state round-trip exactly."""

from __future__ import annotations

import torch

from mammobench.api import file_sha256
from mammobench_mammoclip.loss import MammoClipLoss
from mammobench_mammoclip.model import ImageTower, MammoClipModel
from mammobench_mammoclip.recipe import TextConfig
from mammobench_mammoclip.storage import (
    CHECKPOINT_DIR,
    MODEL_FILE,
    load_checkpoint_state,
    save_checkpoint,
    save_weights,
)
from mammobench_mammoclip.text import build_text_tower, tokenize

TEXTS = ["A mass is seen.", "No mass is seen.", "Calcifications.", "Normal breast."]


def _model(seed: int) -> tuple[MammoClipModel, object]:
    torch.manual_seed(seed)
    text, tokenizer = build_text_tower(
        TextConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=60), TEXTS * 3
    )
    return MammoClipModel(ImageTower("test_efficientnet"), text, embed_dim=16), tokenizer


def test_checkpoint_round_trip_bit_exact(tmp_path):
    model, tokenizer = _model(seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = tokenize(tokenizer, TEXTS + TEXTS, max_length=16)
    images = torch.rand(4, 3, 64, 64)
    outputs = model(images, images.flip(-1), tokens["input_ids"], tokens["attention_mask"])
    MammoClipLoss()(**outputs)["total"].backward()
    optimizer.step()
    state = {"epoch": 1, "step": 1, "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()}

    save_checkpoint(tmp_path, model, state)
    restored, _ = _model(seed=1)
    loaded = load_checkpoint_state(tmp_path, restored)

    for name, tensor in model.state_dict().items():
        assert torch.equal(restored.state_dict()[name], tensor), name
    assert loaded["step"] == 1
    moments = loaded["optimizer"]["state"][0]["exp_avg"]
    assert torch.equal(moments, optimizer.state_dict()["state"][0]["exp_avg"])

    save_weights(restored, tmp_path / MODEL_FILE)
    assert file_sha256(tmp_path / MODEL_FILE) == file_sha256(tmp_path / CHECKPOINT_DIR / MODEL_FILE)


def test_checkpoint_absent_returns_none(tmp_path):
    model, _ = _model(seed=0)

    assert load_checkpoint_state(tmp_path, model) is None
