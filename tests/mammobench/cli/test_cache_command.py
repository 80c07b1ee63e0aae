from __future__ import annotations

import json

import numpy as np
import pytest

from mammobench.cli.app import main
from mammobench.cli.cache import parse_size
from mammobench.encoders.embedding_cache import CacheKey, EmbeddingCache
from mammobench.plugin_host import PluginHost, set_host


@pytest.fixture(autouse=True)
def empty_host():
    set_host(PluginHost(autoload=False).load())
    yield
    set_host(None)


@pytest.fixture
def cache(tmp_path):
    cache = EmbeddingCache(tmp_path / "embeddings")
    for split in ("train", "test"):
        key = CacheKey(
            kind="embeddings",
            encoder="tiny/ok",
            encoder_revision="sha256:0",
            dataset="tiny-test",
            manifest_hash="a" * 64,
            split=split,
            profile="tiny-256x160",
            preprocessing_version="v1-left",
            dtype="float32",
        )
        with cache.writer(key) as writer:
            writer.append("embeddings", np.ones((2, 4), dtype=np.float32))
            writer.commit(["a", "b"], {})
    return cache


def test_ls_lists_entries(cache, capsys):
    assert main(["cache", "ls", "--cache-dir", str(cache.root), "--json"]) == 0

    payload = json.loads(capsys.readouterr().out)
    assert sorted(row["split"] for row in payload["entries"]) == ["test", "train"]
    assert payload["entries"][0]["encoder"] == "tiny/ok"
    assert payload["entries"][0]["images"] == 2


def test_verify_passes_intact_cache(cache, capsys):
    assert main(["cache", "verify", "--cache-dir", str(cache.root)]) == 0


def test_verify_fails_on_changed_array(cache, capsys):
    entry = cache.entries()[0]
    file = entry.path / "embeddings.npy"
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))

    assert main(["cache", "verify", "--cache-dir", str(cache.root), "--json"]) == 1

    payload = json.loads(capsys.readouterr().out)
    damaged = [row for row in payload["entries"] if row["problems"]]
    assert [row["key"] for row in damaged] == [entry.digest]


def test_prune_dry_run_keeps_entries(cache, capsys):
    assert main(["cache", "prune", "--all", "--dry-run", "--cache-dir", str(cache.root)]) == 0

    assert "would remove 2 entries" in capsys.readouterr().out
    assert len(cache.entries()) == 2


def test_prune_all_removes_entries(cache):
    assert main(["cache", "prune", "--all", "--cache-dir", str(cache.root)]) == 0

    assert cache.entries() == []


def test_prune_needs_a_criterion(cache):
    assert main(["cache", "prune", "--cache-dir", str(cache.root)]) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1024", 1024), ("20GB", 20 * 10**9), ("500MiB", 500 * 2**20), ("1.5 kb", 1500)],
)
def test_parse_size_units(text, expected):
    assert parse_size(text) == expected
