"""Zero-shot prompts for Mammo-CLIP: texts describing each class of each classification label.

Prompts are keyed by label column (``mass``, ``calcification``, ``cancer``, ``density``,
``abnormal``, ``malignant``) and then by class value as a string: ``"0"`` and ``"1"`` for binary
labels, ``"A"``-``"D"`` for density. Each class has several prompts; a zero-shot classifier
averages their text embeddings (prompt ensembling, as in CLIP).

The first prompt of each binary class is the one the Mammo-CLIP reference evaluates with
(``configs/zs_clip.yaml``: "no mass" / "mass", "no suspicious calcification" / "suspicious
calcification", "no malignancy" / "malignancy"). The sentence families of the report writer
follow, because the demo model learnt from reports phrased that way.

Users override prompts with a TOML file of the same shape, e.g.::

    [mass]
    "0" = ["no mass"]
    "1" = ["mass", "a spiculated mass"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mammobench.api import ConfigError, density_sentences, finding_sentences, negative_sentences, vocab

Prompts = dict[str, dict[str, list[str]]]


def default_prompts() -> Prompts:
    """Return the built-in prompts: label column -> class value -> prompt texts."""
    return {
        vocab.MASS: {
            "0": ["no mass", *negative_sentences(vocab.MASS)],
            "1": ["mass", *finding_sentences(vocab.MASS)],
        },
        vocab.CALCIFICATION: {
            "0": ["no suspicious calcification", *negative_sentences(vocab.CALCIFICATION)],
            "1": ["suspicious calcification", *finding_sentences(vocab.CALCIFICATION)],
        },
        vocab.CANCER: {
            "0": ["no malignancy", *negative_sentences(vocab.CANCER)],
            "1": ["malignancy", *finding_sentences(vocab.CANCER)],
        },
        vocab.MALIGNANT: {
            "0": ["benign finding", "The finding is benign.", *negative_sentences(vocab.CANCER)],
            "1": ["malignant finding", "The finding is malignant.", *finding_sentences(vocab.CANCER)],
        },
        vocab.ABNORMAL: {
            "0": [
                "normal mammogram",
                "No abnormality is identified.",
                "The mammogram is negative.",
                "No suspicious findings.",
            ],
            "1": [
                "abnormal mammogram",
                "An abnormality is identified.",
                "There is a suspicious finding.",
                "Further evaluation is recommended.",
            ],
        },
        "density": {density: density_sentences(density) for density in vocab.DENSITIES},
    }


def load_prompts(path: Path | str) -> Prompts:
    """Read prompts from a TOML file shaped like :func:`default_prompts`.

    Raises:
        ConfigError: The file is missing, not TOML, or a class has no prompt texts.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"prompt file '{path}' not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"prompt file '{path}' is not valid TOML: {error}") from error
    return validate_prompts(raw, source=str(path))


def merged_prompts(overrides: Prompts | None = None) -> Prompts:
    """Return the defaults with every label present in ``overrides`` replaced by the override."""
    prompts = default_prompts()
    if overrides:
        prompts.update(validate_prompts(overrides, source="prompt overrides"))
    return prompts


def validate_prompts(raw: object, *, source: str) -> Prompts:
    """Check that ``raw`` maps labels to classes to non-empty lists of strings.

    Raises:
        ConfigError: Naming the first label or class that is malformed.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a table of labels, found {type(raw).__name__}")
    prompts: Prompts = {}
    for label, classes in raw.items():
        if not isinstance(classes, dict) or len(classes) < 2:
            raise ConfigError(f"{source}: label '{label}' needs a table with at least two classes")
        prompts[str(label)] = {}
        for class_value, texts in classes.items():
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
                raise ConfigError(
                    f"{source}: label '{label}', class '{class_value}' needs a non-empty list of prompt texts"
                )
            prompts[str(label)][str(class_value)] = list(texts)
    return prompts
