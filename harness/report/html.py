"""One self-contained HTML page of a run (`harness.report.sections.RunReport`): no network, plots embedded.

The first screen answers the run's question: which backend is fastest where and by how much, which
checks failed, which cells are unstable. Then the backends compared (tables and plots), the equivalence
checks as a matrix (backend x tensor, worst error against its tolerance) with the training trajectories,
each suite's own section, and the environment. The layout is fluid: full width on a desktop, one column
on a phone, wide tables scroll inside their box so the page never scrolls sideways.

A few lines of inline script record on ``<body>`` how many images the browser decoded
(``data-images-loaded``/``-total``) and whether the page is wider than the window (``data-overflow-x``),
so a headless browser test can tell that the page really renders.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from harness.rendering import Table
from harness.report.plots import Figure
from harness.table_layout import alignment

STYLE = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; line-height: 1.45; }
header, main { padding: 0 clamp(0.75rem, 3vw, 2.5rem); }
header { border-bottom: 1px solid var(--line); padding-top: 1rem; padding-bottom: 0.75rem; }
h1 { font-size: clamp(1.2rem, 2.5vw, 1.8rem); margin: 0 0 0.25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid var(--line); padding-bottom: 0.25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 0.4rem; overflow-wrap: anywhere; }
.meta { color: #59636e; margin: 0; overflow-wrap: anywhere; }
nav { display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; margin: 0.75rem 0 0; }
nav a { color: #0969da; text-decoration: none; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); gap: 1rem; margin-top: 1rem; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem 1rem; background: var(--soft); min-width: 0; }
.card h2 { margin: 0 0 0.5rem; border: 0; font-size: 1.05rem; }
.card ul { margin: 0; padding-left: 1.1rem; }
.card li { margin: 0.2rem 0; overflow-wrap: anywhere; }
.chips { display: flex; flex-wrap: wrap; gap: 0.4rem; margin: 0.25rem 0 0.5rem; padding: 0; list-style: none; }
.chip { border-radius: 999px; padding: 0.1rem 0.6rem; font-size: 0.9rem; background: #fff; border: 1px solid var(--line); }
.chip.pass { color: var(--ok); } .chip.fail, .chip.error { color: var(--bad); } .chip.unstable { color: var(--warn); }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.25rem 0 1.25rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
.block { min-width: 0; }
h3.table-title { font-size: 0.95rem; font-weight: 600; margin: 0.75rem 0 0.25rem; max-width: 70rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 34rem), 1fr)); gap: 0 2rem; }
.grid figure img { max-width: 100%; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.55rem; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ok { color: var(--ok); } td.bad { color: var(--bad); font-weight: 600; }
figure { margin: 0.5rem 0 1.5rem; }
figure img { width: 100%; max-width: 1100px; height: auto; border: 1px solid var(--line); }
figcaption { font-weight: 600; margin-bottom: 0.25rem; overflow-wrap: anywhere; }
p.note { color: #59636e; max-width: 60rem; }
"""

SCRIPT = """
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = String(loaded);
  document.body.dataset.imagesTotal = String(images.length);
  const width = document.documentElement.scrollWidth;
  document.body.dataset.pageWidth = String(width);
  document.body.dataset.overflowX = String(width > window.innerWidth);
});
"""


def render_html(report, figures: list[Figure]) -> str:
    """The whole page for ``report`` (a `RunReport`) and its ``figures``, as a string."""
    from harness.report.equivalence import equivalence_matrices

    timing = [figure for figure in figures if not figure.stem.startswith("training-")]
    training = [figure for figure in figures if figure.stem.startswith("training-")]
    matrices = equivalence_matrices(report.records, {section.name for section in report.sections if section.measures_time})
    sections = list(report.sections)
    nav = [("summary", "Summary")]
    if report.comparisons or timing:
        nav.append(("speed", "Speed"))
    if matrices or training or report.checks is not None:
        nav.append(("equivalence", "Equivalence"))
    nav += [(_anchor(section.name), section.name) for section in sections]
    nav.append(("environment", "Environment"))

    parts = [_header(report, nav), "<main>", _summary(report)]
    if report.comparisons or timing:
        parts.append('<section id="speed"><h2>Speed: the backends compared</h2>')
        parts.append(f'<p class="note">Medians per step; speed-ups over <b>{_text(report.baseline or "-")}</b> '
                     "with 95% intervals over rounds, paired by round; * marks the fastest backend at each size, "
                     "! an unstable cell.</p>")
        parts.append('<div class="grid">' + "".join(_table(table) for table in report.comparisons) + "</div>")
        parts.append('<div class="grid">' + "".join(_figure(figure) for figure in timing) + "</div>")
        parts.append("</section>")
    if matrices or training or report.checks is not None:
        parts.append('<section id="equivalence"><h2>Equivalence: every backend against the NumPy float64 reference</h2>')
        if report.checks is not None:
            parts.append(_table(report.checks))
        parts.append('<p class="note">Each cell: the worst relative error of that tensor or check; green within its '
                     "tolerance, red beyond it.</p>")
        parts += [_table(matrix, judged=True) for matrix in matrices]
        parts.append('<div class="grid">' + "".join(_figure(figure) for figure in training) + "</div>")
        parts.append("</section>")
    for section in sections:
        parts.append(f'<section id="{_anchor(section.name)}"><h2>{_text(section.name)}</h2>')
        if section.description:
            parts.append(f'<p class="note">{_text(section.description)}</p>')
        parts += [_table(table) for table in section.tables]
        parts.append("</section>")
    parts.append('<section id="environment"><h2>Environment</h2>')
    parts.append(_table(report.environment))
    parts.append("</section></main>")
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_text(report.title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def _header(report, nav: list[tuple[str, str]]) -> str:
    metadata = report.metadata
    facts = [str(metadata.get(key)) for key in ("started_at",) if metadata.get(key)]
    if metadata.get("git_commit"):
        facts.append(f"commit {str(metadata['git_commit'])[:12]}")
    if metadata.get("cpu_model"):
        facts.append(f"{metadata['cpu_model']} ({metadata.get('cpu_count', '?')} cores)")
    backends = list(dict.fromkeys(record.backend for record in report.records))
    if backends:
        facts.append("backends " + ", ".join(backends))
    links = "".join(f'<a href="#{anchor}">{_text(label)}</a>' for anchor, label in nav)
    return (f"<header><h1>{_text(report.title)}</h1><p class=\"meta\">{_text(' · '.join(facts))}</p>"
            f"<nav>{links}</nav></header>")


def _summary(report) -> str:
    counts: dict[str, int] = {}
    for record in report.records:
        counts[record.status] = counts.get(record.status, 0) + 1
    chips = "".join(f'<li class="chip {_css_class(status)}">{count} {_text(status)}</li>' for status, count in counts.items())
    notices = [line for line in report.summary if line.startswith("this run ")]
    speed = [line for line in report.summary if not line.startswith(("needs a look", "this run "))]
    trouble = [record for record in report.records if record.status in ("fail", "error", "unstable")]
    speed_items = "".join(f"<li>{_text(line)}</li>" for line in speed) or "<li>no timing cells in this run</li>"
    trouble_items = "".join(
        f"<li><b>{_text(record.status)}</b> {_text(record.suite)} {_text(record.backend)} ({_text(record.device)}): "
        f"{_text(_short(record.message))}</li>" for record in trouble[:12])
    if len(trouble) > 12:
        trouble_items += f"<li>and {len(trouble) - 12} more (see the sections below)</li>"
    return (
        '<section id="summary" class="summary">'
        f'<div class="card"><h2>Fastest, where the lead is significant</h2><ul>{speed_items}</ul></div>'
        f'<div class="card"><h2>Outcome</h2><ul class="chips">{chips}</ul>'
        + "".join(f'<p class="notice"><b>{_text(line)}</b></p>' for line in notices)
        + (f"<ul>{trouble_items}</ul>" if trouble_items
           else "" if notices else "<p>every check passed; no cell is unstable</p>")
        + "</div></section>"
    )


def _table(table: Table, judged: bool = False) -> str:
    """``table`` as HTML: numbers right-aligned, text left; a judged matrix colours each cell by its verdict
    (cells written ``value ok`` or ``value beyond``, see `harness.report.equivalence`)."""
    align = alignment(table)
    head = "".join(f'<th class="{"num" if side == "right" else "text"}">{_text(header)}</th>'
                   for header, side in zip(table.headers, align))
    rows = []
    for row in table.rows:
        cells = []
        for value, side in zip(row, align):
            classes = ["num"] if side == "right" else []
            text = str(value)
            if judged and text.endswith((" ok", " beyond")):
                classes = ["num", "ok" if text.endswith(" ok") else "bad"]
                text = text.rsplit(" ", 1)[0]
            cells.append(f'<td class="{" ".join(classes)}">{_text(text)}</td>' if classes else f"<td>{_text(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="block"><h3 class="table-title">{_text(table.title)}</h3><div class="scroll"><table>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></div>")


def _figure(figure: Figure) -> str:
    encoded = base64.b64encode(figure.png).decode("ascii")
    return (f'<figure><figcaption>{_text(figure.title)}</figcaption>'
            f'<img class="plot" alt="{_text(figure.title)}" src="data:image/png;base64,{encoded}"></figure>')


def _text(value: Any) -> str:
    return html.escape(str(value))


def _css_class(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(name))


def _anchor(name: str) -> str:
    return "s-" + re.sub(r"[^A-Za-z0-9_-]+", "-", str(name))


def _short(message: str, limit: int = 240) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
