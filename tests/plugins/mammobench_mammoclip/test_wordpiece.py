"""The WordPiece vocabulary learnt from the pretraining corpus."""

from __future__ import annotations

from mammobench_mammoclip.text import train_wordpiece_tokenizer

CORPUS = ["FINDINGS: A spiculated mass is seen.", "No mass is seen. BI-RADS 1.", "Density C."] * 4


def test_vocabulary_same_every_time():
    first = train_wordpiece_tokenizer(CORPUS, vocab_size=60)
    second = train_wordpiece_tokenizer(list(CORPUS), vocab_size=60)

    assert first.get_vocab() == second.get_vocab()


def test_vocabulary_respects_size():
    tokenizer = train_wordpiece_tokenizer(CORPUS, vocab_size=70)

    assert len(tokenizer) <= 70
    assert "mass" in tokenizer.get_vocab()


def test_rare_word_split_not_unknown():
    tokenizer = train_wordpiece_tokenizer(CORPUS, vocab_size=45)

    pieces = tokenizer.tokenize("spiculated")

    assert "[UNK]" not in pieces
    assert "".join(piece.removeprefix("##") for piece in pieces) == "spiculated"


def test_texts_wrapped_in_cls_and_sep():
    tokenizer = train_wordpiece_tokenizer(CORPUS, vocab_size=60)

    ids = tokenizer("no mass")["input_ids"]

    assert ids[0] == tokenizer.cls_token_id
    assert ids[-1] == tokenizer.sep_token_id
