"""Wording and number formats shared by the Markdown and HTML pages."""

from __future__ import annotations

from collections import Counter

from mammobench.leaderboard.plots import metric_label
from mammobench.leaderboard.table import Column, Entry, Leaderboard
from mammobench.plural import counted

MISSING = "–"
NOT_APPLICABLE = "n/a"
SEEN_MARK = "†"

SYNTHETIC_WARNING = (
    "Every number on this page comes from synthetic mammograms drawn by mammobench's "
    "generator. They show that the pipeline runs end to end and say nothing about clinical "
    "performance."
)


def value(number: float | None) -> str:
    """Format a metric value with three decimals."""
    return MISSING if number is None else f"{number:.3f}"


def fraction(number: float) -> str:
    """Format a label fraction as a percentage, e.g. '10%'; 0 is 'no labels' (zero-shot)."""
    return "no labels" if number == 0 else f"{number * 100:g}%"


def mean_sd(entry: Entry) -> str:
    """Return e.g. '0.612 ± 0.020 (n=3)', '0.612 (n=1)', '–' or 'n/a'."""
    if entry.mean is None:
        return NOT_APPLICABLE if entry.incompatible else MISSING
    spread = f" ± {entry.sd:.3f}" if entry.sd is not None else ""
    return f"{entry.mean:.3f}{spread} (n={entry.n})"


def interval(entry: Entry) -> str:
    """Return e.g. '[0.550, 0.671]' or '' when the entry has no interval."""
    if entry.ci_low is None or entry.ci_high is None:
        return ""
    return f"[{entry.ci_low:.3f}, {entry.ci_high:.3f}]"


def column_heading(column: Column, fraction_shown: float | None = None) -> str:
    """Return e.g. 'vindr-mass AUC' (with the protocol when it is not the linear probe)."""
    heading = f"{column.task} {metric_label(column.metric)}"
    if column.protocol != "linear-probe":
        heading += f" ({column.protocol})"
    if fraction_shown is not None and fraction_shown != 1.0:
        heading += f" @ {fraction(fraction_shown)}"
    return heading


def pretraining(datasets: list[str]) -> str:
    """Return the datasets an encoder saw in pretraining, or 'none' (random initialisation)."""
    return ", ".join(datasets) if datasets else "none"


def entry_notes(entry: Entry) -> str:
    """Reasons of the seeds without a value, for tooltips."""
    return "; ".join(entry.notes)


def provenance_lines(board: Leaderboard) -> list[str]:
    """Sentences on the data source, the commits and the result files, without markup."""
    inputs = board.inputs
    lines = []
    sources = "; ".join(f"{dataset}: {', '.join(found)}" for dataset, found in board.data_sources.items())
    if board.synthetic:
        lines.append(f"Data source: synthetic mammograms from mammobench's generator ({sources}).")
    else:
        lines.append(f"Data source: {sources}.")

    commits: Counter = Counter()
    versions: Counter = Counter()
    sweeps: Counter = Counter()
    for cell in inputs.cells:
        run = inputs.runs.get(cell.run_id)
        if run is None or run.git_commit is None:
            commits["unknown commit"] += 1
        else:
            dirty = " with uncommitted changes" if run.git_dirty else ""
            commits[f"{run.git_commit[:12]}{dirty}"] += 1
        versions[run.mammobench_version if run and run.mammobench_version else "unknown"] += 1
        if run is not None and run.sweep_sha256:
            sweeps[f"'{run.sweep_name}' (config SHA-256 {run.sweep_sha256[:12]})"] += 1
        else:
            sweeps["no sweep"] += 1

    lines.append(
        f"Built from {counted(len(inputs.cells), 'result cell')} in {', '.join(inputs.folders)} "
        f"(records SHA-256 {inputs.records_sha256[:16]})."
    )
    lines.append("Computed by mammobench " + _counted(versions) + " at commit " + _counted(commits) + ".")
    if set(sweeps) != {"no sweep"}:
        label = "Sweep " if len(sweeps) == 1 else "Sweeps: "
        lines.append(label + _counted(sweeps) + ".")
    return lines


def method_lines(board: Leaderboard) -> list[str]:
    """Sentences explaining the numbers and the ranking."""
    level = next(
        (entry.ci_level for row in board.rows for entry in row.entries.values() if entry.ci_level),
        0.95,
    )
    return [
        "Each entry is the task's main metric on the test split: mean ± sd over seeds, with n the "
        "number of seeds whose value is defined. Seeds change the label subset and the training. "
        "At 100% every seed trains on the same patients, so a deterministic protocol such as the "
        "linear probe has sd 0 there.",
        f"Confidence intervals: {level * 100:g}% percentile bootstrap over test patients, computed per "
        "seed; the bounds shown are averaged over seeds.",
        "Ranking: in every (task, label fraction) that has results, the complete encoders are ranked "
        "(1 = best, ties share the mean rank). A task rank is the mean over that task's fractions "
        "and the overall score is the mean over tasks. Only encoders with a result in every such "
        f"entry are ranked; a missing entry shows {MISSING} and the encoder gets no overall score. "
        f"{NOT_APPLICABLE} marks tasks the encoder cannot serve.",
        f"{SEEN_MARK} marks results on a dataset the encoder saw in pretraining: they are not "
        "held-out evaluations.",
    ]


def _counted(counts: Counter) -> str:
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{name} ({counted(n, 'cell')})" for name, n in sorted(counts.items()))
