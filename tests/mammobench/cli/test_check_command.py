from __future__ import annotations

import json
from pathlib import Path

import pytest

from mammobench.cli.app import main
from mammobench.plugin_host import PluginHost, module_info, set_host

HELPERS = Path(__file__).parents[1] / "encoders"


@pytest.fixture
def tiny_host(monkeypatch):
    monkeypatch.syspath_prepend(str(HELPERS))
    import mb_tiny_encoders

    host = PluginHost(autoload=False)
    host.register_plugin(mb_tiny_encoders, module_info(mb_tiny_encoders))
    set_host(host.load())
    yield host
    set_host(None)


def test_passing_encoder_exits_zero(tiny_host, capsys):
    assert main(["check", "tiny/ok", "--height", "64", "--width", "48"]) == 0

    output = capsys.readouterr().out
    assert "9 of 9 checks passed" in output
    assert "FAIL" not in output


def test_failing_encoder_exits_one(tiny_host, capsys):
    assert main(["check", "tiny/constant", "--height", "64", "--width", "48"]) == 1

    output = capsys.readouterr().out
    assert "FAIL" in output
    assert "global: responds to input" in output


def test_json_lists_checks(tiny_host, capsys):
    assert main(["check", "tiny/ok", "--height", "64", "--width", "48", "--json"]) == 0

    payload = json.loads(capsys.readouterr().out)
    assert payload["passed"] is True
    assert payload["capabilities"] == ["dense", "global"]
    assert len(payload["checks"]) == 9


def test_unknown_encoder_is_one_line(tiny_host, capsys):
    assert main(["check", "tiny/nope"]) == 1

    error = capsys.readouterr().err
    assert "unknown encoder 'tiny/nope'" in error


def test_height_without_width_is_usage_error(tiny_host):
    assert main(["check", "tiny/ok", "--height", "64"]) == 2
