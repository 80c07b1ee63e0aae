"""A throwaway third-party plugin distribution is picked up with no change to mammobench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_SOURCE = '''
from mammobench.api import Capability, EncoderSpec, hookimpl


@hookimpl
def mammobench_register_encoders():
    return [
        EncoderSpec(
            name="thirdparty/tiny",
            description="An encoder shipped by a separate distribution.",
            loader="thirdparty_mammo.encoder:build",
            capabilities=[Capability.GLOBAL],
            architecture="linear",
        )
    ]
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "thirdparty-mammo"
version = "0.0.7"

[project.entry-points.mammobench]
thirdparty = "thirdparty_mammo.plugin"

[tool.setuptools]
packages = ["thirdparty_mammo"]
'''


def test_installed_distribution_is_listed(tmp_path: Path):
    pytest.importorskip("setuptools", reason="building the throwaway plugin needs setuptools")
    source = tmp_path / "src"
    package = source / "thirdparty_mammo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "plugin.py").write_text(textwrap.dedent(PLUGIN_SOURCE), encoding="utf-8")
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT), encoding="utf-8")
    target = tmp_path / "site"

    install = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
            "--no-index", "--target", str(target), str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr

    environment = dict(os.environ, PYTHONPATH=str(target))
    environment.pop("MAMMOBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    environment.pop("MAMMOBENCH_PLUGINS", None)
    listing = subprocess.run(
        [sys.executable, "-m", "mammobench.cli.app", "list", "encoders", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert "thirdparty/tiny" in rows
    assert rows["thirdparty/tiny"]["plugin"] == "thirdparty-mammo"
