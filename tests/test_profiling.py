"""``bench run --profile``: every built-in backend's step in the same categories, the kernel read from the
trace, a Chrome trace per cell, and "not profiled" for a backend without the hook (harness/profiling)."""

import gzip
import json

import pytest

from harness.cli import main
from harness.profiling.categories import CATEGORIES
from harness.profiling.step_profile import StepProfile
from harness.profiling.timeline import attribute_wall_time

from conftest import DEFAULT_BACKENDS

SMALL = ["--hidden", "16", "--vocab-size", "200", "--embed-dim", "8", "--seq-len", "8", "--batch-size", "4",
         "--min-time", "0.05", "--max-time", "0.2", "--warmup", "1", "--rounds", "3"]


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("profiled")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "400")
        status = main(["run", "--suite", "train", "--profile", "--out", str(out), "--format", "json", *SMALL])
    (run_dir,) = out.iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    return status, run_dir, {record["backend"]: record for record in records}


@pytest.mark.slow
def test_every_builtin_backend_accounts_for_its_profiled_step(profiled):
    status, run_dir, records = profiled
    assert status == 0
    for backend in DEFAULT_BACKENDS:
        profile = records[backend]["profile"]
        assert set(profile["categories"]) == set(CATEGORIES)
        total = sum(profile["categories"].values())
        assert abs(total - profile["step_seconds"]) <= 0.1 * profile["step_seconds"], backend
        assert profile["categories"]["lstm"] > 0, f"{backend}: the recurrence is found"
        assert profile["coverage"] >= 0.5 and profile["calls"] >= 1 and profile["top_ops"]
        assert profile["trace_file"].endswith(".json.gz")
        trace = json.loads(gzip.decompress((run_dir / profile["trace_file"]).read_bytes()))
        assert trace["traceEvents"] and all({"name", "ph", "ts"} <= set(event) for event in trace["traceEvents"][:50])


@pytest.mark.slow
def test_the_kernel_is_read_from_the_trace_for_torch_and_keras(profiled):
    _, _, records = profiled
    assert records["torch"]["profile"]["kernel_path"].startswith(("oneDNN", "ATen native", "fused LSTM cell"))
    assert records["torch"]["kernel_path"] == records["torch"]["profile"]["kernel_path"]
    assert records["keras"]["profile"]["kernel_path"] == "generic loop (tf.while_loop of lstm_cell ops)"


def test_a_backend_without_the_hook_is_not_profiled_and_still_timed(fake_backends, tmp_path, capsys):
    status = main(["run", "--suite", "infer", "--profile", "--backend", "fake-unprofiled", "--out", str(tmp_path),
                   *SMALL])
    out = capsys.readouterr().out
    assert status == 0
    assert "not profiled (the backend has no profile_steps)" in out
    (run_dir,) = tmp_path.iterdir()
    (record,) = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert record["profile"] == {"not_profiled": True} and record["median_seconds"] > 0
    assert not (run_dir / "traces").exists()


def test_without_profile_nothing_is_profiled(tmp_path, capsys):
    assert main(["run", "--suite", "infer", "--backend", "numpy", "--out", str(tmp_path), *SMALL]) == 0
    assert "where the time goes" not in capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    (record,) = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert record["profile"] is None


def test_parallel_threads_share_the_wall_time_and_gaps_are_host():
    categories = {"a": "lstm", "b": "head", "x": "optimizer", "exec": "host"}

    def category(stack):
        return next((categories[name] for name in stack if name in categories), "other")

    totals = attribute_wall_time([[(0, 10, "exec"), (1, 4, "a"), (5, 6, "b")], [(2, 8, "x")]], category, 0, 12)
    assert totals == pytest.approx({"host": 1 + 0.5 + 1 + 2 + 2, "lstm": 2.0, "optimizer": 3.0, "head": 0.5})
    assert sum(totals.values()) == pytest.approx(12)


def test_a_profile_from_op_self_times_places_the_rest_in_host_and_names_the_top_ops():
    profile = StepProfile.from_ops([("mm", 0.004, "lstm"), ("mm", 0.002, "lstm"), ("odd", 0.001, None)], calls=2,
                                   wall_seconds=0.010, kernel_path=None, profiler="test")
    assert profile.categories["lstm"] == pytest.approx(0.003) and profile.categories["other"] == pytest.approx(0.0005)
    assert profile.categories["host"] == pytest.approx(0.0015)
    assert profile.coverage == pytest.approx(0.9)
    assert profile.top_ops[0] == {"op": "mm", "seconds": pytest.approx(0.003), "category": "lstm"}
    assert "trace" not in profile.to_json()


def test_expect_kernel_fails_a_cell_on_another_kernel_naming_it(fake_backends, tmp_path, capsys):
    status = main(["run", "--suite", "infer", "--backend", "numpy,fake-unprofiled", "--expect-kernel", "numpy step",
                   "--out", str(tmp_path), "--format", "json", *SMALL])
    records = {record["backend"]: record for record in json.loads(capsys.readouterr().out)["records"]}
    assert status == 1
    assert records["numpy"]["status"] == "pass" and records["numpy"]["profile"]["kernel_path"] == "NumPy step loop"
    assert records["fake-unprofiled"]["status"] == "fail"
    assert "--expect-kernel numpy step: cannot tell which LSTM kernel ran (the backend is not profiled)" in \
        records["fake-unprofiled"]["message"]
    status = main(["run", "--suite", "infer", "--backend", "numpy", "--expect-kernel", "cuDNN", "--out", str(tmp_path),
                   "--format", "json", *SMALL])
    (record,) = json.loads(capsys.readouterr().out)["records"]
    assert status == 1 and record["message"] == "numpy: --expect-kernel cuDNN: the LSTM kernel that ran is NumPy step loop"
    assert main(["run", "--suite", "infer", "--expect-kernel", " "]) == 2
    assert "--expect-kernel: ' ' is empty or holds control characters" in capsys.readouterr().err
    assert main(["run", "--suite", "infer", "--expect-kernel", "numpy\nstep"]) == 2
    assert main(["run", "--suite", "params", "--backend", "numpy", "--expect-kernel", "cuDNN"]) == 2
    assert "--expect-kernel: profiles are taken of timing cells" in capsys.readouterr().err


@pytest.mark.slow
def test_the_reports_show_where_the_time_goes_and_why_one_is_slower(profiled, capsys):
    _, run_dir, _ = profiled
    assert main(["report", run_dir.name, "--results-dir", str(run_dir.parent), "--wide"]) == 0
    out = capsys.readouterr().out
    assert "where the time goes" in out and "why each backend is slower than the fastest" in out
    assert main(["report", run_dir.name, "--results-dir", str(run_dir.parent), "--format", "html"]) == 0
    html = (run_dir / "report.html").read_text()
    assert "train on cpu: where the time goes (profiled steps)" in html


def test_torch_backward_nodes_count_where_their_forward_ops_did():
    """Without the fused kernel (a bidirectional padded LSTM runs aten::lstm's cells), the gates' backward
    sigmoids and products are the LSTM's, not the head's; on the CPU a cast is not a transfer."""
    pytest.importorskip("torch")
    from backends.torch_backend import TorchBackend
    from harness.canonical import sample_batch
    from harness.model_spec import ModelSpec
    from suites.timed_work import TIMING_OPTIMIZER

    profiles = {}
    for padding, bidirectional in (("none", False), ("right", True)):
        spec = ModelSpec(vocab_size=200, embed_dim=8, hidden=16, seq_len=8, batch_size=4, padding=padding,
                         bidirectional=bidirectional)
        model = TorchBackend().build(spec)
        token_ids, labels = sample_batch(spec)
        step = model.prepare_train_step(token_ids, labels, TIMING_OPTIMIZER)
        step()
        profiles[padding] = model.profile_steps(step, 3)
    plain, padded = profiles["none"].categories, profiles["right"].categories
    assert padded["head"] < 0.25 * padded["lstm"] and padded["head"] < 3 * plain["head"]
    assert plain["transfer"] == 0 and padded["transfer"] == 0
