"""The post-pretraining quality check: does pretraining help, and does zero-shot work?

The checks run on the quality dataset, by default the VinDr layout the demo trained on.
Pretraining saw only its train split, and the test split is used here for scoring.

- Linear probe: frozen pooled image features, standardised, logistic regression trained on a
  patient-level label fraction of the train split (10 % by default, stratified, as the harness
  samples it), the inverse regularisation strength C picked by validation AUC, scored by test
  AUC. The same is done with the same architecture at random initialisation, for the same
  subsets. The check passes for a label when the pretrained mean AUC over the seeds is higher.
- Zero-shot: cosine similarity of projected image embeddings to the averaged text embeddings of
  each class's prompts, softmax over classes with the learnt logit scale, scored by test AUC;
  passes above 0.5.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from mammobench.api import ImageDataset, Manifest, collate_images, load_dataset, sample_label_fraction
from mammobench_mammoclip.encoder import contract_for
from mammobench_mammoclip.model import ImageTower, MammoClipModel
from mammobench_mammoclip.progress import Progress
from mammobench_mammoclip.prompts import default_prompts
from mammobench_mammoclip.recipe import Recipe
from mammobench_mammoclip.sources import with_validation
from mammobench_mammoclip.text import tokenize

logger = logging.getLogger(__name__)

# Inverse regularisation strengths tried for the logistic regression, chosen on validation AUC.
C_GRID = (0.01, 0.1, 1.0, 10.0)

# Seeds of the label-fraction subsets: quality_seed, quality_seed + 1, ...
SUBSET_SEEDS = 3

_EMBED_BATCH = 32


def evaluate_quality(
    model: MammoClipModel,
    tokenizer: Any,
    recipe: Recipe,
    data_root: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the linear-probe and zero-shot checks of ``recipe.quality`` and return their numbers.

    Args:
        model: The pretrained model (its image tower is used frozen).
        tokenizer: Its tokenizer, for zero-shot prompts.
        recipe: The recipe; its ``quality`` section names the dataset, labels and fraction.
        data_root: The ``--data-root`` of the pretraining run, used when the quality dataset is
            the recipe's only source.
        progress: Where to print the results as they are computed.

    Returns:
        ``{"dataset", "synthetic", "label_fraction", "linear_probe": {label: ...},
        "zero_shot": {label: ...}, "passed"}``.
    """
    config = recipe.quality
    # The same validation patients as in pretraining; the probe picks its regularisation there.
    manifest = with_validation(
        load_dataset(config.dataset, data_root=_quality_root(recipe, data_root)),
        recipe.data.validation_fraction,
        recipe.train.seed,
    )
    device = model.logit_scale.device
    contract = contract_for(recipe.model.in_chans, recipe.model.image_mean, recipe.model.image_std)
    images = ImageDataset(manifest, recipe.data.profile)

    model.eval()
    pretrained_features = embed_images(model.image, images, contract, device)
    torch.manual_seed(config.seed)
    random_tower = ImageTower(recipe.model.image_architecture, in_chans=recipe.model.in_chans).to(device).eval()
    random_features = embed_images(random_tower, images, contract, device)

    probes: dict[str, Any] = {}
    for label in config.labels:
        pretrained = linear_probe(pretrained_features, manifest, label, config.label_fraction, config.seed)
        baseline = linear_probe(random_features, manifest, label, config.label_fraction, config.seed)
        probes[label] = {
            "mammoclip_auc": pretrained["auc"],
            "random_init_auc": baseline["auc"],
            "per_seed_mammoclip_auc": pretrained["per_seed"],
            "per_seed_random_init_auc": baseline["per_seed"],
            "n_train_images": pretrained["n_train_images"],
            "n_test_images": pretrained["n_test_images"],
            "passed": bool(pretrained["auc"] > baseline["auc"]),
        }
        _report(progress, f"linear probe {label} @ {config.label_fraction:.0%}: Mammo-CLIP AUC "
                f"{pretrained['auc']:.3f} vs random init {baseline['auc']:.3f}")

    zero_shot: dict[str, Any] = {}
    with torch.no_grad():
        projected = model.project_image(torch.from_numpy(pretrained_features).to(device)).cpu()
    for label in config.zero_shot_labels:
        auc = zero_shot_auc(model, tokenizer, recipe.model.text.max_length, projected, manifest, label)
        zero_shot[label] = {"auc": auc, "passed": bool(auc > 0.5)}
        _report(progress, f"zero-shot {label}: AUC {auc:.3f}")

    passed = all(entry["passed"] for entry in probes.values()) and all(
        entry["passed"] for entry in zero_shot.values()
    )
    return {
        "dataset": config.dataset,
        "synthetic": bool(manifest.synthetic),
        "profile": recipe.data.profile,
        "label_fraction": config.label_fraction,
        "subset_seeds": [config.seed + offset for offset in range(SUBSET_SEEDS)],
        "linear_probe": probes,
        "zero_shot": zero_shot,
        "passed": passed,
    }


def embed_images(tower: torch.nn.Module, images: ImageDataset, contract: Any, device: torch.device) -> np.ndarray:
    """Return pooled features ``(N, D)`` of every image, in manifest order; failed images are NaN rows."""
    loader = DataLoader(images, batch_size=_EMBED_BATCH, shuffle=False, collate_fn=collate_images)
    chunks: list[np.ndarray] = []
    with torch.no_grad():
        for batch in loader:
            features = tower(contract.prepare(batch["image"].to(device))).float().cpu().numpy()
            for row, error in enumerate(batch["error"]):
                if error is not None:
                    features[row] = np.nan
            chunks.append(features)
    return np.concatenate(chunks)


def linear_probe(
    features: np.ndarray, manifest: Manifest, label: str, fraction: float, seed: int
) -> dict[str, Any]:
    """Train logistic regression on a label fraction of the train split and return mean test AUC.

    Returns:
        ``{"auc": mean over seeds, "per_seed": [...], "n_train_images", "n_test_images"}``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    table = manifest.images.reset_index(drop=True)
    labels = table[label].to_numpy(dtype=float)
    usable = np.isfinite(labels) & np.isfinite(features).all(axis=1)
    validation = usable & (table["split"] == "val").to_numpy()
    test = usable & (table["split"] == "test").to_numpy()

    aucs: list[float] = []
    n_train = 0
    for offset in range(SUBSET_SEEDS):
        subset = sample_label_fraction(manifest, fraction, seed + offset, [label])
        train = usable & table["image_id"].astype(str).isin(set(subset.image_ids)).to_numpy()
        n_train = int(train.sum())

        best_auc, best_model = -1.0, None
        for strength in C_GRID:
            probe = make_pipeline(
                StandardScaler(), LogisticRegression(C=strength, max_iter=2000, class_weight="balanced")
            )
            probe.fit(features[train], labels[train])
            if validation.any() and len(np.unique(labels[validation])) == 2:
                score = roc_auc_score(labels[validation], probe.predict_proba(features[validation])[:, 1])
            else:
                score = 0.0
            if score > best_auc:
                best_auc, best_model = score, probe
        assert best_model is not None
        aucs.append(float(roc_auc_score(labels[test], best_model.predict_proba(features[test])[:, 1])))
    return {"auc": float(np.mean(aucs)), "per_seed": aucs, "n_train_images": n_train, "n_test_images": int(test.sum())}


def zero_shot_auc(
    model: MammoClipModel,
    tokenizer: Any,
    max_length: int,
    image_embeddings: torch.Tensor,
    manifest: Manifest,
    label: str,
) -> float:
    """Return the test AUC of zero-shot scores for the positive class ``"1"`` of ``label``."""
    from sklearn.metrics import roc_auc_score

    prompts = default_prompts()[label]
    device = model.logit_scale.device
    class_embeddings = []
    with torch.no_grad():
        for class_value in ("0", "1"):
            tokens = tokenize(tokenizer, prompts[class_value], max_length)
            embedded = model.embed_texts(tokens["input_ids"].to(device), tokens["attention_mask"].to(device))
            class_embeddings.append(torch.nn.functional.normalize(embedded.mean(dim=0), dim=0).cpu())
        logits = float(model.scale()) * image_embeddings @ torch.stack(class_embeddings).T
        scores = logits.softmax(dim=1)[:, 1].numpy()

    table = manifest.images.reset_index(drop=True)
    labels = table[label].to_numpy(dtype=float)
    test = np.isfinite(labels) & np.isfinite(scores) & (table["split"] == "test").to_numpy()
    return float(roc_auc_score(labels[test], scores[test]))


def _quality_root(recipe: Recipe, data_root: Path | None) -> Path | None:
    for source in recipe.data.sources:
        if source.dataset == recipe.quality.dataset:
            if source.root:
                return Path(source.root).expanduser()
            if len(recipe.data.sources) == 1:
                return data_root
    return None


def _report(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress.message(text)
    else:
        logger.info("%s", text)
