"""One self-contained HTML page: environment, tables and plots embedded as data URIs, no network.

A few lines of inline script count the images the browser decoded and record it on ``<body>``
(``data-images-loaded``), so a headless browser test can tell that the plots really render.
"""

from __future__ import annotations

import base64
import html

from tabulate import tabulate

from harness.rendering import Table
from harness.report.plots import Figure

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
"""

SCRIPT = """
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = String(loaded);
  document.body.dataset.imagesTotal = String(images.length);
});
"""


def render_html(title: str, tables: list[Table], figures: list[Figure]) -> str:
    """The whole page as a string."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for table in tables:
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        parts.append(tabulate(table.rows, headers=table.headers, tablefmt="html", disable_numparse=True))
    for figure in figures:
        encoded = base64.b64encode(figure.png).decode("ascii")
        parts.append(f"<h2>{html.escape(figure.title)}</h2>")
        parts.append(f'<img class="plot" alt="{html.escape(figure.title)}" src="data:image/png;base64,{encoded}">')
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
