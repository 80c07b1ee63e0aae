"""Expand a sweep into cells, select a shard, and group cells into work items for executors.

A sweep cell is one (encoder, task, protocol, label fraction, seed). Cells of one (encoder, task,
protocol) form a group, which the runner executes with its shared work done once. A work item is
what an executor schedules: a list of runs (group plus the cells to run) with the items it must
wait for and the resources it needs.

The expansion order is fixed (encoders, then tasks, protocols, fractions and seeds, each in the
order of the file, fractions and seeds ascending), so shards are reproducible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mammobench.errors import ConfigError
from mammobench.plugin_host import PluginHost
from mammobench.protocols import get_protocol
from mammobench.sweep.config import DEFAULT_PROTOCOL, SweepConfig
from mammobench.sweep.synthetic import synthetic_config

logger = logging.getLogger(__name__)

# Kind of a work item, which sets the resources it needs: 'prepare' (generate data, train a
# pretrained model once), 'embed' (one frozen embedding pass, then light cells), 'light' (cells
# that read cached embeddings) or 'train' (one cell that trains a model end to end).
ItemKind = Literal["prepare", "embed", "light", "train"]


@dataclass(frozen=True, order=True)
class SweepCell:
    """One cell of a sweep, named by the encoder as configured (before it is built)."""

    encoder: str
    task: str
    protocol: str
    fraction: float
    seed: int

    @property
    def group_key(self) -> tuple[str, str, str]:
        return (self.encoder, self.task, self.protocol)

    def label(self) -> str:
        """Return a short description for logs, e.g. 'resnet18 / vindr-mass / linear-probe 0.5 #1'."""
        return f"{self.encoder} / {self.task} / {self.protocol} {self.fraction:g} #{self.seed}"


@dataclass
class SweepGroup:
    """The cells of one (encoder, task, protocol) and what scheduling needs to know about them."""

    encoder: str
    task: str
    protocol: str
    dataset: str
    light: bool  # the protocol embeds once and its cells fit small models (light_cells)
    cells: list[SweepCell] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.encoder, self.task, self.protocol)


@dataclass
class WorkRun:
    """One call of the runner: a group restricted to some of its cells."""

    group: SweepGroup
    cells: list[SweepCell]


@dataclass
class WorkItem:
    """One unit that an executor schedules (a process-pool job or a Ray task).

    Attributes:
        id: Position in the plan; items depend only on items with smaller ids.
        kind: See :data:`ItemKind`.
        runs: Runner calls made one after the other; empty for ``prepare`` items.
        depends_on: Ids of items that must finish first (their outcome does not matter).
        prepare_dataset: Dataset to load (and generate when synthetic) for ``prepare`` items.
        prepare_encoder: Encoder to build once (training it when it is trained on first use).
    """

    id: int
    kind: ItemKind
    runs: list[WorkRun] = field(default_factory=list)
    depends_on: list[int] = field(default_factory=list)
    prepare_dataset: str | None = None
    prepare_encoder: str | None = None

    @property
    def cells(self) -> list[SweepCell]:
        return [cell for run in self.runs for cell in run.cells]

    def label(self) -> str:
        if self.kind == "prepare":
            return f"prepare {self.prepare_dataset or self.prepare_encoder}"
        names = sorted({f"{run.group.encoder} / {run.group.task} / {run.group.protocol}" for run in self.runs})
        return f"{self.kind} {'; '.join(names)} ({len(self.cells)} cells)"


def expand(config: SweepConfig, host: PluginHost) -> list[SweepGroup]:
    """Expand a sweep into groups of cells, checking every name against the plugins.

    A protocol that a task does not support is skipped for that task. A protocol that uses no
    labels (zero-shot) gets one cell at fraction 0 and seed 0.

    Raises:
        UnknownNameError: An encoder, task, protocol or dataset is not registered.
        ConfigError: A task is left without any protocol, a dataset has both a data root and
            synthetic settings, or a synthetic setting is invalid.
    """
    for encoder in config.encoders:
        host.encoder(encoder)
    task_specs = [host.task(name) for name in config.tasks]
    _check_named_datasets(config, {spec.dataset for spec in task_specs}, host)
    _check_named_encoders(config, host)

    groups: list[SweepGroup] = []
    for encoder in config.encoders:
        for spec in task_specs:
            protocols = _task_protocols(config.protocols, spec.name, spec.protocols, spec.default_protocol)
            for protocol_name in protocols:
                protocol = get_protocol(protocol_name)
                if protocol.uses_labels:
                    grid = [(fraction, seed) for fraction in config.fractions for seed in config.seeds]
                else:
                    grid = [(0.0, 0)]
                group = SweepGroup(
                    encoder=encoder,
                    task=spec.name,
                    protocol=protocol_name,
                    dataset=spec.dataset,
                    light=bool(getattr(protocol, "light_cells", False)),
                )
                group.cells = [SweepCell(encoder, spec.name, protocol_name, float(f), int(s)) for f, s in grid]
                groups.append(group)
    return groups


def all_cells(groups: Sequence[SweepGroup]) -> list[SweepCell]:
    """Return every cell of ``groups`` in plan order."""
    return [cell for group in groups for cell in group.cells]


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``'i/n'`` (1-based shard ``i`` of ``n``) into ``(i, n)``.

    Raises:
        ConfigError: The text is not of the form i/n with 1 <= i <= n.
    """
    index_text, _, count_text = text.partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ConfigError(f"--shard '{text}' is invalid; expected i/n such as 1/4") from None
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard '{text}' is invalid; expected i/n with 1 <= i <= n, such as 1/4")
    return index, count


def select_shard(groups: Sequence[SweepGroup], index: int, count: int) -> list[SweepGroup]:
    """Keep shard ``index`` of ``count`` (1-based) of the cells.

    The cells, in plan order, are cut into ``count`` contiguous runs whose sizes differ by at
    most one. Contiguous runs keep most cells of a group, and so of one embedding pass, on one
    shard. The shards are disjoint and together hold every cell.
    """
    cells = all_cells(groups)
    start = (index - 1) * len(cells) // count
    stop = index * len(cells) // count
    chosen = set(cells[start:stop])

    selected = []
    for group in groups:
        kept = [cell for cell in group.cells if cell in chosen]
        if kept:
            selected.append(SweepGroup(group.encoder, group.task, group.protocol, group.dataset, group.light, kept))
    return selected


def plan_items(groups: Sequence[SweepGroup], *, parallel: bool) -> list[WorkItem]:
    """Turn groups into work items.

    Args:
        groups: The groups to run, in plan order.
        parallel: False for one process running items in order: one item per group, and no
            prepare items (the first run that needs a dataset or model makes it). True for
            process pools and Ray, where items run at the same time:

            - one ``prepare`` item per dataset and per encoder, which every item of that dataset
              or encoder waits for, so synthetic data is generated and a model trained on first
              use is trained before any run needs it, not by several runs at once;
            - per (encoder, dataset), the first light group is an ``embed`` item that makes the
              embedding cache entry; the other light groups of that pair wait for it and run as
              ``light`` items reading the cache;
            - a group of heavy cells (fine-tune, detection) runs its first cell alone (it does
              the group's shared work, e.g. caching feature maps), then one ``train`` item per
              remaining cell.

    Returns:
        The items; every item's dependencies come before it.
    """
    if not parallel:
        return [
            WorkItem(id=index, kind="light" if group.light else "train", runs=[WorkRun(group, list(group.cells))])
            for index, group in enumerate(groups)
        ]

    items: list[WorkItem] = []

    def add(kind: ItemKind, **fields) -> WorkItem:
        item = WorkItem(id=len(items), kind=kind, **fields)
        items.append(item)
        return item

    dataset_items = {}
    encoder_items = {}
    for group in groups:
        if group.dataset not in dataset_items:
            dataset_items[group.dataset] = add("prepare", prepare_dataset=group.dataset).id
        if group.encoder not in encoder_items:
            encoder_items[group.encoder] = add("prepare", prepare_encoder=group.encoder).id

    embed_items: dict[tuple[str, str], int] = {}
    for group in groups:
        prepared = [dataset_items[group.dataset], encoder_items[group.encoder]]
        if group.light:
            pair = (group.encoder, group.dataset)
            if pair not in embed_items:
                embed_items[pair] = add("embed", runs=[WorkRun(group, list(group.cells))], depends_on=prepared).id
            else:
                add("light", runs=[WorkRun(group, list(group.cells))], depends_on=[*prepared, embed_items[pair]])
            continue
        first, *rest = group.cells
        lead = add("train", runs=[WorkRun(group, [first])], depends_on=prepared).id
        for cell in rest:
            add("train", runs=[WorkRun(group, [cell])], depends_on=[*prepared, lead])
    return items


def _task_protocols(
    requested: Sequence[str], task: str, supported: Sequence[str], default: str
) -> list[str]:
    chosen = []
    for name in requested:
        protocol = default if name == DEFAULT_PROTOCOL else name
        if protocol not in supported:
            logger.info("task '%s' does not support protocol '%s'; skipping it for this task", task, protocol)
            continue
        if protocol not in chosen:
            chosen.append(protocol)
    if not chosen:
        raise ConfigError(
            f"task '{task}' supports none of the protocols {list(requested)}; it supports "
            f"{', '.join(supported)}. Add one of them (or 'default') to 'protocols'"
        )
    return chosen


def _check_named_datasets(config: SweepConfig, used: set[str], host: PluginHost) -> None:
    for table, named in (("data_roots", config.data_roots), ("synthetic", config.synthetic)):
        for dataset in sorted(set(named) - used):
            host.dataset(dataset)  # a name no plugin registers is a typo: UnknownNameError
            logger.info("%s names dataset '%s', which no task of this sweep reads; ignoring it", table, dataset)
    both = sorted(set(config.data_roots) & set(config.synthetic))
    if both:
        raise ConfigError(
            f"dataset(s) {', '.join(both)} have both a data root and synthetic settings; keep one"
        )
    for dataset, settings in config.synthetic.items():
        synthetic_config(dataset, settings)  # raises ConfigError naming the invalid setting


def _check_named_encoders(config: SweepConfig, host: PluginHost) -> None:
    for encoder in sorted(set(config.weights) - set(config.encoders)):
        host.encoder(encoder)  # a name no plugin registers is a typo: UnknownNameError
        logger.info("weights names encoder '%s', which this sweep does not run; ignoring it", encoder)
