"""Model cards of pretrained Mammo-CLIP folders: ``model_card.json`` and ``MODEL_CARD.md``.

The card records what the model saw (datasets, splits, whether they are synthetic), how long it
trained, its final losses, the SHA-256 of ``model.safetensors`` and the quality-check numbers.
``pretraining_datasets`` feeds the encoder's provenance, so results on those datasets are marked
as not held out.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import mammobench
from mammobench.api import WeightsError
from mammobench_mammoclip.recipe import Recipe
from mammobench_mammoclip.sources import PretrainingData
from mammobench_mammoclip.storage import CARD_JSON, CARD_MARKDOWN, MODEL_FILE

CARD_SCHEMA_VERSION = 1


def build_card(
    *,
    recipe: Recipe,
    data: PretrainingData,
    history: list[dict[str, Any]],
    steps: int,
    weights_sha256: str,
    device: str,
    world_size: int,
    seconds: float,
    quality: dict[str, Any] | None,
) -> dict[str, Any]:
    """Assemble the model card of a finished pretraining run."""
    last = history[-1] if history else {}
    text = recipe.model.text
    pretrained_text = text.resolved_pretrained_path()
    return {
        "card_schema_version": CARD_SCHEMA_VERSION,
        "name": recipe.name,
        "description": recipe.description,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mammobench_version": mammobench.__version__,
        "recipe_digest": recipe.digest(),
        "image_architecture": recipe.model.image_architecture,
        "text_model": str(pretrained_text) if pretrained_text else (
            f"BERT from scratch ({text.num_layers} layers, hidden {text.hidden_size}, WordPiece "
            f"vocabulary of at most {text.vocab_size})"
        ),
        "embed_dim": recipe.model.embed_dim,
        "profile": recipe.data.profile,
        "pretraining_datasets": data.dataset_names,
        "data": [summary.as_dict() for summary in data.summaries],
        "synthetic_data": any(summary.synthetic for summary in data.summaries),
        "train_breasts": len(data.train_records),
        "val_breasts": len(data.val_records),
        "epochs": int(last.get("epoch", 0)),
        "steps": steps,
        "batch_size": recipe.train.batch_size,
        "world_size": world_size,
        "device": device,
        "training_seconds": round(seconds, 1),
        "final_train_loss": last.get("train_loss"),
        "final_val_loss": last.get("val_loss"),
        "history": history,
        "weights_file": MODEL_FILE,
        "weights_sha256": weights_sha256,
        "quality": quality,
    }


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Write ``MODEL_CARD.md`` and then ``model_card.json`` (the marker of a finished folder)."""
    (folder / CARD_MARKDOWN).write_text(render_markdown(card), encoding="utf-8")
    temporary = folder / (CARD_JSON + ".tmp")
    temporary.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, folder / CARD_JSON)


def read_card(folder: Path) -> dict[str, Any]:
    """Return the parsed ``model_card.json`` of a trained folder.

    Raises:
        WeightsError: The card is missing or not valid JSON.
    """
    path = folder / CARD_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise WeightsError(f"model card '{path}' is unreadable: {error}") from error


def render_markdown(card: dict[str, Any]) -> str:
    """Render the card as Markdown for people."""
    lines = [
        f"# {card['name']}",
        "",
        card.get("description") or "Mammo-CLIP pretrained with mammobench.",
        "",
        "## Model",
        "",
        f"- Image tower: `{card['image_architecture']}`",
        f"- Text tower: {card['text_model']}",
        f"- Joint embedding size: {card['embed_dim']}",
        f"- Resolution profile: `{card['profile']}`",
        f"- Weights: `{card['weights_file']}`, SHA-256 `{card['weights_sha256']}`",
        "",
        "## Data",
        "",
        f"Datasets seen in pretraining: {', '.join(card['pretraining_datasets']) or 'none'}"
        + (" (synthetic data)" if card.get("synthetic_data") else ""),
        "",
        "| dataset | synthetic | training breasts | validation breasts | reports CSV |",
        "|---|---|---|---|---|",
    ]
    for source in card["data"]:
        lines.append(
            f"| {source['dataset']} | {'yes' if source['synthetic'] else 'no'} | {source['train_breasts']} "
            f"| {source['val_breasts']} | {source['reports_csv'] or '-'} |"
        )
    lines += [
        "",
        "## Training",
        "",
        f"- Epochs: {card['epochs']}, steps: {card['steps']}, batch size: {card['batch_size']} "
        f"per process, processes: {card['world_size']}, device: {card['device']}",
        f"- Time: {card['training_seconds']} s",
        f"- Final training loss: {_number(card['final_train_loss'])}",
        f"- Final validation loss: {_number(card['final_val_loss'])}",
        "",
    ]
    lines += _quality_markdown(card.get("quality"))
    return "\n".join(lines).rstrip() + "\n"


def _quality_markdown(quality: dict[str, Any] | None) -> list[str]:
    if not quality:
        return []
    lines = [
        "## Quality check",
        "",
        f"Dataset `{quality['dataset']}`" + (" (synthetic)" if quality.get("synthetic") else "")
        + f", test split. Linear probe on {quality['label_fraction']:.0%} of the training labels "
        f"(mean over subset seeds {quality['subset_seeds']}):",
        "",
        "| label | Mammo-CLIP AUC | random init AUC | training images | test images | passed |",
        "|---|---|---|---|---|---|",
    ]
    for label, entry in quality["linear_probe"].items():
        lines.append(
            f"| {label} | {entry['mammoclip_auc']:.3f} | {entry['random_init_auc']:.3f} | "
            f"{entry['n_train_images']} | {entry['n_test_images']} | {'yes' if entry['passed'] else 'no'} |"
        )
    lines += ["", "| zero-shot label | AUC | passed |", "|---|---|---|"]
    for label, entry in quality["zero_shot"].items():
        lines.append(f"| {label} | {entry['auc']:.3f} | {'yes' if entry['passed'] else 'no'} |")
    lines.append("")
    return lines


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def synthetic_only_datasets(card: dict[str, Any]) -> list[str]:
    """Return the pretraining datasets that every source of the card read as a synthetic copy."""
    sources = card.get("data", [])
    names = {source["dataset"] for source in sources}
    real = {source["dataset"] for source in sources if not source.get("synthetic")}
    return sorted(names - real)
