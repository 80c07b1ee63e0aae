from __future__ import annotations

import json

import pytest

import mammobench
from mammobench.cli.app import main
from mammobench.errors import DataError
from mammobench.plugin_host import PluginHost, set_host

ALL_FAKES = ["fake_good", "fake_broken", "fake_other", "fake_bad_return", "fake_orphan"]


@pytest.fixture(autouse=True)
def lenient_plugins(monkeypatch):
    # CI sets MAMMOBENCH_STRICT_PLUGINS=1; these tests load broken fake plugins on purpose.
    monkeypatch.delenv("MAMMOBENCH_STRICT_PLUGINS", raising=False)


@pytest.fixture
def fake_host(fake_site):
    host = PluginHost(allow=ALL_FAKES).load()
    set_host(host)
    yield host
    set_host(None)


@pytest.fixture
def clean_host(fake_site):
    host = PluginHost(allow=["fake_good"]).load()
    set_host(host)
    yield host
    set_host(None)


def test_version_prints_version(clean_host, capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mammobench {mammobench.__version__}"


def test_plugins_json_lists_loaded_and_failed(fake_host, capsys):
    assert main(["plugins", "--json"]) == 0

    payload = json.loads(capsys.readouterr().out)
    loaded = {row["entry_point"]: row for row in payload["loaded"]}
    failed = {row["entry_point"]: row for row in payload["failed"]}
    assert loaded["fake_good"]["encoders"] == 2
    assert loaded["fake_good"]["version"] == "1.0"
    assert failed["fake_broken"]["distribution"] == "fake-broken"
    assert "broken on purpose" in failed["fake_broken"]["error"]


def test_strict_plugins_exits_with_one(fake_host, capsys):
    assert main(["--strict-plugins", "list", "encoders"]) == 1

    err = capsys.readouterr().err
    assert "failed to load" in err
    assert err.count("\n") == 1


def test_strict_plugins_env_variable(fake_host, monkeypatch):
    monkeypatch.setenv("MAMMOBENCH_STRICT_PLUGINS", "1")

    assert main(["list", "tasks"]) == 1


def test_non_strict_run_lists_good_specs(fake_host, capsys):
    assert main(["list", "encoders", "--json"]) == 0

    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert names == ["fake/encoder", "fakeparam:"]


def test_list_tasks_table(clean_host, capsys):
    assert main(["list", "tasks"]) == 0
    assert "fake-task" in capsys.readouterr().out


def test_plugin_command_is_added(clean_host, capsys):
    assert main(["fake-hello"]) == 0
    assert "hello from the fake plugin" in capsys.readouterr().out


def test_unknown_command_is_usage_error(clean_host):
    assert main(["no-such-command"]) == 2


def test_env_json_has_versions(clean_host, capsys):
    assert main(["env", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["mammobench"] == mammobench.__version__
    assert report["torch"] != "not installed"
    assert "device" in report


def test_known_error_is_one_line(clean_host, capsys, monkeypatch):
    import mammobench.cli.info as info

    def fail(*args, **kwargs):
        raise DataError("data root '/nowhere' does not exist; pass --data-root DIR")

    monkeypatch.setattr(info, "_describe_device", fail)
    assert main(["env"]) == 1

    err = capsys.readouterr().err
    assert "data root '/nowhere' does not exist" in err
    assert "Traceback" not in err


def test_unexpected_error_hides_traceback(clean_host, capsys, monkeypatch):
    import mammobench.cli.info as info

    patient_name = "Jane Doe"

    def crash(*args, **kwargs):
        secret = patient_name  # a local that must never be printed
        raise RuntimeError("boom " + str(len(secret)))

    monkeypatch.delenv("MAMMOBENCH_DEBUG", raising=False)
    monkeypatch.setattr(info, "_describe_device", crash)
    assert main(["env"]) == 1

    err = capsys.readouterr().err
    assert "RuntimeError: boom 8" in err
    assert "Traceback" not in err
    assert "MAMMOBENCH_DEBUG=1" in err


def test_debug_shows_traceback_without_locals(clean_host, capsys, monkeypatch):
    import mammobench.cli.info as info

    def crash(*args, **kwargs):
        secret_value = "Jane Doe"
        raise RuntimeError(f"boom {len(secret_value)}")

    monkeypatch.setenv("MAMMOBENCH_DEBUG", "1")
    monkeypatch.setattr(info, "_describe_device", crash)
    assert main(["env"]) == 1

    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "Jane Doe" not in err
