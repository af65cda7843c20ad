"""`Explanation` as one self-contained HTML page: the article's two pictures drawn as SVG from the computed
values (one LSTM cell with its gates at each step, and the chain of cells unrolled over the words, the
outputs the layer hands back highlighted), then the tables. No network, no script library: a few lines of
script only report, on ``<body>``, whether the page fits its window and how many pictures it drew (for a
headless browser to check)."""

from __future__ import annotations

from html import escape

import numpy as np

from harness.contract import lstm_weight_prefix
from harness.explain.explanation import Explanation
from harness.explain.tables import explanation_tables, word_at
from harness.rendering import Table

CELLS_DRAWN = 6
"""Steps drawn as a cell with its gates, and cells in the unrolled chain (the rest are said to be left out)."""
CELL_HEIGHT = 330

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; max-width: 1200px; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.figure { overflow-x: auto; } svg { max-width: 100%; height: auto; }
svg text { font-family: ui-monospace, monospace; font-size: 12px; }
svg .label { font-family: system-ui, sans-serif; font-size: 13px; font-weight: 600; }
svg .gate { fill: #fff4d6; stroke: #b8860b; } svg .candidate { fill: #e6f0ff; stroke: #3a6ea5; }
svg .cell { fill: #f7f7f9; stroke: #555; } svg .state { fill: #e9f7ef; stroke: #2e7d4f; }
svg .returned { fill: #ffe0e6; stroke: #c2185b; stroke-width: 3; } svg .arrow { stroke: #444; fill: none; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.caption { font-weight: 600; margin: 1rem 0 0.2rem; }
.fail { color: #b00020; font-weight: 600; } .pass { color: #1b5e20; }
"""

REPORT_SCRIPT = """
window.addEventListener('load', function () {
  var body = document.body;
  body.setAttribute('data-overflow-x', String(document.documentElement.scrollWidth > window.innerWidth + 1));
  body.setAttribute('data-svg-count', String(document.querySelectorAll('svg').length));
  body.setAttribute('data-svg-texts', String(document.querySelectorAll('svg text').length));
});
"""


def explanation_html(explanation: Explanation) -> str:
    """The page (see the module docstring)."""
    spec = explanation.spec
    failures = [backend for backend in explanation.backends if backend.status == "fail"]
    verdict = ("every backend computes the reference's values within the output tolerance" if not failures else
               "; ".join(f"{backend.name} first parts at {backend.divergence.describe()}" for backend in failures))
    first_prefix = next(iter(explanation.reference.layers))
    chain_prefix = lstm_weight_prefix(explanation.reference_last_layer(), "forward")  # the layer the head reads
    steps = explanation.reference.layers[first_prefix]["h"].shape[1]
    drawn = min(steps, CELLS_DRAWN)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>bench explain: {escape(explanation.text)}</title><style>{STYLE}</style>",
        f"<script>{REPORT_SCRIPT}</script></head><body>",
        f"<h1>The LSTM of “{escape(explanation.text)}”, computed</h1>",
        (f"<p>Model: {escape(spec.label())}; "
        f"{explanation.parameter_sum} parameters; weights: {escape(explanation.weights_source)}. "
        f"<span class='{'fail' if failures else 'pass'}'>{escape(verdict)}.</span></p>"),
        f"<h2>The chain of {steps} cells unrolled over the words ({escape(chain_prefix)})</h2>",
        "<div class='figure'>", chain_svg(explanation, chain_prefix), "</div>",
        (f"<p>Highlighted: what the layer hands back with return_sequences={spec.return_sequences}, "
         f"return_state={spec.return_state}{_other_direction(spec)}.{_chain_left_out(steps)}</p>"),
        (f"<h2>One cell with its gates, at each step ({escape(first_prefix)}; the first "
        f"{shown_units(explanation)} of {spec.hidden} units; every value in the tables below)</h2>"),
    ]
    for step in range(drawn):
        parts += ["<div class='figure'>", cell_svg(explanation, first_prefix, step), "</div>"]
    if steps > drawn:
        parts.append(f"<p>The first {drawn} of {steps} steps are drawn; the tables hold them all.</p>")
    parts.append("<h2>Every value, and the backends against the reference</h2>")
    parts += [_table_html(table) for table in explanation_tables(explanation)]
    parts.append("</body></html>")
    return "\n".join(parts)


def _chain_left_out(steps: int) -> str:
    if steps <= CELLS_DRAWN:
        return ""
    return f" The first {CELLS_DRAWN - 1} steps and the last are drawn; the tables hold them all."


def _other_direction(spec) -> str:
    return "; the backward direction's h joins each step's output, [forward | backward]" if spec.bidirectional else ""


def shown_units(explanation: Explanation) -> int:
    """How many units a picture shows per vector: ``--units``, at most 4 (the boxes' room), at most H."""
    return min(explanation.units_shown, 4, explanation.spec.hidden)


def _vector(values, units: int) -> str:
    values = np.asarray(values, np.float64)
    shown = ", ".join(f"{value:+.4f}" for value in values[:units])
    return f"[{shown}{', …' if values.size > units else ''}]"


def cell_svg(explanation: Explanation, prefix: str, step: int) -> str:
    """One cell at ``step``: x_t below, h_{t-1} and c_{t-1} entering on the left, the four gates with their
    values, c_t and h_t leaving on the right."""
    values = explanation.reference.layers[prefix]
    units = shown_units(explanation)
    previous = {name: values[name][0, step - 1] if step else np.zeros(values[name].shape[-1]) for name in ("h", "c")}
    word = word_at(explanation, prefix, step)
    boxes = [("i", "i = σ(input)", "gate"), ("f", "f = σ(forget)", "gate"), ("g", "c~ = tanh(...)", "candidate"),
             ("o", "o = σ(output)", "gate")]
    state_height = 26 + 14 * ((units + 1) // 2)
    parts = [(f"<svg viewBox='0 0 860 {CELL_HEIGHT}' width='860' role='img' "
              f"aria-label='LSTM cell at step {step + 1}, word {escape(word)}'>"),
             ("<defs><marker id='head' markerWidth='8' markerHeight='8' refX='7' refY='4' orient='auto'>"
             "<path d='M0,0 L8,4 L0,8 z' fill='#444'/></marker></defs>"),
             "<rect class='cell' x='170' y='30' width='500' height='250' rx='14'/>",
             f"<text class='label' x='182' y='54'>step {step + 1}: “{escape(word)}”</text>",
             "<text x='182' y='112'>c(t) = f * c(t-1) + i * c~</text>",
             "<text x='182' y='128'>h(t) = o * tanh(c(t))</text>"]
    for number, (name, title, kind) in enumerate(boxes):
        x = 185 + number * 120
        parts += [f"<rect class='{kind}' x='{x}' y='150' width='110' height='{26 + 14 * units}' rx='8'/>",
                  f"<text class='label' x='{x + 6}' y='168'>{escape(title)}</text>",
                  *_vector_lines(values[name][0, step], units, x + 8, 186, per_line=1)]
    for label, vector, x, y in (("c(t-1)", previous["c"], 0, 50), ("h(t-1)", previous["h"], 0, 200),
                                ("c(t)", values["c"][0, step], 690, 50), ("h(t)", values["h"][0, step], 690, 200)):
        parts += [f"<rect class='state' x='{x}' y='{y}' width='150' height='{state_height}' rx='6'/>",
                  f"<text class='label' x='{x + 8}' y='{y + 18}'>{label}</text>",
                  *_vector_lines(vector, units, x + 8, y + 36, per_line=2)]
    parts += [
        "<path class='arrow' d='M150,70 L688,70' marker-end='url(#head)'/>",
        "<path class='arrow' d='M150,222 L183,222' marker-end='url(#head)'/>",
        "<path class='arrow' d='M665,222 L688,222' marker-end='url(#head)'/>",
        (f"<text class='label' x='182' y='{CELL_HEIGHT - 12}'>x(t) = embedding row: "
        f"{escape(_vector(values['x'][0, step], min(explanation.units_shown, 5)))}</text>"),
        "</svg>",
    ]
    return "".join(parts)


def _vector_lines(values, units: int, x: int, y: int, per_line: int = 2) -> list[str]:
    """A vector's first ``units`` values as SVG text, ``per_line`` per line."""
    everything = np.asarray(values, np.float64)
    values = everything[:units]
    lines = [", ".join(f"{value:+.4f}" for value in values[start:start + per_line])
             for start in range(0, len(values), per_line)] or ["[]"]
    if everything.size > units:
        lines[-1] += ", …"
    return [f"<text x='{x}' y='{y + 14 * number}'>{escape(line)}</text>" for number, line in enumerate(lines)]


def chain_steps(steps: int) -> list[int]:
    """The steps the chain draws: all of them up to `CELLS_DRAWN`, else the first ones and the last (so h_T
    and the final state are always there), with an ellipsis between."""
    return list(range(steps)) if steps <= CELLS_DRAWN else [*range(CELLS_DRAWN - 1), steps - 1]


def chain_svg(explanation: Explanation, prefix: str) -> str:
    """The cells of `chain_steps` left to right, each word below its cell, h and c passed right, each h_t
    above: those the layer hands back highlighted (every h_t with return_sequences, else h_T), then the
    final state (highlighted with return_state)."""
    spec, values = explanation.spec, explanation.reference.layers[prefix]
    steps = values["h"].shape[1]
    units = shown_units(explanation)
    backward = prefix.endswith(".backward")
    words = explanation.words[::-1] if backward else explanation.words
    ids = explanation.token_ids[::-1] if backward else explanation.token_ids
    drawn = chain_steps(steps)
    width = 40 + len(drawn) * 190 + 330
    parts = [f"<svg viewBox='0 0 {width} 300' width='{width}' role='img' aria-label='LSTM unrolled over the words'>",
             ("<defs><marker id='chainhead' markerWidth='8' markerHeight='8' refX='7' refY='4' orient='auto'>"
              "<path d='M0,0 L8,4 L0,8 z' fill='#444'/></marker></defs>")]
    for position, step in enumerate(drawn):
        x = 40 + position * 190
        returned = spec.return_sequences or step == steps - 1
        parts += [
            f"<rect class='cell' x='{x}' y='120' width='140' height='70' rx='10'/>",
            f"<text class='label' x='{x + 10}' y='145'>LSTM cell</text>",
            f"<text x='{x + 10}' y='165'>t = {step + 1}</text>",
            f"<text class='label' x='{x + 10}' y='230'>“{escape(words[step])}”</text>",
            f"<text x='{x + 10}' y='248'>id {ids[step]}</text>",
            f"<path class='arrow' d='M{x + 70},215 L{x + 70},192' marker-end='url(#chainhead)'/>",
            (f"<rect class='{'returned' if returned else 'state'}' x='{x}' y='10' width='140' height='70' rx='8'>"
             f"<title>h_{step + 1}{' (returned)' if returned else ''}</title></rect>"),
            f"<text class='label' x='{x + 8}' y='28'>h{step + 1}{' ← returned' if returned else ''}</text>",
            *_vector_lines(values["h"][0, step], units, x + 8, 46, per_line=2),
            f"<path class='arrow' d='M{x + 70},120 L{x + 70},82' marker-end='url(#chainhead)'/>",
            f"<path class='arrow' d='M{x + 140},155 L{x + 188},155' marker-end='url(#chainhead)'/>",
        ]
        if position + 1 < len(drawn) and drawn[position + 1] != step + 1:
            parts.append(f"<text class='label' x='{x + 142}' y='140'>… {drawn[position + 1] - step - 1} more</text>")
    x = 40 + len(drawn) * 190
    kind = "returned" if spec.return_state else "state"
    parts += [f"<rect class='{kind}' x='{x}' y='110' width='320' height='90' rx='8'/>",
              f"<text class='label' x='{x + 8}' y='128'>final state{' ← returned' if spec.return_state else ''}</text>",
              f"<text x='{x + 8}' y='148'>h: {escape(_vector(values['h'][0, -1], units))}</text>",
              f"<text x='{x + 8}' y='166'>c: {escape(_vector(values['c'][0, -1], units))}</text>",
              "</svg>"]
    return "".join(parts)


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{escape(str(header))}</th>" for header in table.headers)
    rows = "".join("<tr>" + "".join(f"<td{_status_class(value)}>{escape(str(value))}</td>" for value in row) + "</tr>"
                   for row in table.rows)
    return (f"<p class='caption'>{escape(table.title)}</p><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            "</table>")


def _status_class(value) -> str:
    return {"pass": " class='pass'", "fail": " class='fail'"}.get(str(value), "")
