"""``bench run --profile``: every built-in backend's step in the same categories, the kernel read from the
trace, a Chrome trace per cell, and "not profiled" for a backend without the hook (harness/profiling)."""

import gzip
import json

import pytest

from harness.cli import main
from harness.profiling import xspace
from harness.profiling.categories import CATEGORIES
from harness.profiling.step_profile import StepProfile
from harness.profiling.timeline import attribute_wall_time
from harness.profiling.xla_trace import profile_from_xla_xspace, self_times

from conftest import DEFAULT_BACKENDS

PROFILED_BACKENDS = [*DEFAULT_BACKENDS, "keras-jax", "keras-torch"]
"""The default backends and Keras on its other two engines (JAX's profiler, torch's)."""
SMALL = ["--hidden", "16", "--vocab-size", "200", "--embed-dim", "8", "--seq-len", "8", "--batch-size", "4",
         "--min-time", "0.05", "--max-time", "0.2", "--warmup", "1", "--rounds", "3"]


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """One round of every profiled backend (each round is a fresh worker per backend; the profile is taken
    in the first)."""
    out = tmp_path_factory.mktemp("profiled")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "400")
        status = main(["run", "--suite", "train", "--profile", "--out", str(out), "--format", "json",
                       "--backend", ",".join(PROFILED_BACKENDS), *SMALL[:-1], "1"])
    (run_dir,) = out.iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    return status, run_dir, {record["backend"]: record for record in records}


@pytest.mark.slow
def test_every_builtin_backend_accounts_for_its_profiled_step(profiled):
    status, run_dir, records = profiled
    assert status == 0
    for backend in PROFILED_BACKENDS:
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
    assert records["keras-jax"]["profile"]["kernel_path"] == "XLA while loop (lax.scan of lstm_cell)"
    assert records["keras-torch"]["profile"]["kernel_path"].startswith("generic loop (ATen ops per step")
    assert records["keras-torch"]["profile"]["categories"]["optimizer"] > 0  # Keras' own optimizer, marked


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


@pytest.mark.slow
def test_explain_gap_compares_two_backends_cell_by_cell(profiled, capsys):
    _, run_dir, records = profiled
    where = ["--results-dir", str(run_dir.parent), "--wide"]
    assert main(["report", run_dir.name, "--explain-gap", "keras-torch", "torch", "--format", "json", *where]) == 0
    (table,) = json.loads(capsys.readouterr().out)["tables"]
    assert table["title"].startswith("train on cpu: keras-torch against torch, cell by cell")
    ((cell, ratio, verdict, gap, explained),) = table["rows"]
    timed = records["keras-torch"]["median_seconds"] / records["torch"]["median_seconds"]
    assert cell == "H=16 T=8 B=4" and ratio == f"{timed:.2f}x"
    slower, faster = ("keras-torch", "torch") if timed >= 1 else ("torch", "keras-torch")
    assert verdict.startswith(f"{slower} slower")
    profiles = {backend: records[backend]["profile"] for backend in (slower, faster)}
    assert float(gap) == pytest.approx((profiles[slower]["step_seconds"] - profiles[faster]["step_seconds"]) * 1e3,
                                       abs=0.006)
    largest = max(CATEGORIES, key=lambda name: profiles[slower]["categories"][name] - profiles[faster]["categories"][name])
    explained = explained.split(". ", 1)[1] if explained.startswith("indicative only: ") else explained
    assert explained.startswith(largest + " +") or gap.startswith("-")


@pytest.mark.slow
@pytest.mark.parametrize("argv, message", [
    (["--explain-gap", "keras", "nope"], "--explain-gap: 'nope' is not in run"),
    (["--explain-gap", "torch", "torch"], "--explain-gap: give two different backends (got 'torch' twice)"),
    (["--explain-gap", "keras", "torch", "--format", "html"],
     "--explain-gap: its tables are shown as table, markdown or json (got --format html)"),
])
def test_explain_gap_refuses_what_it_cannot_explain(profiled, capsys, argv, message):
    _, run_dir, _ = profiled
    assert main(["report", run_dir.name, "--results-dir", str(run_dir.parent), *argv]) == 2
    assert message in capsys.readouterr().err


def test_explain_gap_says_how_to_profile_and_which_backends_were(fake_backends, tmp_path, capsys):
    pair = ["--backend", "numpy,fake-unprofiled", "--suite", "infer", *SMALL]
    report = ["report", "latest", "--explain-gap", "numpy", "fake-unprofiled"]
    assert main(["run", *pair, "--out", str(tmp_path / "plain")]) == 0
    assert main([*report, "--results-dir", str(tmp_path / "plain")]) == 2
    assert "has no profiles (run it with --profile" in capsys.readouterr().err
    assert main(["run", *pair, "--profile", "--out", str(tmp_path / "profiled")]) == 0
    assert main([*report, "--results-dir", str(tmp_path / "profiled")]) == 2
    assert "has profiles of both numpy and fake-unprofiled (profiled: numpy)" in capsys.readouterr().err



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


def synthetic_xla_space(module: str = "jit_step"):
    """An XSpace as JAX's profiler writes one (our schema's classes, serialized and read back): the Python
    thread's call over [0, 10) us, a worker thread running ``while.1`` over [1, 7) with ``dot.2`` nested at
    [2, 4), then ``fusion.3`` at [7, 8); the metadata plane keeps the program with each instruction's scope."""
    space = xspace.message_class("XSpace")()
    host = space.planes.add(name="/host:CPU")
    for number, name in enumerate(("hlo_op", "hlo_module"), start=1):
        entry = host.stat_metadata.add(key=number)
        entry.value.id, entry.value.name = number, name
    for number, name in enumerate(("PjitFunction(step)", "while.1", "dot.2", "fusion.3"), start=1):
        entry = host.event_metadata.add(key=number)
        entry.value.id, entry.value.name = number, name
    python = host.lines.add(name="python", timestamp_ns=1000)
    python.events.add(metadata_id=1, offset_ps=0, duration_ps=10_000_000)
    worker = host.lines.add(name="tf_XLAEigen/1", timestamp_ns=1000)
    for metadata_id, start_us, end_us in ((2, 1, 7), (3, 2, 4), (4, 7, 8)):
        event = worker.events.add(metadata_id=metadata_id, offset_ps=start_us * 10**6,
                                  duration_ps=(end_us - start_us) * 10**6)
        event.stats.add(metadata_id=1, str_value=host.event_metadata[metadata_id - 1].value.name)
        event.stats.add(metadata_id=2, str_value=module)
    metadata = space.planes.add(name="/host:metadata")
    entry = metadata.stat_metadata.add(key=7)
    entry.value.id, entry.value.name = 7, "Hlo Proto"
    program = xspace.message_class("HloProto")()
    program.hlo_module.name = module
    computation = program.hlo_module.computations.add(name="main")
    for name, scope in (("while.1", "jit(step)/jvp(lstm)/while"), ("dot.2", "jit(step)/jvp(lstm)/while/body/dot_general"),
                        ("fusion.3", "jit(step)/optimizer/add"), ("copy.4", "")):
        instruction = computation.instructions.add(name=name, opcode="op")
        instruction.metadata.op_name = scope
    entry = metadata.event_metadata.add(key=1)
    entry.value.id, entry.value.name = 1, f"{module}(3)"
    entry.value.stats.add(metadata_id=7, bytes_value=program.SerializeToString())
    return xspace.message_class("XSpace").FromString(space.SerializeToString())


def test_an_xla_trace_is_read_by_instruction_scope_and_the_gaps_are_host():
    space = synthetic_xla_space()
    assert xspace.hlo_op_names(space) == {("jit_step", "while.1"): "jit(step)/jvp(lstm)/while",
                                          ("jit_step", "dot.2"): "jit(step)/jvp(lstm)/while/body/dot_general",
                                          ("jit_step", "fusion.3"): "jit(step)/optimizer/add"}
    lines = dict(xspace.line_events(xspace.plane_named(space, "/host:CPU")))
    dot = lines["tf_XLAEigen/1"][1]
    assert (dot.name, dot.start_seconds, dot.end_seconds) == ("dot.2", pytest.approx(3e-6), pytest.approx(5e-6))
    assert dot.stats == {"hlo_op": "dot.2", "hlo_module": "jit_step"}
    rules = (("(^|[/(])lstm[/)]", "lstm"), ("(^|[/(])optimizer/", "optimizer"))
    seen = []
    profile = profile_from_xla_xspace(space, 10e-6, 2, rules, lambda scopes: seen.append(scopes) or "loop", "test")
    assert profile.categories["lstm"] == pytest.approx(3e-6) and profile.categories["optimizer"] == pytest.approx(0.5e-6)
    assert profile.categories["host"] == pytest.approx(1.5e-6) and profile.step_seconds == pytest.approx(5e-6)
    assert profile.kernel_path == "loop" and "jit(step)/jvp(lstm)/while" in seen[0] and "while.1" in seen[0]
    assert [op["op"] for op in profile.top_ops] == ["while.1 (jit(step)/jvp(lstm)/while)",
                                                    "dot.2 (jit(step)/jvp(lstm)/while/body/dot_general)",
                                                    "fusion.3 (jit(step)/optimizer/add)"]
    assert profile.top_ops[0]["seconds"] == pytest.approx(2e-6)  # 6 us less the 2 us nested, per step


def test_an_xspace_without_instructions_or_programs_says_so():
    space = synthetic_xla_space()
    for line in space.planes[0].lines:
        if line.name != "python":
            del line.events[:]
    with pytest.raises(RuntimeError, match="no XLA instruction"):
        profile_from_xla_xspace(space, 1e-5, 1, (), lambda scopes: None, "test")
    without_programs = synthetic_xla_space()
    del without_programs.planes[1:]
    assert xspace.hlo_op_names(without_programs) == {}
    profile = profile_from_xla_xspace(without_programs, 10e-6, 1, (("while", "lstm"),), lambda scopes: None, "test")
    assert profile.categories["lstm"] == pytest.approx(6e-6) and profile.categories["other"] == pytest.approx(1e-6)


def test_self_times_subtract_nested_events():
    assert self_times([(0, 10, "outer"), (2, 4, "inner"), (5, 6, "inner"), (12, 13, "later")]) == {
        "outer": pytest.approx(7), "inner": pytest.approx(3), "later": pytest.approx(1)}


def profiled_record(backend, rounds, profiled_step, status="pass", **categories):
    from harness.results.record import Record

    profile = {"step_seconds": profiled_step, "categories": {name: categories.get(name, 0.0) for name in CATEGORIES}}
    spec = {"hidden": 64, "seq_len": 100, "batch_size": 64}
    return Record("train", backend, status, spec, "", {"median_seconds": sorted(rounds)[len(rounds) // 2],
                                                      "round_medians_seconds": rounds, "profile": profile})


@pytest.mark.parametrize("a_rounds, b_rounds, a_status, verdict", [
    ([0.020, 0.0215, 0.022], [0.010, 0.0105, 0.0112], "pass", "a slower"),
    ([0.020, 0.010, 0.030], [0.012, 0.025, 0.011], "pass", "no significant difference"),
    ([0.020, 0.0215, 0.022], [0.010, 0.0105, 0.0112], "unstable", "a slower? (unstable cells: no claim)"),
    ([0.020], [0.010], "pass", "a slower? (fewer than 2 rounds: no interval)"),
    ([0.010, 0.010, 0.010], [0.010, 0.010, 0.010], "pass", "equal medians"),
])
def test_explain_gap_claims_a_difference_only_where_the_rounds_show_one(a_rounds, b_rounds, a_status, verdict):
    from suites.profile_tables import pair_gap_table

    records = [profiled_record("a", a_rounds, 0.021, a_status, lstm=0.015, host=0.006),
               profiled_record("b", b_rounds, 0.0105, lstm=0.008, host=0.0025)]
    (row,) = pair_gap_table("train on cpu", records, "a", "b").rows
    assert row[2] == verdict
    if verdict == "a slower":
        assert row[1].startswith("2.0") and " [" in row[1] and row[4].startswith("lstm +7.00 ms (67%); host +3.50 ms (33%)")


def test_explain_gap_says_when_the_profiler_slowed_a_step_and_skips_damaged_profiles():
    from suites.profile_tables import pair_gap_table

    slowed = [profiled_record("a", [0.020, 0.021, 0.022], 0.105, lstm=0.1), profiled_record("b", [0.010, 0.011], 0.010)]
    (row,) = pair_gap_table("train on cpu", slowed, "a", "b").rows
    assert row[4].startswith("indicative only: a's profiled step ran 5.0x its timed median. lstm")
    damaged = [profiled_record("a", [0.020, 0.021], float("nan")), profiled_record("b", [0.010, 0.011], 0.010)]
    assert pair_gap_table("train on cpu", damaged, "a", "b") is None
