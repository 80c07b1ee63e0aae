"""Build a leaderboard folder from result folders, and check a committed one against a rebuild.

A leaderboard folder contains what the build writes::

    README.md           Markdown: overview, one section per task, method, provenance
    leaderboard.csv     one row per encoder, task and label fraction
    leaderboard.json    everything above, plus the inputs the check rebuilds from
    index.html          self-contained page (inline CSS, plots as SVG data URIs)
    plots/<task>.png    data-efficiency plot per task, and the same as .svg

and usually also the inputs (``sweep.toml``, ``results/``), which the build never touches. The
build is a pure function of the result files: no time, host or absolute path is written, and
everything is sorted, so the same records give byte-identical files with the same matplotlib.
"""

from __future__ import annotations

import difflib
import json
import re
import tempfile
from base64 import b64decode
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mammobench.errors import DataError
from mammobench.leaderboard.html import SVG_DATA_PREFIX, render_html
from mammobench.leaderboard.inputs import read_inputs
from mammobench.leaderboard.markdown import render_markdown
from mammobench.leaderboard.plots import plot_metadata, render_plots
from mammobench.leaderboard.table import Leaderboard, build_table
from mammobench.leaderboard.tabular import JSON_FORMAT, render_csv, render_json
from mammobench.results.atomic import write_atomic

MARKDOWN_FILE = "README.md"
CSV_FILE = "leaderboard.csv"
JSON_FILE = "leaderboard.json"
HTML_FILE = "index.html"
PLOTS_DIR = "plots"
OUTPUT_FILES = (MARKDOWN_FILE, CSV_FILE, JSON_FILE, HTML_FILE)

# Lines of a text diff shown per differing file.
_MAX_DIFF_LINES = 40


@dataclass
class BuildResult:
    """Files written by one build."""

    folder: Path
    board: Leaderboard
    files: list[str]
    removed: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    """Differences between a committed leaderboard and a rebuild from its inputs.

    Attributes:
        problems: One readable paragraph per differing, missing or stale file.
        notes: Differences that do not fail the check (plots drawn by another matplotlib
            version from the same data).
    """

    folder: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_leaderboard(
    results: Sequence[Path | str],
    out: Path | str,
    *,
    name: str | None = None,
    base: Path | str | None = None,
) -> BuildResult:
    """Build the leaderboard of ``results`` into ``out``.

    Args:
        results: Result folders.
        out: Leaderboard folder; created when missing. Plot files of tasks that are no longer
            in the results are removed.
        name: Name in the title; the name of the folder ``base`` by default.
        base: Folder that paths in the output are written relative to; ``out`` by default.
            :func:`check_leaderboard` builds into a temporary folder with the committed
            folder as ``base``.

    Raises:
        DataError: The results are missing or inconsistent (see :func:`read_inputs` and
            :func:`build_table`).
    """
    out = Path(out)
    base = Path(base) if base is not None else out
    name = name or base.absolute().name
    inputs = read_inputs([Path(folder) for folder in results], base)
    board = build_table(inputs, name)
    files = render_files(board)

    out.mkdir(parents=True, exist_ok=True)
    for relative, data in files.items():
        _write(out / relative, data)
    removed = []
    for stale in _stale(out, files):
        (out / stale).unlink()
        removed.append(stale)
    return BuildResult(folder=out, board=board, files=sorted(files), removed=removed)


def render_files(board: Leaderboard) -> dict[str, bytes]:
    """Render every output file of a leaderboard; keys are paths relative to its folder."""
    plots = render_plots(board)
    files = {
        MARKDOWN_FILE: render_markdown(board, plots, PLOTS_DIR).encode("utf-8"),
        CSV_FILE: render_csv(board).encode("utf-8"),
        JSON_FILE: render_json(board).encode("utf-8"),
        HTML_FILE: render_html(board, plots).encode("utf-8"),
    }
    for plot in plots:
        files[f"{PLOTS_DIR}/{plot.stem}.png"] = plot.png
        files[f"{PLOTS_DIR}/{plot.stem}.svg"] = plot.svg
    return dict(sorted(files.items()))


def check_leaderboard(folder: Path | str) -> CheckResult:
    """Rebuild a leaderboard from the inputs named in its JSON and compare every file.

    Text files must be byte-identical. A plot, or the HTML page that embeds the plots, that
    differs only because another matplotlib version drew the same data is noted, not failed:
    each plot stores the SHA-256 of its data and the renderer's version.

    Raises:
        DataError: The folder has no leaderboard.json, or its inputs cannot be read.
    """
    folder = Path(folder)
    meta = _read_meta(folder)
    result = CheckResult(folder=folder)
    results = [folder / relative for relative in meta["inputs"]["results"]]
    with tempfile.TemporaryDirectory(prefix="mammobench-leaderboard-") as temporary:
        rebuilt = build_leaderboard(results, temporary, name=meta["name"], base=folder)
        expected = {relative: (Path(temporary) / relative).read_bytes() for relative in rebuilt.files}

    for relative, data in expected.items():
        committed_path = folder / relative
        if not committed_path.is_file():
            result.problems.append(f"{relative}: missing; the build writes it")
            continue
        committed = committed_path.read_bytes()
        if committed != data:
            _compare(relative, committed, data, result)
    for stale in _stale(folder, expected):
        result.problems.append(f"{stale}: stale; the build no longer writes it")
    return result


def _compare(relative: str, committed: bytes, rebuilt: bytes, result: CheckResult) -> None:
    suffix = Path(relative).suffix.lstrip(".")
    if suffix in ("png", "svg"):
        old, new = plot_metadata(committed, suffix), plot_metadata(rebuilt, suffix)
        if old["fingerprint"] and old["fingerprint"] == new["fingerprint"] and old["renderer"] != new["renderer"]:
            result.notes.append(
                f"{relative}: same data drawn by {new['renderer'] or 'another renderer'} (committed: "
                f"{old['renderer'] or 'unknown'}); not compared byte for byte"
            )
            return
        if old["fingerprint"] != new["fingerprint"]:
            result.problems.append(f"{relative}: the plotted data changed ({_short(old['fingerprint'])} -> {_short(new['fingerprint'])})")
        else:
            result.problems.append(f"{relative}: same data and renderer, but the bytes differ")
        return

    old_text = committed.decode("utf-8", errors="replace")
    new_text = rebuilt.decode("utf-8", errors="replace")
    if suffix == "html":
        old_text, old_renderers = _without_plots(old_text)
        new_text, new_renderers = _without_plots(new_text)
        if old_text == new_text:
            result.notes.append(
                f"{relative}: same content; its plots were drawn by {', '.join(sorted(new_renderers)) or 'another renderer'} "
                f"(committed: {', '.join(sorted(old_renderers)) or 'unknown'})"
            )
            return
    diff = list(
        difflib.unified_diff(
            old_text.splitlines(),
            new_text.splitlines(),
            fromfile=f"committed/{relative}",
            tofile=f"rebuilt/{relative}",
            lineterm="",
            n=1,
        )
    )
    shown = diff[:_MAX_DIFF_LINES]
    if len(diff) > _MAX_DIFF_LINES:
        shown.append(f"... {len(diff) - _MAX_DIFF_LINES} more diff lines")
    result.problems.append(f"{relative}: differs from a rebuild\n" + "\n".join(shown))


def _without_plots(html: str) -> tuple[str, set[str]]:
    """Replace each embedded SVG plot by its data fingerprint; return the renderers seen."""
    renderers: set[str] = set()

    def replace(match: re.Match) -> str:
        meta = plot_metadata(b64decode(match.group(1)), "svg")
        renderers.add(meta["renderer"])
        return f"{SVG_DATA_PREFIX}{meta['fingerprint']}"

    pattern = re.escape(SVG_DATA_PREFIX) + r"([A-Za-z0-9+/=]+)"
    return re.sub(pattern, replace, html), renderers


def _read_meta(folder: Path) -> dict:
    path = folder / JSON_FILE
    if not path.is_file():
        raise DataError(
            f"'{folder}' has no {JSON_FILE}; build it first with 'mammobench leaderboard build "
            f"RESULTS --out {folder}'"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"'{path}' is not valid JSON: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != JSON_FORMAT or "inputs" not in meta:
        raise DataError(f"'{path}' is not a mammobench leaderboard file")
    return meta


def _stale(folder: Path, files: dict[str, bytes] | Sequence[str]) -> list[str]:
    """Plot files in ``folder`` that the build does not write."""
    plots = folder / PLOTS_DIR
    if not plots.is_dir():
        return []
    written = set(files)
    return sorted(
        f"{PLOTS_DIR}/{path.name}"
        for path in plots.iterdir()
        if path.suffix in (".png", ".svg") and f"{PLOTS_DIR}/{path.name}" not in written
    )


def _write(path: Path, data: bytes) -> None:
    """Write atomically, then make the file world-readable (temporary files are 0600)."""
    write_atomic(path, data)
    path.chmod(0o644)


def _short(fingerprint: str) -> str:
    return fingerprint.rsplit(":", 1)[-1][:12] or "none"
