from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mammobench.cli.app import main
from mammobench.plugin_host import PluginHost, module_info, set_host

HELPERS = Path(__file__).parents[1] / "encoders"


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    """A 'tiny-test' dataset folder, with the tiny encoders and dataset registered."""
    monkeypatch.syspath_prepend(str(HELPERS))
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path / "home"))
    import mb_tiny_data
    import mb_tiny_encoders

    host = PluginHost(autoload=False)
    host.register_plugin(mb_tiny_encoders, module_info(mb_tiny_encoders))
    set_host(host.load())
    mb_tiny_data.tiny_manifest(tmp_path / "data")
    yield tmp_path / "data"
    set_host(None)


def embed(root: Path, *extra: str) -> list[str]:
    return [
        "embed",
        "--model",
        "tiny/ok",
        "--dataset",
        "tiny-test",
        "--data-root",
        str(root),
        "--workers",
        "0",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        *extra,
    ]


def test_embed_writes_then_reads_cache(tiny_root, capsys):
    assert main(embed(tiny_root, "--json")) == 0
    first = json.loads(capsys.readouterr().out)

    assert main(embed(tiny_root, "--json")) == 0
    second = json.loads(capsys.readouterr().out)

    assert first["from_cache"] is False
    assert second["from_cache"] is True
    assert second["cache_key"] == first["cache_key"]
    assert first["embedded"] == 6
    assert first["embed_dim"] == 16
    assert list(first["failed"]) == ["damaged"]
    assert np.load(Path(first["location"]) / "embeddings.npy").shape == (6, 16)


def test_split_changes_cache_key(tiny_root, capsys):
    assert main(embed(tiny_root, "--json")) == 0
    everything = json.loads(capsys.readouterr().out)

    assert main(embed(tiny_root, "--split", "test", "--json")) == 0
    test_split = json.loads(capsys.readouterr().out)

    assert test_split["cache_key"] != everything["cache_key"]
    assert test_split["embedded"] == 2


def test_text_output_names_key_and_location(tiny_root, capsys):
    assert main(embed(tiny_root)) == 0

    captured = capsys.readouterr()
    assert "cache key:" in captured.out
    assert "location:" in captured.out
    assert "image 'damaged' failed" in captured.err


def test_unknown_model_is_one_line(tiny_root, capsys):
    assert (
        main(
            [
                "embed",
                "--model",
                "tiny/nope",
                "--dataset",
                "tiny-test",
                "--data-root",
                str(tiny_root),
            ]
        )
        == 1
    )

    assert "unknown encoder 'tiny/nope'" in capsys.readouterr().err
