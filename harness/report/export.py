"""Exports: CSV for spreadsheets, and JSON for continuous-benchmark dashboards.

The dashboard shape is github-action-benchmark's ``customSmallerIsBetter`` list, one entry per
measured timing cell::

    [{"name": "train/cpu/torch/hidden=256/T=100/B=64",   # suite/device/backend/shape
      "unit": "ms",
      "value": 119.7,                                   # the median
      "range": "117.9-121.4",                           # the 95% CI of the median
      "extra": "n=44 iqr=4.1ms samples/s=535 tokens/s=53,462 run=20261128T071811-0795"}]
"""

from __future__ import annotations

import json

from harness.model_spec import ModelSpec, varying_fields
from harness.report.tables import timed_cells

LIST_COLUMNS = ("samples_seconds", "round_medians_seconds", "round_sample_counts")
"""Lists of numbers, written space-separated; every other column holding dicts or lists (a suite's
nested details: ``errors``, ``checks``, ``timed_work``...) is written as JSON text."""


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (``=HYPERLINK(...)``): such text is
written with a leading apostrophe, which spreadsheets show as text (OWASP's advice for CSV injection)."""


def spreadsheet_text(value):
    """``value``, with text that a spreadsheet would run as a formula made inert (`FORMULA_STARTS`)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def to_csv(frame) -> str:
    """Every record as a CSV row; raw samples space-separated, nested details as JSON text; no cell a
    spreadsheet would run as a formula (`spreadsheet_text`)."""
    table = frame.copy()
    for column in LIST_COLUMNS:
        if column in table:
            table[column] = table[column].map(lambda values: " ".join(f"{v:.9g}" for v in values) if isinstance(values, list) else "")
    for column in table.columns:
        if column not in LIST_COLUMNS and table[column].map(lambda value: isinstance(value, (dict, list))).any():
            table[column] = table[column].map(lambda value: json.dumps(value) if isinstance(value, (dict, list)) else value)
    for column in table.columns:
        table[column] = table[column].map(spreadsheet_text)
    table.columns = [spreadsheet_text(str(column)) for column in table.columns]
    return table.to_csv(index=False)


def to_dashboard(frame) -> list[dict]:
    """The measured timing cells in github-action-benchmark's ``customSmallerIsBetter`` shape."""
    timed = timed_cells(frame)
    apart = [name for name in varying_fields(timed.to_dict("records"), ModelSpec.series_fields())
             if name not in ("seq_len", "batch_size")]
    return [
        {
            "name": f"{row.suite}/{row.device}/{row.backend}/hidden={row.hidden}/T={row.seq_len}/B={row.batch_size}"
                    + "".join(f"/{name}={getattr(row, name)}" for name in apart),
            "unit": "ms",
            "value": row.median_seconds * 1e3,
            "range": f"{row.ci95_low_seconds * 1e3:.6g}-{row.ci95_high_seconds * 1e3:.6g}",
            "extra": (f"n={row.samples} rounds={getattr(row, 'rounds', 1)} iqr={row.iqr_seconds * 1e3:.4g}ms "
                      f"samples/s={row.samples_per_second:,.0f} tokens/s={row.tokens_per_second:,.0f} run={row.run_id}"
                      + (f" unstable: {row.message}" if row.status == "unstable" else "")),
        }
        for row in timed.itertuples()
    ]
