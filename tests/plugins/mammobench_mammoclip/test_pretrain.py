"""End-to-end pretraining on a tiny image-report dataset: command, output folder, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mammobench.api import ConfigError
from mammobench.cli.app import main
from mammobench.encoders.registry import build_encoder
from mammobench_mammoclip.progress import LogProgress
from mammobench_mammoclip.recipe import Recipe
from mammobench_mammoclip.storage import CHECKPOINT_DIR, TRAINING_STATE_FILE, load_trained
from mammobench_mammoclip.train import pretrain

from .conftest import tiny_recipe_text

STEPS_PER_EPOCH = 2  # 8 training breasts, batch size 4


class _Interrupt(Exception):
    pass


class _StopAtStep(LogProgress):
    """Progress that raises once training reaches ``stop_step``, like a killed job."""

    def __init__(self, stop_step: int) -> None:
        super().__init__()
        self.stop_step = stop_step
        self.started_at: int | None = None

    def start(self, total_steps: int, completed: int, description: str) -> None:
        self.started_at = completed
        super().start(total_steps, completed, description)

    def advance(self, step: int, loss: float, learning_rate: float) -> None:
        if step == self.stop_step:
            raise _Interrupt
        super().advance(step, loss, learning_rate)


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Run this module's training on one thread.

    With several threads, CPU kernels may sum in a different order from run to run, and Adam
    turns such rounding differences into visible weight differences. On one thread an
    interrupted-and-resumed run can be compared bit for bit with an uninterrupted one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pretrained(single_thread, reports_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder written by 'mammobench pretrain' on the tiny recipe, through the CLI."""
    folder = tmp_path_factory.mktemp("pretrained") / "model"
    recipe_path = folder.parent / "tiny.toml"
    recipe_path.write_text(tiny_recipe_text(reports_csv), encoding="utf-8")

    status = main(["pretrain", str(recipe_path), "--out", str(folder)])

    assert status == 0
    return folder


def test_pretrain_writes_output_folder(pretrained):
    names = {path.name for path in pretrained.iterdir()}

    assert {"model.safetensors", "recipe.toml", "tokenizer", "text_config.json"} <= names
    assert {"MODEL_CARD.md", "model_card.json"} <= names
    assert CHECKPOINT_DIR not in names


def test_pretrain_model_card(pretrained):
    card = json.loads((pretrained / "model_card.json").read_text(encoding="utf-8"))

    assert card["steps"] == 2 * STEPS_PER_EPOCH
    assert card["epochs"] == 2
    assert card["pretraining_datasets"] == ["tiny-reports"]
    assert card["train_breasts"] == 8
    assert card["val_breasts"] == 2
    assert card["final_train_loss"] > 0
    assert card["final_val_loss"] > 0
    assert len(card["weights_sha256"]) == 64
    assert "tiny-reports" in (pretrained / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_trained_folder_as_encoder(pretrained):
    encoder = build_encoder("mammoclip", weights=pretrained)
    images = torch.rand(2, 1, 256, 160)

    with torch.no_grad():
        features = encoder.encode_image(encoder.prepare(images))
        joint = encoder.project_image(features)
        texts = encoder.encode_text(["mass", "no mass", "A spiculated mass is seen."])
        maps = encoder.forward_features(encoder.prepare(images))

    assert {c.value for c in encoder.capabilities} == {"global", "dense", "text"}
    assert features.shape == (2, encoder.embed_dim)
    assert joint.shape == (2, 512)
    assert texts.shape == (3, 512)
    assert torch.allclose(texts.norm(dim=1), torch.ones(3), atol=1e-5)
    assert [tuple(m.shape[-2:]) for m in maps] == [(64, 40), (32, 20), (16, 10), (8, 5)]
    assert encoder.info.pretraining_datasets == ["tiny-reports"]
    assert encoder.info.revision.startswith("sha256:")


def test_pretrain_rejects_finished_folder(pretrained, tiny_recipe: Recipe):
    with pytest.raises(ConfigError, match="already contains a pretrained model"):
        pretrain(tiny_recipe, out_dir=pretrained)


def test_resume_continues_from_saved_step(pretrained, tiny_recipe: Recipe, tmp_path):
    folder = tmp_path / "interrupted"
    with pytest.raises(_Interrupt):
        pretrain(tiny_recipe, out_dir=folder, progress=_StopAtStep(STEPS_PER_EPOCH + 2))
    state = torch.load(folder / CHECKPOINT_DIR / TRAINING_STATE_FILE, weights_only=True)
    assert state["step"] == STEPS_PER_EPOCH
    assert state["epoch"] == 1

    with pytest.raises(ConfigError, match="--resume"):
        pretrain(tiny_recipe, out_dir=folder)

    progress = _StopAtStep(stop_step=-1)
    result = pretrain(tiny_recipe, out_dir=folder, resume=True, progress=progress)

    assert progress.started_at == STEPS_PER_EPOCH
    assert result.steps == 2 * STEPS_PER_EPOCH
    resumed = load_trained(folder).model.state_dict()
    uninterrupted = load_trained(pretrained).model.state_dict()
    for name, tensor in uninterrupted.items():
        assert torch.equal(resumed[name], tensor), name


def test_resume_rejects_changed_recipe(reports_csv, tiny_recipe: Recipe, tmp_path):
    folder = tmp_path / "changed"
    with pytest.raises(_Interrupt):
        pretrain(tiny_recipe, out_dir=folder, progress=_StopAtStep(STEPS_PER_EPOCH + 1))
    changed = tiny_recipe.model_copy(update={"loss": tiny_recipe.loss.model_copy(update={"text_text_weight": 0.1})})

    with pytest.raises(ConfigError, match="different recipe"):
        pretrain(changed, out_dir=folder, resume=True)
