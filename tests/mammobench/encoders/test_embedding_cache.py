from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from mammobench.encoders.embedding_cache import (
    META_FILE,
    CacheKey,
    EmbeddingCache,
    select_for_prune,
    verify_entry,
)
from mammobench.errors import DataError

BASE_KEY = CacheKey(
    kind="embeddings",
    encoder="tiny/ok",
    encoder_revision="sha256:0123456789abcdef",
    dataset="tiny-test",
    manifest_hash="a" * 64,
    split="all",
    profile="tiny-256x160",
    preprocessing_version="v1-left",
    dtype="float32",
)


def write_entry(cache: EmbeddingCache, key: CacheKey = BASE_KEY, rows: int = 3, width: int = 4):
    array = np.arange(rows * width, dtype=np.float32).reshape(rows, width)
    with cache.writer(key) as writer:
        writer.append("embeddings", array[:2])
        writer.append("embeddings", array[2:])
        entry = writer.commit([f"id{i}" for i in range(rows)], {"bad": "unreadable"})
    return entry, array


def test_commit_then_lookup_returns_entry(embedding_cache):
    written, array = write_entry(embedding_cache)

    found = embedding_cache.lookup(BASE_KEY)

    assert found is not None
    assert found.path == written.path
    assert found.ids == ["id0", "id1", "id2"]
    assert found.failed == {"bad": "unreadable"}
    assert np.array_equal(found.open_array("embeddings"), array)


def test_arrays_are_memory_mapped(embedding_cache):
    entry, _ = write_entry(embedding_cache)

    loaded = entry.open_array("embeddings")

    assert isinstance(loaded, np.memmap)
    assert loaded.dtype == np.float32


def test_npy_file_reads_without_mmap(embedding_cache):
    entry, array = write_entry(embedding_cache)

    assert np.array_equal(np.load(entry.path / "embeddings.npy"), array)


@pytest.mark.parametrize(
    "field",
    [
        "kind",
        "encoder",
        "encoder_revision",
        "dataset",
        "manifest_hash",
        "split",
        "profile",
        "preprocessing_version",
        "dtype",
        "precision",
    ],
)
def test_every_field_changes_digest(field):
    changed = dataclasses.replace(BASE_KEY, **{field: "other"})

    assert changed.digest() != BASE_KEY.digest()


def test_options_and_schema_change_digest():
    assert dataclasses.replace(BASE_KEY, options=("levels=0",)).digest() != BASE_KEY.digest()
    assert dataclasses.replace(BASE_KEY, schema=BASE_KEY.schema + 1).digest() != BASE_KEY.digest()


def test_changed_key_misses(embedding_cache):
    write_entry(embedding_cache)

    assert embedding_cache.lookup(dataclasses.replace(BASE_KEY, split="test")) is None


def test_failed_write_leaves_nothing(embedding_cache):
    with pytest.raises(RuntimeError):
        with embedding_cache.writer(BASE_KEY) as writer:
            writer.append("embeddings", np.zeros((2, 4), dtype=np.float32))
            raise RuntimeError("encoder crashed")

    assert list(embedding_cache.root.iterdir()) == []
    assert embedding_cache.lookup(BASE_KEY) is None


def test_row_count_must_match_ids(embedding_cache):
    with pytest.raises(DataError, match="2 rows but 3 ids"):
        with embedding_cache.writer(BASE_KEY) as writer:
            writer.append("embeddings", np.zeros((2, 4), dtype=np.float32))
            writer.commit(["a", "b", "c"], {})


def test_second_writer_keeps_first_entry(embedding_cache):
    first, array = write_entry(embedding_cache)

    with embedding_cache.writer(BASE_KEY) as writer:
        writer.append("embeddings", np.ones((3, 4), dtype=np.float32))
        second = writer.commit(["x", "y", "z"], {})

    assert second.path == first.path
    assert second.ids == ["id0", "id1", "id2"]
    assert [p.name for p in embedding_cache.root.iterdir()] == [first.digest]


def test_entry_without_rows(embedding_cache):
    with embedding_cache.writer(BASE_KEY) as writer:
        writer.declare("embeddings", np.float32, (4,))
        entry = writer.commit([], {"only": "failed"})

    assert entry.open_array("embeddings").shape == (0, 4)


def test_truncated_array_is_a_miss(embedding_cache):
    entry, _ = write_entry(embedding_cache)
    file = entry.path / "embeddings.npy"
    file.write_bytes(file.read_bytes()[:-4])

    assert embedding_cache.lookup(BASE_KEY) is None
    assert any("bytes, expected" in problem for problem in verify_entry(entry))


def test_verify_detects_changed_bytes(embedding_cache):
    entry, _ = write_entry(embedding_cache)
    file = entry.path / "embeddings.npy"
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))

    problems = verify_entry(entry)

    assert len(problems) == 1
    assert "SHA-256" in problems[0]


def test_verify_passes_intact_entry(embedding_cache):
    entry, _ = write_entry(embedding_cache)

    assert verify_entry(entry) == []


def test_damaged_meta_is_listed(embedding_cache):
    entry, _ = write_entry(embedding_cache)
    (entry.path / META_FILE).write_text("{not json", encoding="utf-8")

    assert embedding_cache.entries() == []
    assert embedding_cache.damaged() == [entry.path]
    assert embedding_cache.lookup(BASE_KEY) is None


def test_stale_temporary_is_found(embedding_cache):
    writer = embedding_cache.writer(BASE_KEY)
    old = time.time() - 2 * 3600
    os.utime(writer.folder, (old, old))

    assert embedding_cache.stale_temporaries() == [writer.folder]
    writer.abort()


def test_prune_selects_by_age_and_size(embedding_cache):
    entries = []
    for index in range(3):
        entry, _ = write_entry(embedding_cache, dataclasses.replace(BASE_KEY, split=f"s{index}"))
        entries.append(entry)
    entries[0].created = datetime.now(timezone.utc) - timedelta(days=10)
    size = entries[0].size_bytes

    by_age = select_for_prune(entries, older_than=timedelta(days=5))
    by_size = select_for_prune(entries, max_total_bytes=size)
    everything = select_for_prune(entries, everything=True)

    assert [e.digest for e in by_age] == [entries[0].digest]
    assert [e.digest for e in by_size] == [entries[0].digest, entries[1].digest]
    assert len(everything) == 3


def test_remove_rejects_outside_folder(embedding_cache, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    with pytest.raises(DataError, match="not inside the embedding cache"):
        embedding_cache.remove(outside)


def test_meta_records_checksums(embedding_cache):
    entry, _ = write_entry(embedding_cache)
    meta = json.loads((entry.path / META_FILE).read_text(encoding="utf-8"))

    assert meta["arrays"]["embeddings"]["shape"] == [3, 4]
    assert len(meta["arrays"]["embeddings"]["sha256"]) == 64
    assert meta["key"]["encoder"] == "tiny/ok"
