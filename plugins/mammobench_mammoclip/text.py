"""Text towers and tokenizers: a local pretrained BERT-style model, or a small BERT from scratch.

Nothing is downloaded: pretrained models load with ``local_files_only=True`` from a folder the
user names (Mammo-CLIP uses Bio_ClinicalBERT). Without one, a WordPiece vocabulary is learnt from
the pretraining corpus with the ``tokenizers`` library and a small ``BertModel`` is trained from
scratch, which is enough for the templated reports of the synthetic datasets.

A trained output folder stores the tokenizer (``tokenizer/``) and the text model's configuration
(``text_config.json``), so the text tower is rebuilt from that folder alone.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mammobench.api import ConfigError, WeightsError
from mammobench_mammoclip.model import TextTower
from mammobench_mammoclip.recipe import TextConfig

logger = logging.getLogger(__name__)

TOKENIZER_DIR = "tokenizer"
TEXT_CONFIG_FILE = "text_config.json"

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece_tokenizer(corpus: Iterable[str], vocab_size: int) -> Any:
    """Build a lower-cased WordPiece vocabulary from ``corpus`` and wrap it as a transformers tokenizer.

    The vocabulary holds the special tokens, every character of the corpus (as a word start and
    as a ``##`` continuation, so no word becomes ``[UNK]``) and then the most frequent whole
    words, ties broken alphabetically, up to ``vocab_size`` entries. The same corpus always gives
    the same vocabulary and token ids. The ``tokenizers`` WordPiece trainer is not used because
    it breaks ties between equally frequent merges in hash-map order, so its vocabulary changed
    from run to run (tokenizers 0.23), and a repeated or resumed run would not match.

    Args:
        corpus: Texts to build the vocabulary from.
        vocab_size: Maximum vocabulary size, special tokens included; exceeded only when the
            characters alone need more entries.

    Returns:
        A ``BertTokenizerFast`` that adds ``[CLS]`` and ``[SEP]`` around every text.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in corpus:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[word] += 1

    alphabet = sorted({character for word in counts for character in word})
    tokens = [*SPECIAL_TOKENS, *alphabet, *(f"##{character}" for character in alphabet)]
    known = set(tokens)
    by_frequency = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    words = [word for word, _ in by_frequency if word not in known]
    tokens.extend(words[: max(vocab_size - len(tokens), 0)])

    vocabulary = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.WordPiece(vocab=vocabulary, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocabulary["[CLS]"]), ("[SEP]", vocabulary["[SEP]"])],
    )
    tokenizer.decoder = decoders.WordPiece()
    return BertTokenizerFast(tokenizer_object=tokenizer)


def build_scratch_text_model(config: TextConfig, vocab_size: int) -> nn.Module:
    """Build a randomly initialised ``BertModel`` without pooler from the recipe's size fields."""
    from transformers import BertConfig, BertModel

    bert_config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=max(config.max_length, 32),
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
    )
    return BertModel(bert_config, add_pooling_layer=False)


def load_pretrained_text(path: Path) -> tuple[nn.Module, Any]:
    """Load a local transformers encoder (no pooler) and its tokenizer, never downloading.

    Raises:
        ConfigError: ``path`` is not a folder holding a transformers model and tokenizer.
    """
    from transformers import AutoModel, AutoTokenizer

    if not path.is_dir():
        raise ConfigError(
            f"text model folder '{path}' not found; point it at a local copy of a BERT-style "
            "model such as Bio_ClinicalBERT (config.json, weights and tokenizer files)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = _from_pretrained_without_pooler(AutoModel, path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"text model folder '{path}' could not be loaded: {error}") from error
    return model, tokenizer


def text_model_from_config(config_dict: dict[str, Any]) -> nn.Module:
    """Build a text model with random weights from a saved transformers configuration."""
    from transformers import AutoConfig, AutoModel

    model_type = config_dict.get("model_type")
    if not model_type:
        raise WeightsError("text_config.json has no 'model_type'; the output folder is incomplete")
    settings = {key: value for key, value in config_dict.items() if key != "model_type"}
    config = AutoConfig.for_model(model_type, **settings)
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def build_text_tower(config: TextConfig, corpus: Iterable[str] | None) -> tuple[TextTower, Any]:
    """Build the text tower that a recipe configures, with its tokenizer.

    Args:
        config: The recipe's text section.
        corpus: Texts for learning a WordPiece vocabulary; needed only without a pretrained model.

    Raises:
        ConfigError: A pretrained folder is required but not configured, or cannot be loaded.
    """
    pretrained = config.resolved_pretrained_path()
    if pretrained is not None:
        encoder, tokenizer = load_pretrained_text(pretrained)
        logger.info("text tower: pretrained model from '%s'", pretrained)
        return TextTower(encoder, config.pooling), tokenizer

    if config.require_pretrained:
        variable = config.pretrained_path_env or "the recipe's text.pretrained_path"
        raise ConfigError(
            f"this recipe needs a local pretrained text model (Mammo-CLIP uses Bio_ClinicalBERT); "
            f"set {variable} to its folder"
        )
    if corpus is None:
        raise ConfigError("a text tower trained from scratch needs a corpus to learn its vocabulary")
    tokenizer = train_wordpiece_tokenizer(corpus, config.vocab_size)
    encoder = build_scratch_text_model(config, vocab_size=len(tokenizer))
    logger.info(
        "text tower: BERT from scratch (%d layers, hidden %d, vocabulary %d)",
        config.num_layers,
        config.hidden_size,
        len(tokenizer),
    )
    return TextTower(encoder, config.pooling), tokenizer


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """Tokenise ``texts`` padded to the longest, cut at ``max_length`` tokens."""
    encoded = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def save_text_side(folder: Path, tower: TextTower, tokenizer: Any) -> None:
    """Write the tokenizer and the text model's configuration into a trained output folder."""
    tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
    config = tower.encoder.config.to_dict()
    (folder / TEXT_CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")


def load_text_side(folder: Path, pooling: str) -> tuple[TextTower, Any]:
    """Rebuild the text tower (random weights) and load the tokenizer saved in ``folder``.

    Raises:
        WeightsError: The folder lacks the tokenizer or the text configuration.
    """
    from transformers import AutoTokenizer

    config_path = folder / TEXT_CONFIG_FILE
    tokenizer_path = folder / TOKENIZER_DIR
    if not config_path.is_file() or not tokenizer_path.is_dir():
        raise WeightsError(
            f"trained folder '{folder}' lacks {TEXT_CONFIG_FILE} or {TOKENIZER_DIR}/; it was not "
            "written by 'mammobench pretrain' or is incomplete"
        )
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path), local_files_only=True)
    encoder = text_model_from_config(json.loads(config_path.read_text(encoding="utf-8")))
    return TextTower(encoder, pooling), tokenizer


def _from_pretrained_without_pooler(auto_class: Any, path: Path) -> nn.Module:
    # BERT-style models accept add_pooling_layer; others reject the keyword.
    try:
        return auto_class.from_pretrained(str(path), local_files_only=True, add_pooling_layer=False)
    except TypeError:
        return auto_class.from_pretrained(str(path), local_files_only=True)
