"""The HTML report: its first screen answers the run's question, the equivalence checks read as a matrix,
training trajectories are plotted, and in headless Chromium it fits a phone (390 px) and a desktop
(1400 px) without sideways scrolling, every image decoded (screenshots kept for a look)."""

from __future__ import annotations

import re
import struct

import pytest

from harness.cli import main

from conftest import chromium, needs_chromium, use_test_plugins

TINY = ["--vocab-size", "100", "--embed-dim", "8", "--seq-len", "5", "--batch-size", "4", "--min-time", "0.05",
        "--max-time", "0.1", "--warmup", "1", "--rounds", "3", "--device", "cpu", "--steps", "3"]


@pytest.fixture(scope="module")
def html_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_backends")
        main(["run", "--suite", "params,gradients,training,train,infer", "--backend", "numpy,fake-ok,fake-gradient-off",
              "--hidden", "8,16", "--out", str(out), *TINY])
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    assert main(["report", str(run_dir), "--format", "html"]) == 0
    return run_dir / "report.html"


def test_first_screen_answers_the_question(html_report):
    page = html_report.read_text()
    summary = page[page.index('<section id="summary"'):page.index("</section>", page.index('<section id="summary"'))]
    assert "Fastest, where the lead is significant" in summary and "train on cpu" in summary
    assert re.search(r"<b>fail</b> gradients fake-gradient-off", summary)
    assert 'class="chip pass"' in summary and 'class="chip fail"' in summary
    assert page.index('<section id="summary"') < page.index('<section id="speed"') < page.index('<section id="equivalence"')


def test_equivalence_matrix_and_training_trajectories(html_report):
    page = html_report.read_text()
    assert "gradients (V=100 E=8 H=16 T=5 B=4 seq+state): worst relative error of each tensor or check, per backend" in page
    assert re.search(r'<td class="num bad">[0-9.e+-]+</td>', page) and re.search(r'<td class="num ok">[0-9.e+-]+</td>', page)
    assert "<td>grad lstm.kernel</td>" in page and "<th class=\"num\">fake-gradient-off (cpu)</th>" in page
    assert "train: worst relative error" not in page  # timing suites verify their closures; not an equivalence check
    assert "training trajectories on cpu" in page
    assert page.count('<img class="plot"') == 4  # train, infer, and the training trajectories at hidden 8 and 16
    assert "checks: params, gradients, training (" in page and "shapes" not in page.split("checks: ")[1][:40]


def test_sections_of_every_suite_in_run_order(html_report):
    page = html_report.read_text()
    positions = [page.index(f'<section id="s-{name}"') for name in ("params", "gradients", "training", "train", "infer")]
    assert positions == sorted(positions)


@needs_chromium
@pytest.mark.parametrize("width", [390, 1400])
def test_fits_a_phone_and_a_desktop_in_headless_chromium(html_report, tmp_path, width):
    dom = chromium(f"--window-size={width},1000", "--dump-dom", html_report.as_uri(), profile=tmp_path / "dom").stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-overflow-x="false"' in body, body
    loaded, total = (int(re.search(rf'data-images-{which}="(\d+)"', body).group(1)) for which in ("loaded", "total"))
    assert loaded == total == 4
    assert "Fastest, where the lead is significant" in dom
    shot = html_report.parent / f"report-{width}px.png"
    chromium(f"--window-size={width},1000", f"--screenshot={shot}", html_report.as_uri(), profile=tmp_path / "shot")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (width, 1000)
