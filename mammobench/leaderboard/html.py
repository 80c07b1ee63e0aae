"""The leaderboard as one self-contained HTML page: inline CSS, plots embedded as SVG data URIs.

The page loads nothing from elsewhere and runs no script, so it can be opened from disk, attached
to a report or served as it is.
"""

from __future__ import annotations

import base64
from html import escape

from mammobench.leaderboard import text
from mammobench.leaderboard.plots import Plot, metric_label
from mammobench.leaderboard.table import Entry, Leaderboard

# Prefix of the embedded plots; checks look for it to compare plots by their data.
SVG_DATA_PREFIX = "data:image/svg+xml;base64,"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2rem auto; max-width: 96rem; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.5rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; }
.synthetic { background: #fff4e5; border: 1px solid #f0b35c; border-radius: 6px; padding: 0.7rem 1rem; }
.synthetic strong { color: #9a4d00; }
.provenance { color: #57606a; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.6rem; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; white-space: normal; vertical-align: bottom; }
.scroll { overflow-x: auto; }
td.name, th.name { text-align: left; }
td.missing { color: #8c959f; text-align: center; }
td.seen { background: #fff8c5; }
tr.unranked td.name { color: #57606a; }
.ci { color: #57606a; font-size: 0.8rem; display: block; }
.task { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.task img { width: 34rem; max-width: 100%; border: 1px solid #d0d7de; border-radius: 4px; }
.notes li { margin-bottom: 0.3rem; }
""".strip()


def render_html(board: Leaderboard, plots: list[Plot]) -> str:
    """Return the HTML page."""
    plot_by_key = {plot.column.key: plot for plot in plots}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(board.title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(board.title)}</h1>",
    ]
    if board.synthetic:
        parts.append(f'<p class="synthetic"><strong>Synthetic data.</strong> {escape(text.SYNTHETIC_WARNING)}</p>')
    parts.append('<p class="provenance">' + "<br>".join(escape(line) for line in text.provenance_lines(board)) + "</p>")

    parts += ["<h2>Overall ranking</h2>", _overview(board)]
    if not board.ranked:
        parts.append("<p>No encoder has a result in every entry, so none is ranked.</p>")
    parts.append(
        "<p>Entries show the largest label fraction of each task (100% unless the heading says "
        "otherwise). The 95% confidence interval is shown under each value.</p>"
    )

    for column in board.columns:
        direction = "higher is better" if column.higher_is_better else "lower is better"
        parts.append(f"<h2>{escape(column.task)} ({escape(column.protocol)}, {escape(metric_label(column.metric))})</h2>")
        parts.append(
            f"<p>Dataset {escape(column.dataset)}, task version {escape(column.task_version)}, {direction}.</p>"
        )
        parts.append('<div class="task">')
        parts.append(_task_table(board, column))
        plot = plot_by_key[column.key]
        source = SVG_DATA_PREFIX + base64.b64encode(plot.svg).decode("ascii")
        parts.append(f'<img src="{source}" alt="{escape(column.task)}: {escape(metric_label(column.metric))} against label fraction">')
        parts.append("</div>")

    parts += ["<h2>Method</h2>", '<ul class="notes">']
    parts += [f"<li>{escape(line)}</li>" for line in text.method_lines(board)]
    parts += ["</ul>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _overview(board: Leaderboard) -> str:
    headings = ['<th class="name">Rank</th>', '<th class="name">Encoder</th>', '<th class="name">Pretraining data</th>', "<th>Mean rank</th>"]
    headings += [f"<th>{escape(text.column_heading(c, board.headline_fraction(c)))}</th>" for c in board.columns]
    lines = ['<div class="scroll"><table>', "<thead><tr>" + "".join(headings) + "</tr></thead>", "<tbody>"]
    for row in board.rows:
        css = "" if row.rank is not None else ' class="unranked"'
        cells = [
            f'<td class="name">{row.rank if row.rank is not None else text.MISSING}</td>',
            f'<td class="name">{escape(row.label)}</td>',
            f'<td class="name">{escape(text.pretraining(row.pretraining_datasets))}</td>',
            f"<td>{row.mean_rank:.2f}</td>" if row.mean_rank is not None else f'<td class="missing">{text.MISSING}</td>',
        ]
        cells += [_entry_cell(row.entry(column, board.headline_fraction(column))) for column in board.columns]
        lines.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table></div>"]
    return "\n".join(lines)


def _task_table(board: Leaderboard, column) -> str:
    fractions = board.fractions[column.key]
    headings = ['<th class="name">Encoder</th>'] + [f"<th>{escape(text.fraction(f))}</th>" for f in fractions]
    lines = ['<div class="scroll"><table>', "<thead><tr>" + "".join(headings) + "</tr></thead>", "<tbody>"]
    for row in board.rows:
        cells = [f'<td class="name">{escape(row.label)}</td>']
        cells += [_entry_cell(row.entry(column, fraction)) for fraction in fractions]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table></div>"]
    return "\n".join(lines)


def _entry_cell(entry: Entry) -> str:
    notes = text.entry_notes(entry)
    title = f' title="{escape(notes)}"' if notes else ""
    if entry.mean is None:
        return f'<td class="missing"{title}>{escape(text.mean_sd(entry))}</td>'
    mark = f" {text.SEEN_MARK}" if entry.seen_in_pretraining else ""
    css = "seen" if entry.seen_in_pretraining else ""
    ci = text.interval(entry)
    ci_html = f'<span class="ci">{escape(ci)}</span>' if ci else ""
    class_attribute = f' class="{css}"' if css else ""
    return f"<td{class_attribute}{title}>{escape(text.mean_sd(entry))}{mark}{ci_html}</td>"
