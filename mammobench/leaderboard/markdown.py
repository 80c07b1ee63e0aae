"""The leaderboard as Markdown (the leaderboard folder's README.md)."""

from __future__ import annotations

from mammobench.leaderboard import text
from mammobench.leaderboard.plots import Plot, metric_label
from mammobench.leaderboard.table import Entry, Leaderboard, Row


def render_markdown(board: Leaderboard, plots: list[Plot], plots_dir: str) -> str:
    """Return the Markdown page: overview table, one section per task, notes and provenance."""
    lines = [f"# {board.title}", ""]
    if board.synthetic:
        lines += [f"> **Synthetic data.** {text.SYNTHETIC_WARNING}", ""]
    lines += [" ".join(text.provenance_lines(board)), ""]

    lines += ["## Overall ranking", ""]
    lines += _overview(board)
    lines += [""]
    if not board.ranked:
        lines += ["No encoder has a result in every entry, so none is ranked.", ""]
    lines += [
        "Entries show the largest label fraction of each task (100% unless the heading says "
        "otherwise). " + text.method_lines(board)[0],
        "",
    ]

    plot_files = {plot.column.key: f"{plots_dir}/{plot.stem}.png" for plot in plots}
    for column in board.columns:
        lines += [f"## {column.task} ({column.protocol}, {metric_label(column.metric)})", ""]
        direction = "higher is better" if column.higher_is_better else "lower is better"
        lines += [f"Dataset {column.dataset}, task version {column.task_version}, {direction}.", ""]
        fractions = board.fractions[column.key]
        header = ["Encoder", *(f"{text.fraction(f)}" for f in fractions)]
        lines += [_table_row(header), _table_row(["---"] * len(header))]
        for row in board.rows:
            cells = [_escape(row.label)]
            for fraction in fractions:
                entry = row.entry(column, fraction)
                shown = _marked(entry, text.mean_sd(entry))
                ci = text.interval(entry)
                cells.append(f"{shown} {ci}".strip())
            lines.append(_table_row(cells))
        lines += ["", f"![{column.task} data efficiency]({plot_files[column.key]})", ""]

    lines += ["## Method", ""]
    lines += [f"- {line}" for line in text.method_lines(board)]
    lines += [""]
    return "\n".join(lines)


def _overview(board: Leaderboard) -> list[str]:
    header = ["Rank", "Encoder", "Pretraining data", "Mean rank"]
    header += [text.column_heading(column, board.headline_fraction(column)) for column in board.columns]
    lines = [_table_row(header), _table_row(["---"] * len(header))]
    for row in board.rows:
        lines.append(_table_row(_overview_cells(board, row)))
    return lines


def _overview_cells(board: Leaderboard, row: Row) -> list[str]:
    cells = [
        str(row.rank) if row.rank is not None else text.MISSING,
        _escape(row.label),
        _escape(text.pretraining(row.pretraining_datasets)),
        f"{row.mean_rank:.2f}" if row.mean_rank is not None else text.MISSING,
    ]
    for column in board.columns:
        entry = row.entry(column, board.headline_fraction(column))
        cells.append(_marked(entry, text.mean_sd(entry)))
    return cells


def _marked(entry: Entry, shown: str) -> str:
    return f"{shown} {text.SEEN_MARK}" if entry.seen_in_pretraining and entry.mean is not None else shown


def _table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _escape(value: str) -> str:
    return value.replace("|", "\\|")
