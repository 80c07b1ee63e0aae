"""The leaderboard as CSV (one row per encoder, task and label fraction) and as JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from mammobench.leaderboard.table import Column, Entry, Leaderboard, Row

# Identifies leaderboard.json files; bump the version when a field changes meaning.
JSON_FORMAT = "mammobench-leaderboard"
JSON_VERSION = 1

# Decimals kept in CSV and JSON, so tiny floating-point differences between platforms do not
# change the files.
DECIMALS = 6

CSV_COLUMNS = (
    "encoder",
    "encoder_revisions",
    "pretraining_datasets",
    "task",
    "task_version",
    "protocol",
    "dataset",
    "metric",
    "higher_is_better",
    "fraction",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "ci_level",
    "seen_in_pretraining",
    "statuses",
    "rank",
    "mean_rank",
)


def render_csv(board: Leaderboard) -> str:
    """Return the CSV text: one row per encoder, column and label fraction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in board.rows:
        for column in board.columns:
            for fraction in board.fractions[column.key]:
                entry = row.entry(column, fraction)
                writer.writerow(
                    [
                        row.label,
                        " ".join(row.revisions),
                        " ".join(row.pretraining_datasets),
                        column.task,
                        column.task_version,
                        column.protocol,
                        column.dataset,
                        column.metric,
                        str(column.higher_is_better).lower(),
                        _number(fraction),
                        entry.n,
                        _number(entry.mean),
                        _number(entry.sd),
                        _number(entry.ci_low),
                        _number(entry.ci_high),
                        _number(entry.ci_level),
                        str(entry.seen_in_pretraining).lower(),
                        _statuses(entry),
                        "" if row.rank is None else row.rank,
                        _number(row.mean_rank),
                    ]
                )
    return buffer.getvalue()


def render_json(board: Leaderboard) -> str:
    """Return the JSON text: everything shown, plus what the leaderboard was built from."""
    inputs = board.inputs
    payload: dict[str, Any] = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "name": board.name,
        "title": board.title,
        "synthetic": board.synthetic,
        "data_sources": board.data_sources,
        "datasets": board.datasets,
        "inputs": {
            "results": inputs.folders,
            "cells": len(inputs.cells),
            "records_sha256": inputs.records_sha256,
            "files": inputs.files,
        },
        "provenance": _provenance(board),
        "columns": [_column(board, column) for column in board.columns],
        "ranking_slots": [
            {"task": key[0], "task_version": key[1], "protocol": key[2], "fraction": fraction}
            for key, fraction in board.slots
        ],
        "rows": [_row(board, row) for row in board.rows],
    }
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _provenance(board: Leaderboard) -> dict[str, Any]:
    inputs = board.inputs
    commits: Counter = Counter()
    versions: Counter = Counter()
    sweeps: Counter = Counter()
    for cell in inputs.cells:
        run = inputs.runs.get(cell.run_id)
        commits[(run.git_commit if run else None, run.git_dirty if run else None)] += 1
        versions[(run.mammobench_version if run else None) or "unknown"] += 1
        if run is not None and run.sweep_sha256:
            sweeps[(run.sweep_name, run.sweep_sha256)] += 1
    return {
        "commits": [
            {"commit": commit, "dirty": dirty, "cells": n}
            for (commit, dirty), n in sorted(commits.items(), key=lambda item: (str(item[0][0]), str(item[0][1])))
        ],
        "mammobench_versions": dict(sorted(versions.items())),
        "sweeps": [
            {"name": name, "config_sha256": sha256, "cells": n} for (name, sha256), n in sorted(sweeps.items())
        ],
    }


def _column(board: Leaderboard, column: Column) -> dict[str, Any]:
    return {
        "task": column.task,
        "task_version": column.task_version,
        "protocol": column.protocol,
        "dataset": column.dataset,
        "kind": column.kind,
        "metric": column.metric,
        "higher_is_better": column.higher_is_better,
        "fractions": board.fractions[column.key],
        "plot": f"plots/{column.slug}",
    }


def _row(board: Leaderboard, row: Row) -> dict[str, Any]:
    entries = []
    for column in board.columns:
        for fraction in board.fractions[column.key]:
            entry = row.entry(column, fraction)
            entries.append(
                {
                    "task": column.task,
                    "task_version": column.task_version,
                    "protocol": column.protocol,
                    "fraction": fraction,
                    **_entry(entry),
                }
            )
    return {
        "label": row.label,
        "encoder": row.encoder,
        "revisions": row.revisions,
        "pretraining_datasets": row.pretraining_datasets,
        "rank": row.rank,
        "mean_rank": _round(row.mean_rank),
        "task_ranks": [
            {"task": key[0], "task_version": key[1], "protocol": key[2], "rank": _round(rank)}
            for key, rank in sorted(row.task_ranks.items())
        ],
        "entries": entries,
    }


def _entry(entry: Entry) -> dict[str, Any]:
    return {
        "n": entry.n,
        "seeds": entry.seeds,
        "values": [_round(value) for value in entry.values],
        "mean": _round(entry.mean),
        "sd": _round(entry.sd),
        "ci_low": _round(entry.ci_low),
        "ci_high": _round(entry.ci_high),
        "ci_level": entry.ci_level,
        "statuses": dict(sorted(entry.statuses.items())),
        "notes": entry.notes,
        "seen_in_pretraining": entry.seen_in_pretraining,
    }


def _statuses(entry: Entry) -> str:
    return " ".join(f"{status}={n}" for status, n in sorted(entry.statuses.items()))


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return repr(round(float(value), DECIMALS))
