"""Sweep expansion, shards and work items."""

from __future__ import annotations

import pytest

from mammobench.errors import ConfigError, UnknownNameError
from mammobench.plugin_host import get_host
from mammobench.sweep.config import validate_sweep_config
from mammobench.sweep.plan import SweepCell, SweepGroup, all_cells, expand, parse_shard, plan_items, select_shard


def config(**values):
    data = {"name": "plan", "encoders": ["timm:test_efficientnet"], "tasks": ["vindr-mass"]}
    data.update(values)
    return validate_sweep_config(data)


def test_expansion_order_and_count():
    groups = expand(
        config(encoders=["random/resnet18", "timm:test_efficientnet"], tasks=["vindr-mass", "rsna-cancer"], fractions=[0.5, 0.1], seeds=[1, 0]),
        get_host(),
    )

    assert [group.key for group in groups] == [
        ("random/resnet18", "vindr-mass", "linear-probe"),
        ("random/resnet18", "rsna-cancer", "linear-probe"),
        ("timm:test_efficientnet", "vindr-mass", "linear-probe"),
        ("timm:test_efficientnet", "rsna-cancer", "linear-probe"),
    ]
    assert [(c.fraction, c.seed) for c in groups[0].cells] == [(0.1, 0), (0.1, 1), (0.5, 0), (0.5, 1)]
    assert len(all_cells(groups)) == 16


def test_unsupported_protocol_skipped():
    groups = expand(config(tasks=["vindr-mass"], protocols=["linear-probe", "detection"]), get_host())

    assert [group.protocol for group in groups] == ["linear-probe"]


def test_task_without_protocol_rejected():
    with pytest.raises(ConfigError, match="supports none of the protocols"):
        expand(config(protocols=["detection"]), get_host())


def test_zero_shot_has_one_cell():
    groups = expand(config(protocols=["zero-shot"], fractions=[0.1, 1.0], seeds=[0, 1, 2]), get_host())

    assert groups[0].cells == [SweepCell("timm:test_efficientnet", "vindr-mass", "zero-shot", 0.0, 0)]


def test_unknown_encoder_rejected():
    with pytest.raises(UnknownNameError, match="unknown encoder 'no-such-encoder'"):
        expand(config(encoders=["no-such-encoder"]), get_host())


def test_unused_data_root_ignored():
    unused = config(data_roots={"rsna": "/data/rsna"}, weights={"random/resnet18": "/w.pt"})

    groups = expand(unused, get_host())

    assert [group.task for group in groups] == ["vindr-mass"]


def test_unknown_dataset_rejected():
    with pytest.raises(UnknownNameError, match="unknown dataset 'vindr-mammo'"):
        expand(config(data_roots={"vindr-mammo": "/data/vindr"}), get_host())


def test_unknown_weights_encoder_rejected():
    with pytest.raises(UnknownNameError, match="unknown encoder 'mamoclip'"):
        expand(config(weights={"mamoclip": "/w.pt"}), get_host())


def test_probe_groups_are_light():
    groups = expand(config(protocols=["linear-probe", "finetune"]), get_host())

    assert [(group.protocol, group.light) for group in groups] == [("linear-probe", True), ("finetune", False)]


def synthetic_groups() -> list[SweepGroup]:
    groups = []
    for encoder in ("a", "b", "c"):
        for task, count in (("t1", 7), ("t2", 4)):
            group = SweepGroup(encoder, task, "linear-probe", "d", True)
            group.cells = [SweepCell(encoder, task, "linear-probe", 1.0, seed) for seed in range(count)]
            groups.append(group)
    return groups


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 40])
def test_shards_partition_cells(count):
    groups = synthetic_groups()
    cells = all_cells(groups)

    shards = [all_cells(select_shard(groups, index, count)) for index in range(1, count + 1)]
    union = [cell for shard in shards for cell in shard]

    assert sorted(union) == sorted(cells)
    assert len(union) == len(set(union))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_shard_selection_is_stable():
    first = all_cells(select_shard(synthetic_groups(), 2, 3))
    second = all_cells(select_shard(synthetic_groups(), 2, 3))

    assert first == second


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_invalid_shard_rejected(text):
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


def test_parallel_items_share_embedding():
    groups = synthetic_groups()[:2]  # encoder 'a', tasks t1 and t2 on dataset d

    items = plan_items(groups, parallel=True)

    kinds = [(item.kind, item.depends_on) for item in items]
    assert kinds == [("prepare", []), ("prepare", []), ("embed", [0, 1]), ("light", [0, 1, 2])]
    assert items[0].prepare_dataset == "d"
    assert items[1].prepare_encoder == "a"


def test_heavy_group_lead_cell_first():
    group = SweepGroup("a", "t1", "finetune", "d", False)
    group.cells = [SweepCell("a", "t1", "finetune", 1.0, seed) for seed in range(3)]

    items = plan_items([group], parallel=True)

    train = [item for item in items if item.kind == "train"]
    assert [len(item.cells) for item in train] == [1, 1, 1]
    assert train[1].depends_on == [0, 1, train[0].id]
    assert train[2].depends_on == [0, 1, train[0].id]


def test_sequential_items_are_groups():
    groups = synthetic_groups()

    items = plan_items(groups, parallel=False)

    assert [item.cells for item in items] == [group.cells for group in groups]
    assert all(item.depends_on == [] for item in items)


def test_synthetic_settings_checked():
    with pytest.raises(ConfigError, match="patients"):
        expand(config(synthetic={"vindr": {"patients": 0}}), get_host())


def test_root_and_synthetic_exclusive():
    with pytest.raises(ConfigError, match="both a data root and synthetic settings"):
        expand(config(data_roots={"vindr": "/data/vindr"}, synthetic={"vindr": {"patients": 10}}), get_host())
