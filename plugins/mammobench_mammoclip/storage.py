"""Trained output folders: what ``mammobench pretrain`` writes and how a model is rebuilt from it.

A finished folder contains::

    model.safetensors      every parameter of the Mammo-CLIP model
    recipe.toml            the resolved recipe the model was trained with
    tokenizer/             the text tokenizer (transformers format)
    text_config.json       the text model's transformers configuration
    model_card.json        data, steps, losses, checksum, quality numbers
    MODEL_CARD.md          the same for people

While training, ``checkpoint/`` contains the last epoch's weights and training state for
``--resume``; it is removed when training finishes. ``model_card.json`` is written last, so a
folder without it is unfinished.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mammobench.api import WeightsError, file_sha256, load_checkpoint, load_state_dict_strict
from mammobench_mammoclip.model import ImageTower, MammoClipModel
from mammobench_mammoclip.recipe import Recipe, parse_recipe
from mammobench_mammoclip.text import build_text_tower, load_text_side, save_text_side

MODEL_FILE = "model.safetensors"
RECIPE_FILE = "recipe.toml"
CARD_JSON = "model_card.json"
CARD_MARKDOWN = "MODEL_CARD.md"
CHECKPOINT_DIR = "checkpoint"
TRAINING_STATE_FILE = "training_state.pt"


@dataclass
class TrainedModel:
    """A model rebuilt from a trained folder, with everything needed to use it."""

    model: MammoClipModel
    tokenizer: Any
    recipe: Recipe
    card: dict[str, Any]
    folder: Path
    weights_sha256: str
    extra: dict[str, Any] = field(default_factory=dict)


def build_model(recipe: Recipe, corpus: Iterable[str] | None) -> tuple[MammoClipModel, Any]:
    """Build a freshly initialised model and its tokenizer from a recipe.

    Args:
        recipe: The recipe.
        corpus: Texts to learn a WordPiece vocabulary from when the text tower is trained from
            scratch; ignored with a pretrained text model.
    """
    image = ImageTower(recipe.model.image_architecture, in_chans=recipe.model.in_chans)
    if recipe.model.image_weights:
        weights_path = Path(recipe.model.image_weights).expanduser()
        state = load_checkpoint(weights_path)
        load_state_dict_strict(
            image.net, state, source=str(weights_path), ignore_prefixes=("classifier.", "fc.", "head.")
        )
    text, tokenizer = build_text_tower(recipe.model.text, corpus)
    model = MammoClipModel(image, text, embed_dim=recipe.model.embed_dim, temperature=recipe.model.temperature)
    return model, tokenizer


def rebuild_model(recipe: Recipe, folder: Path) -> tuple[MammoClipModel, Any]:
    """Build the architecture described by a trained folder, with random weights."""
    image = ImageTower(recipe.model.image_architecture, in_chans=recipe.model.in_chans)
    text, tokenizer = load_text_side(folder, recipe.model.text.pooling)
    model = MammoClipModel(image, text, embed_dim=recipe.model.embed_dim, temperature=recipe.model.temperature)
    return model, tokenizer


def load_trained(folder: Path) -> TrainedModel:
    """Rebuild the model stored in a finished trained folder and load its weights strictly.

    Raises:
        WeightsError: The folder is missing, unfinished or does not match its recipe.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"trained Mammo-CLIP folder '{folder}' not found")
    card_path = folder / CARD_JSON
    if not card_path.is_file():
        hint = (
            "pretraining did not finish; continue it with 'mammobench pretrain RECIPE --resume "
            f"--out {folder}'"
            if (folder / CHECKPOINT_DIR).is_dir()
            else "it was not written by 'mammobench pretrain'"
        )
        raise WeightsError(f"trained Mammo-CLIP folder '{folder}' has no {CARD_JSON}: {hint}")

    recipe = parse_recipe((folder / RECIPE_FILE).read_text(encoding="utf-8"), source=str(folder / RECIPE_FILE))
    model, tokenizer = rebuild_model(recipe, folder)
    weights_path = folder / MODEL_FILE
    load_weights(model, weights_path)
    card = json.loads(card_path.read_text(encoding="utf-8"))
    return TrainedModel(
        model=model,
        tokenizer=tokenizer,
        recipe=recipe,
        card=card,
        folder=folder,
        weights_sha256=file_sha256(weights_path),
    )


def save_weights(model: nn.Module, path: Path) -> None:
    """Write every parameter and buffer of ``model`` to a safetensors file, atomically."""
    from safetensors.torch import save_file

    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    temporary = path.with_name(path.name + ".tmp")
    save_file(tensors, str(temporary))
    os.replace(temporary, path)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a safetensors file written by :func:`save_weights`, requiring every key to match."""
    load_state_dict_strict(model, load_checkpoint(path), source=str(path))


def write_recipe_and_text(folder: Path, recipe: Recipe, model: MammoClipModel, tokenizer: Any) -> None:
    """Write the resolved recipe, tokenizer and text configuration into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_text_atomic(folder / RECIPE_FILE, recipe.to_toml())
    if model.text is not None:
        save_text_side(folder, model.text, tokenizer)


def save_checkpoint(folder: Path, model: nn.Module, state: dict[str, Any]) -> None:
    """Write the weights and training state of the last finished epoch to ``folder/checkpoint``.

    Args:
        folder: The output folder.
        model: The (unwrapped) model.
        state: Optimizer, scheduler and scaler state dicts, step, epoch, RNG states and history.
            Only tensors, numbers, strings and containers, so it loads with ``weights_only=True``.
    """
    checkpoint = folder / CHECKPOINT_DIR
    checkpoint.mkdir(parents=True, exist_ok=True)
    save_weights(model, checkpoint / MODEL_FILE)
    temporary = checkpoint / (TRAINING_STATE_FILE + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, checkpoint / TRAINING_STATE_FILE)


def load_checkpoint_state(folder: Path, model: nn.Module) -> dict[str, Any] | None:
    """Load the last checkpoint's weights into ``model`` and return its training state.

    Returns:
        The training state, or None when ``folder`` has no checkpoint.
    """
    checkpoint = folder / CHECKPOINT_DIR
    state_path = checkpoint / TRAINING_STATE_FILE
    if not state_path.is_file():
        return None
    load_weights(model, checkpoint / MODEL_FILE)
    return torch.load(state_path, map_location="cpu", weights_only=True)


def save_final_weights(folder: Path, model: nn.Module) -> str:
    """Write the final ``model.safetensors`` and return its SHA-256."""
    save_weights(model, folder / MODEL_FILE)
    return file_sha256(folder / MODEL_FILE)


def remove_checkpoint(folder: Path) -> None:
    """Delete ``checkpoint/`` once the model card marks the folder as finished."""
    shutil.rmtree(folder / CHECKPOINT_DIR, ignore_errors=True)


def _write_text_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
