from __future__ import annotations

import pytest

from mammobench.errors import PluginLoadError, UnknownNameError
from mammobench.plugin_host import PluginHost

ALL_FAKES = ["fake_good", "fake_broken", "fake_other", "fake_bad_return", "fake_orphan"]


def failure_for(host: PluginHost, entry_point: str):
    matches = [f for f in host.failures if f.entry_point == entry_point]
    assert len(matches) == 1, f"expected one failure for {entry_point}, got {host.failures}"
    return matches[0]


def test_good_plugin_registers_every_kind(fake_site):
    host = PluginHost(allow=["fake_good"]).load()

    assert host.failures == []
    assert list(host.datasets) == ["fake-data"]
    assert sorted(host.encoders) == ["fake/encoder", "fakeparam:"]
    assert list(host.tasks) == ["fake-task"]
    info = host.plugin_of("encoders", "fake/encoder")
    assert info.distribution == "fake-good"
    assert info.version == "1.0"


def test_broken_import_is_isolated(fake_site):
    host = PluginHost(allow=ALL_FAKES).load()

    failure = failure_for(host, "fake_broken")
    assert failure.distribution == "fake-broken"
    assert failure.version == "0.3"
    assert "broken on purpose" in failure.error
    assert "fake-task" in host.tasks


def test_duplicate_name_names_both_distributions(fake_site):
    # Entry points load in name order: fake_good registers 'fake-data' before fake_other does.
    host = PluginHost(allow=ALL_FAKES).load()

    failure = failure_for(host, "fake_other")
    assert "fake-duplicate" in failure.error
    assert "fake-good" in failure.error
    assert host.datasets["fake-data"].plugin.distribution == "fake-good"


def test_wrong_return_type_is_a_failure(fake_site):
    host = PluginHost(allow=ALL_FAKES).load()

    failure = failure_for(host, "fake_bad_return")
    assert "TypeError" in failure.error
    assert "EncoderSpec" in failure.error


def test_task_without_dataset_is_dropped(fake_site):
    host = PluginHost(allow=ALL_FAKES).load()

    failure = failure_for(host, "fake_orphan")
    assert "no-such-dataset" in failure.error
    assert "orphan-task" not in host.tasks


def test_autoload_off_loads_nothing(fake_site, monkeypatch):
    monkeypatch.setenv("MAMMOBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("MAMMOBENCH_PLUGINS", raising=False)
    host = PluginHost().load()

    assert host.plugins == []
    assert host.failures == []


def test_allow_list_works_with_autoload_off(fake_site, monkeypatch):
    monkeypatch.setenv("MAMMOBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("MAMMOBENCH_PLUGINS", "fake_good, fake-broken")
    host = PluginHost().load()

    assert [p.entry_point for p in host.plugins] == ["fake_good"]
    assert [f.entry_point for f in host.failures] == ["fake_broken"]


def test_check_strict_raises_on_failures(fake_site):
    host = PluginHost(allow=ALL_FAKES).load()

    with pytest.raises(PluginLoadError, match="fake_bad_return|fake_broken|fake_other"):
        host.check_strict()


def test_check_strict_passes_when_clean(fake_site):
    PluginHost(allow=["fake_good"]).load().check_strict()


def test_parametric_encoder_name_resolves(fake_site):
    host = PluginHost(allow=["fake_good"]).load()

    spec, argument = host.encoder("fakeparam:resnet18")
    assert spec.name == "fakeparam:"
    assert argument == "resnet18"
    assert host.encoder("fake/encoder") == (host.encoders["fake/encoder"].spec, None)


def test_unknown_name_suggests_close_match(fake_site):
    host = PluginHost(allow=["fake_good"]).load()

    with pytest.raises(UnknownNameError, match="did you mean 'fake-task'"):
        host.task("fake-tsak")
    with pytest.raises(UnknownNameError, match="mammobench list encoders"):
        host.encoder("fakeparam:")


def test_trace_prints_hook_calls(fake_site, capfd):
    PluginHost(allow=["fake_good"], trace=True).load()

    assert "mammobench_register_encoders" in capfd.readouterr().err
