"""One text embedding per attribute: the normalised mean over the attribute's sentence family.

The sentences are the fixed families the report writer draws from
(:func:`mammobench.text.reports.finding_sentences`), so an encoder pretrained on mammobench's
synthesized reports has seen this wording. A task may replace the family of an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from mammobench.encoders.base import Encoder
from mammobench.errors import ConfigError
from mammobench.specs import Capability
from mammobench.text.reports import REPORT_CATEGORIES, finding_sentences


def attribute_sentences(
    attribute: str, overrides: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Return the sentences that describe ``attribute`` as present.

    Args:
        attribute: A finding name from :data:`mammobench.vocab.FINDINGS`, or any name that
            ``overrides`` lists.
        overrides: Sentences per attribute that replace the built-in family.

    Raises:
        ConfigError: The attribute has no built-in family and no override, or its override is
            empty.
    """
    if overrides and attribute in overrides:
        sentences = [str(sentence) for sentence in overrides[attribute]]
        if not sentences:
            raise ConfigError(f"attribute '{attribute}' has an empty sentence list; give at least one sentence")
        return sentences
    if attribute not in REPORT_CATEGORIES:
        raise ConfigError(
            f"attribute '{attribute}' has no built-in sentence family; use one of "
            f"{', '.join(REPORT_CATEGORIES)} or give the task sentences for it"
        )
    return finding_sentences(attribute)


def attribute_embeddings(
    encoder: Encoder,
    attributes: Sequence[str],
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> torch.Tensor:
    """Embed every attribute as the L2-normalised mean of its sentences' text embeddings.

    Args:
        encoder: An encoder with the ``text`` capability.
        attributes: Attribute names, in the order of the returned rows.
        overrides: Sentences per attribute that replace the built-in family.

    Returns:
        Float32 tensor ``(len(attributes), D)`` on the CPU, one unit vector per attribute.
    """
    encoder.require(Capability.TEXT)
    vectors = []
    with torch.inference_mode():
        for attribute in attributes:
            embedded = encoder.encode_text(attribute_sentences(attribute, overrides)).float().cpu()
            mean = embedded.mean(dim=0)
            vectors.append(mean / mean.norm().clamp_min(1e-12))
    return torch.stack(vectors).clone()
