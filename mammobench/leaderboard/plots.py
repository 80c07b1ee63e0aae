"""Data-efficiency plots: the main metric against the label fraction, one line per encoder.

Plots are drawn with matplotlib's Agg and SVG canvases, without pyplot, so no global backend is
changed. The output is byte-identical for the same data and the same matplotlib version: fonts
are matplotlib's bundled DejaVu Sans, SVG text is drawn as paths, SVG ids come from a fixed
salt, and no date is written. Each file carries the SHA-256 of the data it shows and the
matplotlib version that drew it in its metadata (PNG text chunks, SVG ``<metadata>``), so a
check can tell a change of data from a change of renderer.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mammobench.leaderboard.table import Column, Leaderboard
from mammobench.results.records import canonical_json

# Metadata key of the data fingerprint, and the prefix of its value.
FINGERPRINT_KEY = "Description"
FINGERPRINT_PREFIX = "mammobench plot data sha256:"
RENDERER_KEY = "Creator"

_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "svg.fonttype": "path",
    "svg.hashsalt": "mammobench-leaderboard",
    "path.simplify": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}

# Colour-blind-safe palette (Okabe and Ito, 2008), assigned to encoders in row order.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

_FIGURE_SIZE = (5.6, 3.6)  # inches

# Metric name -> axis label; other names are shown as they are.
_METRIC_LABELS = {
    "auc": "AUC",
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "balanced_accuracy": "balanced accuracy",
}


@dataclass(frozen=True)
class Plot:
    """One rendered plot."""

    column: Column
    png: bytes
    svg: bytes
    fingerprint: str

    @property
    def stem(self) -> str:
        return self.column.slug


def render_plots(board: Leaderboard) -> list[Plot]:
    """Draw one data-efficiency plot per column, in column order."""
    colours = {row.label: PALETTE[index % len(PALETTE)] for index, row in enumerate(sorted(board.rows, key=lambda r: r.label))}
    return [_render(board, column, colours) for column in board.columns]


def metric_label(metric: str) -> str:
    """Return the display name of a metric, e.g. 'AUC' for 'auc', 'AP@0.25' for 'ap@0.25'."""
    if metric in _METRIC_LABELS:
        return _METRIC_LABELS[metric]
    if metric.startswith("ap@"):
        return "AP@" + metric[len("ap@") :]
    if metric.startswith("froc_mean"):
        return "mean FROC sensitivity" + metric[len("froc_mean") :]
    return metric


def plot_metadata(data: bytes, kind: str) -> dict[str, str]:
    """Read the fingerprint and renderer stored in a plot file ('png' or 'svg')."""
    if kind == "png":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            text = dict(getattr(image, "text", {}) or {})
        return {"fingerprint": text.get(FINGERPRINT_KEY, ""), "renderer": text.get(RENDERER_KEY, "")}
    decoded = data.decode("utf-8", errors="replace")
    description = re.search(r"<dc:description>(.*?)</dc:description>", decoded, re.S)
    creator = re.search(r"<dc:creator>.*?<dc:title>(.*?)</dc:title>", decoded, re.S)
    return {
        "fingerprint": description.group(1).strip() if description else "",
        "renderer": creator.group(1).strip() if creator else "",
    }


def _render(board: Leaderboard, column: Column, colours: dict[str, str]) -> Plot:
    fractions = board.fractions[column.key]
    series = []
    for row in board.rows:
        points = []
        for fraction in fractions:
            entry = row.entry(column, fraction)
            if entry.mean is None:
                continue
            points.append(
                {
                    "fraction": fraction,
                    "mean": round(entry.mean, 6),
                    "ci_low": None if entry.ci_low is None else round(entry.ci_low, 6),
                    "ci_high": None if entry.ci_high is None else round(entry.ci_high, 6),
                }
            )
        if points:
            seen = any(row.entry(column, fraction).seen_in_pretraining for fraction in fractions)
            series.append({"label": row.label, "seen": seen, "colour": colours[row.label], "points": points})

    data = {"column": column.slug, "metric": column.metric, "fractions": fractions, "series": series}
    fingerprint = hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()

    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=_FIGURE_SIZE)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(1, 1, 1)
        _draw(axes, column, fractions, series)
        figure.tight_layout()
        renderer = f"matplotlib {matplotlib.__version__}"
        description = f"{FINGERPRINT_PREFIX}{fingerprint}"
        png = io.BytesIO()
        figure.savefig(png, format="png", metadata={"Software": None, RENDERER_KEY: renderer, FINGERPRINT_KEY: description})
        svg = io.BytesIO()
        figure.savefig(svg, format="svg", metadata={"Date": None, RENDERER_KEY: renderer, FINGERPRINT_KEY: description})
    return Plot(column=column, png=png.getvalue(), svg=svg.getvalue(), fingerprint=fingerprint)


def _draw(axes, column: Column, fractions: list[float], series: list[dict]) -> None:
    positive = [fraction for fraction in fractions if fraction > 0]
    log_scale = len(positive) == len(fractions) and len(positive) > 1
    for line in series:
        xs = [point["fraction"] for point in line["points"]]
        ys = [point["mean"] for point in line["points"]]
        label = f"{line['label']} †" if line["seen"] else line["label"]
        axes.plot(
            xs,
            ys,
            marker="o",
            markersize=4,
            linewidth=1.5,
            linestyle="--" if line["seen"] else "-",
            color=line["colour"],
            label=label,
        )
        band = [point for point in line["points"] if point["ci_low"] is not None]
        if band:
            axes.fill_between(
                [point["fraction"] for point in band],
                [point["ci_low"] for point in band],
                [point["ci_high"] for point in band],
                color=line["colour"],
                alpha=0.15,
                linewidth=0,
            )

    if log_scale:
        axes.set_xscale("log")
    axes.set_xticks(fractions)
    axes.set_xticklabels([f"{fraction * 100:g}%" for fraction in fractions])
    axes.minorticks_off()
    axes.set_xlabel("label fraction (share of training patients)")
    direction = "higher is better" if column.higher_is_better else "lower is better"
    axes.set_ylabel(f"{metric_label(column.metric)} ({direction})")
    axes.set_title(f"{column.task} · {column.protocol}", fontsize=10)
    if series:
        axes.legend(loc="best", fontsize=8, frameon=False)
    else:
        axes.text(0.5, 0.5, "no results", ha="center", va="center", transform=axes.transAxes)
