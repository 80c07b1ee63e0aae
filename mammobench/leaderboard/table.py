"""Aggregate cells into a leaderboard: entries per encoder, task and label fraction, and ranks.

- A row is an encoder (one row per weights revision when an encoder has results from several).
- A column is a (task, task version, protocol); its metric is the task's main metric.
- An entry is one row, column and label fraction: mean ± sd of the main metric over seeds,
  with n the number of seeds whose value is defined. Its confidence interval is the cells'
  patient bootstrap interval on the test split, with the bounds averaged over seeds.
- Ranking is complete-case. A slot is a (column, label fraction) where at least one encoder has
  a value. A row is complete when it has a value in every slot, and only complete rows get
  ranks. Within each slot the complete rows are ranked (1 = best, ties share the mean rank),
  a row's task rank is the mean of its ranks over that task's fractions, and its overall score
  is the mean of its task ranks. A row with a missing entry gets no overall score.
- An entry is marked when the task's dataset is among the datasets the encoder saw in
  pretraining: such a result is not a held-out evaluation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mammobench.errors import DataError
from mammobench.leaderboard.inputs import CellInput, LeaderboardInputs
from mammobench.results.records import RecordStatus

# Revision of cells whose encoder was never built (see mammobench.runner.UNBUILT_REVISION).
_UNBUILT_REVISION = "not-built"

# When a seed has several cells in one row (an old error and a later result), the best wins.
_STATUS_ORDER = {
    RecordStatus.OK: 0,
    RecordStatus.INVALID: 1,
    RecordStatus.INCOMPATIBLE: 2,
    RecordStatus.ERROR: 3,
}


@dataclass(frozen=True, order=True)
class Column:
    """One task and protocol; its values are the task's main metric."""

    task: str
    task_version: str
    protocol: str
    dataset: str
    metric: str
    higher_is_better: bool
    kind: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.task_version, self.protocol)

    @property
    def slug(self) -> str:
        """File-name-safe id, e.g. 'vindr-mass-v1-linear-probe'."""
        text = f"{self.task}-v{self.task_version}-{self.protocol}"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


@dataclass
class Entry:
    """One row, column and label fraction.

    Attributes:
        values: Defined main-metric values, one per seed, in seed order.
        seeds: Seeds with a defined value.
        mean: Mean of ``values``; None when there are none.
        sd: Sample standard deviation over seeds (n - 1); None with fewer than two values.
        ci_low: Mean over seeds of the lower confidence bound; None when no seed has one.
        ci_high: Mean over seeds of the upper confidence bound.
        ci_level: Coverage of the intervals, e.g. 0.95.
        statuses: Number of seeds per final status (``ok``, ``invalid``, ...).
        notes: Reasons and errors of the seeds without a value, de-duplicated.
        seen_in_pretraining: The encoder saw this column's dataset in pretraining.
    """

    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seen_in_pretraining: bool = False

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def incompatible(self) -> bool:
        """True when every seed is ``incompatible`` (the encoder cannot serve the task)."""
        return bool(self.statuses) and set(self.statuses) == {RecordStatus.INCOMPATIBLE.value}


@dataclass
class Row:
    """One encoder (at one weights revision when it has results from several)."""

    encoder: str
    label: str
    revisions: list[str]
    pretraining_datasets: list[str]
    entries: dict[tuple[tuple[str, str, str], float], Entry] = field(default_factory=dict)
    task_ranks: dict[tuple[str, str, str], float] = field(default_factory=dict)
    mean_rank: float | None = None
    rank: int | None = None

    def entry(self, column: Column, fraction: float) -> Entry:
        return self.entries.get((column.key, fraction), Entry())


@dataclass
class Leaderboard:
    """The aggregated leaderboard, ready to render.

    Attributes:
        name: Short name, e.g. 'synthetic'.
        synthetic: True when the results come from synthetic data.
        data_sources: Dataset name to the data sources of its results: data roots, or the
            generator version and settings of synthetic data.
        datasets: Datasets of the columns.
        columns: Columns, sorted by task, version and protocol.
        fractions: Per column key, its label fractions, ascending.
        rows: Ranked rows first (by rank, then label), then unranked rows by label.
        slots: The (column key, fraction) pairs that ranking uses.
        inputs: What the leaderboard was built from.
    """

    name: str
    synthetic: bool
    data_sources: dict[str, list[str]]
    datasets: list[str]
    columns: list[Column]
    fractions: dict[tuple[str, str, str], list[float]]
    rows: list[Row]
    slots: list[tuple[tuple[str, str, str], float]]
    inputs: LeaderboardInputs

    @property
    def title(self) -> str:
        suffix = " (SYNTHETIC data)" if self.synthetic else ""
        return f"mammobench leaderboard: {self.name}{suffix}"

    def headline_fraction(self, column: Column) -> float:
        """Return the label fraction shown in the overview table: the column's largest."""
        return self.fractions[column.key][-1]

    @property
    def ranked(self) -> list[Row]:
        return [row for row in self.rows if row.rank is not None]


def build_table(inputs: LeaderboardInputs, name: str) -> Leaderboard:
    """Aggregate the cells of ``inputs`` into a leaderboard; see the module docstring.

    Raises:
        DataError: There are no cells, the results mix synthetic and real data, or one task's
            cells disagree on its main metric, direction or dataset.
    """
    if not inputs.cells:
        raise DataError("no result cells to build a leaderboard from")
    synthetic, sources = _data_sources(inputs.cells)
    columns = _columns(inputs.cells)
    by_key = {column.key: column for column in columns}
    fractions: dict[tuple[str, str, str], list[float]] = {
        column.key: sorted({cell.fraction for cell in inputs.cells if _column_key(cell) == column.key})
        for column in columns
    }

    rows = [_row(label, row_cells, by_key) for label, row_cells in _row_cells(inputs.cells)]
    slots = [
        (key, fraction)
        for key in (column.key for column in columns)
        for fraction in fractions[key]
        if any(row.entries.get((key, fraction), Entry()).n > 0 for row in rows)
    ]
    _rank(rows, slots, by_key)
    rows.sort(key=lambda row: (row.rank is None, row.mean_rank if row.mean_rank is not None else 0.0, row.label))

    return Leaderboard(
        name=name,
        synthetic=synthetic,
        data_sources=sources,
        datasets=sorted({column.dataset for column in columns}),
        columns=columns,
        fractions=fractions,
        rows=rows,
        slots=slots,
        inputs=inputs,
    )


def rank_values(values: Sequence[float], higher_is_better: bool) -> list[float]:
    """Rank values, 1 = best; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: -values[i] if higher_is_better else values[i])
    ranks = [0.0] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        shared = (position + end) / 2 + 1
        for index in order[position : end + 1]:
            ranks[index] = shared
        position = end + 1
    return ranks


def _data_sources(cells: Sequence[CellInput]) -> tuple[bool, dict[str, list[str]]]:
    loaded = [cell for cell in cells if cell.status is not RecordStatus.ERROR]
    kinds = {cell.synthetic for cell in loaded}
    if len(kinds) > 1:
        synthetic_tasks = sorted({cell.task for cell in loaded if cell.synthetic})
        raise DataError(
            "the results mix synthetic and real data (synthetic: "
            f"{', '.join(synthetic_tasks)}); build one leaderboard per data source"
        )
    sources: dict[str, set[str]] = defaultdict(set)
    for cell in loaded:
        sources[cell.dataset].add(cell.data_source)
    return (kinds == {True}), {dataset: sorted(sources[dataset]) for dataset in sorted(sources)}


def _column_key(cell: CellInput) -> tuple[str, str, str]:
    return (cell.task, cell.task_version, cell.protocol)


def _columns(cells: Sequence[CellInput]) -> list[Column]:
    found: dict[tuple[str, str, str], Column] = {}
    for cell in cells:
        column = Column(
            task=cell.task,
            task_version=cell.task_version,
            protocol=cell.protocol,
            dataset=cell.dataset,
            metric=cell.main_metric,
            higher_is_better=cell.higher_is_better,
            kind=cell.task_kind,
        )
        previous = found.setdefault(column.key, column)
        if previous != column:
            raise DataError(
                f"cells of task '{cell.task}' v{cell.task_version} disagree on its dataset, main "
                f"metric or direction ({previous.dataset}/{previous.metric} vs "
                f"{column.dataset}/{column.metric}); cell file '{cell.file}' differs"
            )
    return sorted(found.values())


def _row_cells(cells: Sequence[CellInput]) -> list[tuple[str, list[CellInput]]]:
    """Split cells into labelled rows: one per encoder, or per revision when there are several.

    Cells of a run whose encoder was never built (revision 'not-built': incompatible cells,
    or errors before the encoder was built) belong to every row of their encoder.
    """
    by_encoder: dict[str, list[CellInput]] = defaultdict(list)
    for cell in cells:
        by_encoder[cell.encoder].append(cell)

    rows = []
    for encoder in sorted(by_encoder):
        encoder_cells = by_encoder[encoder]
        built = sorted({c.encoder_revision for c in encoder_cells if c.encoder_revision != _UNBUILT_REVISION})
        if len(built) <= 1:
            rows.append((encoder, encoder_cells))
            continue
        unbuilt = [c for c in encoder_cells if c.encoder_revision == _UNBUILT_REVISION]
        for revision in built:
            revision_cells = [c for c in encoder_cells if c.encoder_revision == revision]
            rows.append((f"{encoder}@{revision}", revision_cells + unbuilt))
    return rows


def _row(label: str, cells: list[CellInput], columns: dict[tuple[str, str, str], Column]) -> Row:
    encoder = cells[0].encoder
    revisions = sorted({cell.encoder_revision for cell in cells})
    pretraining = sorted({name for cell in cells for name in cell.pretraining_datasets})
    row = Row(encoder=encoder, label=label, revisions=revisions, pretraining_datasets=pretraining)

    grouped: dict[tuple[tuple[str, str, str], float], dict[int, CellInput]] = defaultdict(dict)
    for cell in sorted(cells, key=lambda c: (_STATUS_ORDER[c.status], c.cell_id)):
        grouped[(_column_key(cell), cell.fraction)].setdefault(cell.seed, cell)
    for slot, seeds in grouped.items():
        column = columns[slot[0]]
        row.entries[slot] = _entry([seeds[seed] for seed in sorted(seeds)], column, pretraining)
    return row


def _entry(cells: Sequence[CellInput], column: Column, pretraining: Iterable[str]) -> Entry:
    entry = Entry(seen_in_pretraining=column.dataset.lower() in set(pretraining))
    bounds = []
    for cell in cells:
        entry.statuses[cell.status.value] = entry.statuses.get(cell.status.value, 0) + 1
        if cell.value is not None:
            entry.values.append(float(cell.value))
            entry.seeds.append(cell.seed)
            if cell.ci_low is not None and cell.ci_high is not None:
                bounds.append((cell.ci_low, cell.ci_high))
                entry.ci_level = cell.ci_level
        elif cell.reason:
            note = f"{cell.status.value}: {cell.reason}"
            if note not in entry.notes:
                entry.notes.append(note)

    if entry.values:
        entry.mean = math.fsum(entry.values) / entry.n
    if entry.n > 1:
        assert entry.mean is not None
        entry.sd = math.sqrt(math.fsum((v - entry.mean) ** 2 for v in entry.values) / (entry.n - 1))
    if bounds:
        entry.ci_low = math.fsum(low for low, _ in bounds) / len(bounds)
        entry.ci_high = math.fsum(high for _, high in bounds) / len(bounds)
    return entry


def _rank(
    rows: list[Row],
    slots: list[tuple[tuple[str, str, str], float]],
    columns: dict[tuple[str, str, str], Column],
) -> None:
    complete = [row for row in rows if slots and all(row.entries.get(slot, Entry()).n > 0 for slot in slots)]
    if not complete:
        return

    slot_ranks: dict[tuple[tuple[str, str, str], float], list[float]] = {}
    for slot in slots:
        means = [row.entries[slot].mean for row in complete]
        slot_ranks[slot] = rank_values([float(m) for m in means], columns[slot[0]].higher_is_better)

    for index, row in enumerate(complete):
        for key in dict.fromkeys(slot[0] for slot in slots):
            ranks = [slot_ranks[slot][index] for slot in slots if slot[0] == key]
            row.task_ranks[key] = math.fsum(ranks) / len(ranks)
        row.mean_rank = math.fsum(row.task_ranks.values()) / len(row.task_ranks)

    # Competition ranking: equal mean ranks share a position, the next position is skipped.
    ordered = sorted(complete, key=lambda row: (row.mean_rank, row.label))
    for position, row in enumerate(ordered, start=1):
        previous = ordered[position - 2] if position > 1 else None
        if previous is not None and math.isclose(previous.mean_rank, row.mean_rank, abs_tol=1e-12):
            row.rank = previous.rank
        else:
            row.rank = position
