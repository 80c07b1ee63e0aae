"""Shared pytest configuration.

- ``MAMMOBENCH_HOME`` points at a per-session temporary folder, so tests never touch the user's
  cache.
- ``MAMMOBENCH_REALDATA`` names a folder of real mammograms; tests marked ``realdata`` skip with
  a clear reason when it is unset.
- ``MAMMOBENCH_STRICT_PLUGINS=1`` makes the session fail at start when any installed plugin
  fails to load (CI sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if "MAMMOBENCH_HOME" not in os.environ:
        home = Path(config.rootpath) / ".pytest-mammobench-home"
        os.environ["MAMMOBENCH_HOME"] = str(home)
    os.environ.setdefault("MAMMOBENCH_NUM_WORKERS", "0")


def pytest_sessionstart(session: pytest.Session) -> None:
    from mammobench.plugin_host import PluginHost, env_flag

    if env_flag("MAMMOBENCH_STRICT_PLUGINS"):
        host = PluginHost().load()
        if host.failures:
            lines = [f"{f.entry_point} ({f.distribution} {f.version}): {f.error}" for f in host.failures]
            pytest.exit("plugins failed to load:\n" + "\n".join(lines), returncode=1)


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """The folder of real mammograms named by MAMMOBENCH_REALDATA; skips when unset."""
    configured = os.environ.get("MAMMOBENCH_REALDATA")
    if not configured:
        pytest.skip("MAMMOBENCH_REALDATA is not set; point it at a folder of real mammograms")
    path = Path(configured)
    if not path.is_dir():
        pytest.skip(f"MAMMOBENCH_REALDATA='{configured}' is not a folder")
    return path


@pytest.fixture(scope="session")
def synthetic_vindr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic VinDr-Mammo copy with enough masses and calcifications for every split."""
    from mammobench.synth.config import FindingRates, SynthConfig
    from mammobench_vindr.synth import write_synthetic

    root = tmp_path_factory.mktemp("synthetic-vindr")
    config = SynthConfig.for_layout(
        "vindr",
        patients=24,
        size=(320, 192),
        seed=11,
        finding_rates=FindingRates(mass=0.4, calcification=0.4),
    )
    write_synthetic(root, config, workers=2)
    return root


@pytest.fixture(scope="session")
def synthetic_rsna(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic RSNA copy with a raised cancer prevalence, so every fold has cancers."""
    from mammobench.synth.config import SynthConfig
    from mammobench_rsna.synth import write_synthetic

    root = tmp_path_factory.mktemp("synthetic-rsna")
    config = SynthConfig.for_layout("rsna", patients=30, size=(320, 192), seed=5, cancer_prevalence=0.35)
    write_synthetic(root, config, workers=2)
    return root


TINY_MAMMOCLIP_RECIPE = """
name = "mammoclip-tiny-test"

[model]
image_architecture = "test_efficientnet"
embed_dim = 32

[model.text]
max_length = 64
vocab_size = 200
hidden_size = 32
num_layers = 1
num_heads = 2
intermediate_size = 64

[data]
profile = "tiny"

[[data.sources]]
dataset = "vindr"
root = "{root}"
reports = true
synthesize = false

[train]
epochs = 2
batch_size = 8
learning_rate = 1e-3
warmup_epochs = 0.5
seed = 3
device = "cpu"
"""


@pytest.fixture(scope="session")
def tiny_mammoclip(synthetic_vindr: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Mammo-CLIP folder (image and text towers) pretrained for two epochs on ``synthetic_vindr``.

    It is written by ``mammobench pretrain``, as a user would write it. Pass it as ``weights``
    of the ``mammoclip`` encoder (``--weights`` on the command line) when a test needs real
    ``dense`` and ``text`` capabilities in seconds.
    """
    from mammobench.cli.app import main

    folder = tmp_path_factory.mktemp("tiny-mammoclip")
    recipe = folder / "recipe.toml"
    recipe.write_text(TINY_MAMMOCLIP_RECIPE.format(root=synthetic_vindr.as_posix()), encoding="utf-8")
    assert main(["pretrain", str(recipe), "--out", str(folder / "model")]) == 0
    return folder / "model"
