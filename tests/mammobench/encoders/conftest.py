"""Fixtures for encoder tests: tiny real encoders and a plugin host that registers them."""

from __future__ import annotations

from pathlib import Path

import pytest

HELPERS = Path(__file__).parent


@pytest.fixture
def tiny_encoders(monkeypatch: pytest.MonkeyPatch):
    """The ``mb_tiny_encoders`` helper module, importable by its plain name."""
    monkeypatch.syspath_prepend(str(HELPERS))
    import mb_tiny_encoders

    return mb_tiny_encoders


@pytest.fixture
def tiny_host(tiny_encoders):
    """A plugin host with only the tiny test encoders, installed as the process-wide host."""
    from mammobench.plugin_host import PluginHost, module_info, set_host

    host = PluginHost(autoload=False)
    host.register_plugin(tiny_encoders, module_info(tiny_encoders))
    host.load()
    set_host(host)
    yield host
    set_host(None)


@pytest.fixture
def tiny_encoder(tiny_encoders):
    """A built tiny encoder with 'global' and 'dense' outputs, in eval mode."""
    return tiny_encoders.TinyEncoder().eval()


@pytest.fixture
def tiny_data(monkeypatch: pytest.MonkeyPatch):
    """The ``mb_tiny_data`` helper module, importable by its plain name."""
    monkeypatch.syspath_prepend(str(HELPERS))
    import mb_tiny_data

    return mb_tiny_data


@pytest.fixture
def tiny_manifest(tmp_path, tiny_data):
    """Six readable images of three patients (four train, two test) and one damaged file."""
    return tiny_data.tiny_manifest(tmp_path / "data")


@pytest.fixture
def embedding_cache(tmp_path):
    """An empty embedding cache in a temporary folder."""
    from mammobench.encoders.embedding_cache import EmbeddingCache

    return EmbeddingCache(tmp_path / "embeddings")
