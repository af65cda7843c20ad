"""Suites ``train`` and ``infer`` through the CLI: figures per cell, skipped devices, isolated failures."""

import json
import math

import pytest

from harness.cli import main
from harness.model_spec import ModelSpec

from conftest import DEFAULT_BACKENDS, merged_options

TINY = ["--hidden", "8,16", "--vocab-size", "100", "--embed-dim", "8", "--seq-len", "5", "--batch-size", "4",
        "--min-time", "0.05", "--max-time", "0.2", "--warmup", "1", "--rounds", "3"]
FIGURES = ("median_seconds", "iqr_seconds", "min_seconds", "mean_seconds", "ci95_low_seconds", "ci95_high_seconds",
           "samples", "samples_per_second", "tokens_per_second", "flops_per_step", "achieved_gflops",
           "fraction_of_peak", "peak_memory_bytes", "first_step_seconds")


def run_json(capsys, *argv):
    status = main(["run", "--format", "json", *argv])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_every_cell_reports_the_figures(capsys, tmp_path):
    one_size = [value if value != "8,16" else "8" for value in TINY]  # every built-in, one hidden size
    status, document = run_json(capsys, "--suite", "train,infer", "--device", "cpu", "--out", str(tmp_path), *one_size)
    assert status == 0
    measured = [record for record in document["records"] if record["status"] in ("pass", "unstable")]
    backends = {record["backend"] for record in measured}
    assert "numpy" in backends and backends <= set(DEFAULT_BACKENDS)
    assert {(record["suite"], record["spec"]["hidden"]) for record in measured} >= {("train", 8), ("infer", 8)}
    assert document["metadata"]["threads"] >= 1 and document["metadata"]["rounds"] == 3
    assert document["metadata"]["machine_state"]["cpu_count"] >= 1
    peaks = {record["device_peak_gflops"] for record in measured}
    assert len(peaks) == 1 and peaks.pop() > 0, "one machine, one cached GEMM peak for every cell and backend"
    for record in measured:
        assert record["device"] == "cpu"
        for figure in FIGURES:
            assert record[figure] is not None and record[figure] > 0, figure
        assert record["rounds"] == 3 and len(record["round_medians_seconds"]) == 3
        assert sum(record["round_sample_counts"]) == len(record["samples_seconds"]) == record["samples"]
        geometric_mean = math.exp(sum(map(math.log, record["round_medians_seconds"])) / 3)
        assert record["ci95_low_seconds"] <= geometric_mean <= record["ci95_high_seconds"]
        assert record["ci95_method"] == "t-interval over round medians"
        assert record["samples_per_second"] == record["spec"]["batch_size"] / record["median_seconds"]
        assert record["fraction_of_peak"] == record["achieved_gflops"] / record["device_peak_gflops"]
        assert 0 <= record["cell_memory_bytes"] <= record["peak_memory_bytes"]
        memory = [details["addons"]["memory"] for details in record["round_details"]]
        assert all(0 < figures["start_rss_bytes"] <= figures["peak_rss_bytes"] for figures in memory)
        machine = [details["addons"]["machine"] for details in record["round_details"]]
        assert all(figures["other_processes_cpus"] >= 0 and figures["own_cpus"] > 0 for figures in machine)
    train = next(record for record in measured if record["suite"] == "train" and record["spec"]["hidden"] == 8)
    infer = next(record for record in measured if record["suite"] == "infer" and record["spec"]["hidden"] == 8)
    assert train["flops_per_step"] == 3 * infer["flops_per_step"]


def test_tables_show_figures_ratios_and_scaling(capsys, tmp_path):
    status = main(["run", "--suite", "train", "--backend", "numpy", "--device", "cpu", "--out", str(tmp_path), *TINY])
    out = capsys.readouterr().out
    assert status == 0
    assert "train on cpu: one training step" in out and "95% CI over rounds" in out and "% of GEMM peak" in out
    assert "round spread" in out and "cell MiB" in out
    assert "median time relative to the fastest backend" in out
    assert "scaling, time ~ hidden^k" in out and "- (needs 3 sizes)" in out


def test_a_device_the_backend_lacks_is_a_skipped_cell_with_the_reason(capsys, tmp_path, monkeypatch):
    from harness.cli import run_command

    monkeypatch.setattr(run_command, "nvidia_gpu_visible", lambda: True)  # a GPU machine; NumPy has no cuda
    status, document = run_json(capsys, "--suite", "train", "--backend", "numpy", "--device", "cuda",
                                "--out", str(tmp_path), *TINY)
    assert status == 0
    assert [(record["status"], record["device"]) for record in document["records"]] == [("skipped", "cuda")] * 2
    assert document["records"][0]["message"] == "numpy: no cuda device for this backend (it has: cpu)"


def test_crash_hang_and_memory_exhaustion_fail_only_their_cells(capsys, tmp_path, fake_backends):
    hidden = ["--hidden", "8,13,16"]
    status, document = run_json(
        capsys, "--suite", "train", "--backend", "fake-crash,fake-hang,fake-memory-hog", "--device", "cpu",
        "--timeout", "10", "--memory-limit", "600", "--out", str(tmp_path), *merged_options(TINY, *hidden),
    )
    assert status == 1
    cells = {(record["backend"], record["spec"]["hidden"]): record for record in document["records"]}
    assert len(cells) == 9
    for backend in ("fake-crash", "fake-hang", "fake-memory-hog"):
        assert {cells[(backend, 8)]["status"], cells[(backend, 16)]["status"]} <= {"pass", "unstable"}, backend
        assert cells[(backend, 13)]["status"] == "error"
    assert "worker crashed: killed by SIGSEGV" in cells[("fake-crash", 13)]["message"]
    assert "timed out after 10 s; its worker was killed" in cells[("fake-hang", 13)]["message"]
    assert "out of memory: worker resident memory" in cells[("fake-memory-hog", 13)]["message"]
    assert "exceeded the limit of 600 MiB" in cells[("fake-memory-hog", 13)]["message"]


def test_lists_of_seq_len_and_batch_size_sweep_every_combination(capsys, tmp_path):
    argv = ["--hidden", "8,16", "--vocab-size", "100", "--embed-dim", "8", "--seq-len", "3,6", "--batch-size", "2,5",
            "--min-time", "0.05", "--max-time", "0.1", "--warmup", "1", "--rounds", "3"]
    status, document = run_json(capsys, "--suite", "infer", "--backend", "numpy", "--device", "cpu", "--out", str(tmp_path), *argv)
    assert status == 0
    combos = {(r["spec"]["seq_len"], r["spec"]["batch_size"], r["spec"]["hidden"]) for r in document["records"]}
    assert combos == {(t, b, h) for t in (3, 6) for b in (2, 5) for h in (8, 16)}
    assert main(["report", document["run_id"], "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "infer on cpu (T=6, B=5)" in out and "infer on cpu (T=3, B=2)" in out  # one table per (T, B)


def test_sweeps_that_differ_beyond_t_and_b_get_tables_of_their_own():
    from harness.plugins.discovery import discover
    from harness.rendering import render_tables
    from harness.results.record import PASS, Record

    suite = discover().suite("train")
    details = {"device": "cpu", "median_seconds": 0.01, "iqr_seconds": 0.001, "ci95_low_seconds": 0.009,
               "ci95_high_seconds": 0.011, "samples": 10, "samples_per_second": 1.0, "tokens_per_second": 1.0,
               "achieved_gflops": 1.0, "fraction_of_peak": None, "peak_memory_bytes": 0, "first_step_seconds": 0.1}
    records = [Record("train", "numpy", PASS, ModelSpec(vocab_size=vocab, hidden=hidden).to_dict(),
                      details={**details, "median_seconds": 0.01 * hidden * (2 if vocab == 200 else 1)})
               for vocab in (100, 200) for hidden in (4, 8)]
    text = render_tables(suite.tables(records), "table")
    assert "train on cpu, V=100 T=2 B=4: median time relative to the fastest backend" in text
    assert "train on cpu, V=200 T=2 B=4: median time relative to the fastest backend" in text
    assert "numpy (V=100)" in text and "numpy (V=200)" in text
