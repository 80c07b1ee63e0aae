"""The Mammo-CLIP loss: term weights, symmetry and descent on a tiny batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mammobench_mammoclip.encoder import contract_for
from mammobench_mammoclip.loss import MammoClipLoss
from mammobench_mammoclip.recipe import TextConfig
from mammobench_mammoclip.model import ImageTower, MammoClipModel
from mammobench_mammoclip.text import build_text_tower, tokenize

TEXTS = ["A spiculated mass is seen.", "No mass is seen.", "Suspicious calcifications are seen.", "Normal."]


def _embeddings(batch: int = 6, dim: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    names = ("image", "view", "text", "text2")
    return {name: F.normalize(torch.randn(batch, dim, generator=generator), dim=1) for name in names}


def test_loss_weights_combine_terms():
    embeddings = _embeddings()
    loss = MammoClipLoss(image_image_weight=1.0, text_text_weight=0.5)

    terms = loss(**embeddings, logit_scale=torch.tensor(1 / 0.07))

    expected = terms["image_text"] + 1.0 * terms["image_image"] + 0.5 * terms["text_text"]
    assert torch.allclose(terms["total"], expected)


def test_loss_zero_weights_leave_image_text():
    embeddings = _embeddings()

    terms = MammoClipLoss(image_image_weight=0.0, text_text_weight=0.0)(**embeddings, logit_scale=torch.tensor(10.0))

    assert torch.allclose(terms["total"], terms["image_text"])


def test_loss_low_for_aligned_pairs():
    aligned = F.normalize(torch.eye(6), dim=1)
    embeddings = {"image": aligned, "view": aligned, "text": aligned, "text2": aligned}

    aligned_total = MammoClipLoss()(**embeddings, logit_scale=torch.tensor(50.0))["total"]
    random_total = MammoClipLoss()(**_embeddings(dim=6), logit_scale=torch.tensor(50.0))["total"]

    assert aligned_total < 1e-3
    assert random_total > 1.0


def test_loss_symmetric_in_views():
    embeddings = _embeddings()
    swapped = dict(embeddings, image=embeddings["view"], view=embeddings["image"])
    loss = MammoClipLoss()

    assert torch.allclose(loss(**embeddings, logit_scale=torch.tensor(5.0))["total"],
                          loss(**swapped, logit_scale=torch.tensor(5.0))["total"])


def test_loss_decreases_on_tiny_batch():
    torch.manual_seed(0)
    text_config = TextConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=80)
    text, tokenizer = build_text_tower(text_config, TEXTS * 5)
    model = MammoClipModel(ImageTower("test_efficientnet"), text, embed_dim=32)
    contract = contract_for(3, 0.3, 0.25)
    images = torch.rand(4, 1, 64, 64)
    views = (images + 0.05 * torch.rand(4, 1, 64, 64)).clamp(0, 1)
    tokens = tokenize(tokenizer, TEXTS + TEXTS, max_length=32)
    loss = MammoClipLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    totals = []
    for _ in range(6):
        outputs = model(contract.prepare(images), contract.prepare(views), tokens["input_ids"], tokens["attention_mask"])
        total = loss(**outputs)["total"]
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(float(total.detach()))

    assert all(torch.isfinite(torch.tensor(totals)))
    assert totals[-1] < totals[0]
