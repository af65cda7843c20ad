"""Third-party plugins: the example JAX package installed with pip, bench plugins, bench check, pytest kit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lstm-bench-jax"
PLUGINS = Path(__file__).parent / "plugins"


def bench(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """``pip install ./examples/lstm-bench-jax`` into a directory of its own (no dependencies)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(EXAMPLE)], check=True, capture_output=True, text=True, timeout=300)
    return target


def backends_listed(env=None):
    result = bench("list", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)["backends"]}


def test_installing_the_example_adds_jax_and_removing_it_restores_the_builtins(installed_example, tmp_path):
    listed = backends_listed({"PYTHONPATH": str(installed_example)})
    assert listed["jax"]["package"] == "lstm-bench-jax" and listed["jax"]["plugin"] == "jax"
    assert listed["jax"]["framework"] == "JAX"
    without = backends_listed({"PYTHONPATH": str(tmp_path)})  # the same environment, plugin uninstalled
    assert "jax" not in without and {"numpy", "torch", "keras"} <= set(without)


def test_the_example_passes_bench_check(installed_example):
    pytest.importorskip("jax")
    tiny = ModelSpec(vocab_size=50, embed_dim=3, hidden=4, seq_len=3, batch_size=2)  # the kit's own specs: the pytest kit test
    result = bench("check", "jax", "--vocab-size", "50", "--embed-dim", "3", "--hidden", "4", "--seq-len", "3",
                   "--batch-size", "2", env={"PYTHONPATH": str(installed_example)})
    assert result.returncode == 0, result.stderr
    from harness.suite import SuiteOptions

    cells = sum(len(suite.cells(tiny, SuiteOptions())) for suite in discover().check_suites())
    assert cells >= 9  # params, shapes x4, gradients, behaviour, training, timed-work
    assert f"jax conforms: {cells} checks passed" in result.stderr


def test_the_example_runs_its_own_tests_with_the_pytest_kit(installed_example):
    pytest.importorskip("jax")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"), "--bench-backend", "jax"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(installed_example)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # one test per check suite, and the plugin's profile test (tests/test_profile.py)
    assert f"{len(discover().check_suites()) + 1} passed" in result.stdout


def test_a_broken_copy_fails_bench_check_naming_what_differs(capsys, fake_backends):
    assert main(["check", "fake-gate-swap"]) == 1
    err = capsys.readouterr().err
    assert "bench: fake-gate-swap does not conform:" in err
    assert "gradients [V=50000 E=5 H=3 T=2 B=4 seq+state]: fake-gate-swap: lstm_output rel error" in err


def test_a_broken_copy_fails_the_pytest_kit_with_the_tensor_named(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"),
         "--bench-backend", "fake-transposed-kernel"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(PLUGINS), "LSTM_BENCH_PLUGINS": "fake_backends"},
    )
    assert result.returncode == 1
    # params, shapes and behaviour pass; gates, gradients, training and timed-work (its step is not the
    # reference's) fail; the plugin's own profile tests skip without the plugin
    assert "4 failed, 3 passed, 1 skipped" in result.stdout
    assert "first parts from the reference at lstm step 1" in result.stdout
    assert "fake-transposed-kernel: lstm_output rel error" in result.stdout


def test_check_of_an_unavailable_backend_is_one_line(capsys, fake_backends):
    assert main(["check", "fake-missing"]) == 2
    assert capsys.readouterr().err.strip() == (
        "bench: error: check: fake-missing is unavailable: lstm-bench-no-such-distribution is not installed: "
        "pip install lstm-bench-no-such-distribution")


def plugins_listed(capsys):
    assert main(["plugins", "--format", "json"]) == 0
    return {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)["plugins"]}


def test_bench_plugins_lists_packages_hooks_and_what_they_provide(capsys):
    plugins = plugins_listed(capsys)
    assert plugins["torch"]["package"] == "lstm-bench" and plugins["torch"]["status"] == "loaded"
    assert plugins["torch"]["hooks"] == ["bench_register_backends"]
    torch_backends = [name for name, info in discover().backends.items() if info.plugin == "torch"]
    assert {"torch", "torch-compile", "torch-fp32"} <= set(torch_backends)
    assert plugins["torch"]["provides"] == [f"backend {name}" for name in torch_backends]
    assert plugins["params"]["provides"] == ["suite params"]


def test_broken_plugins_are_listed_as_broken_and_never_break_list(capsys, use_plugins):
    use_plugins("raising_plugin", "broken_import_plugin")
    plugins = plugins_listed(capsys)
    assert plugins["raising_plugin"]["status"] == "broken"
    assert "plugin exploded" in plugins["raising_plugin"]["error"]
    assert plugins["broken_import_plugin"]["error"].startswith("cannot import broken_import_plugin: ModuleNotFoundError")
    assert main(["list"]) == 0 and "numpy" in capsys.readouterr().out


def test_plugins_can_be_blocked_or_allowed_by_name(capsys, monkeypatch):
    monkeypatch.setenv("LSTM_BENCH_DISABLE_PLUGINS", "keras,shapes")
    plugins = plugins_listed(capsys)
    assert plugins["keras"]["status"] == plugins["shapes"]["status"] == "disabled"
    assert main(["run", "--backend", "keras"]) == 2
    assert "'keras' is not loaded: its plugin 'keras' is left out by" in capsys.readouterr().err
    monkeypatch.delenv("LSTM_BENCH_DISABLE_PLUGINS")
    monkeypatch.setenv("LSTM_BENCH_LOAD_PLUGINS", "numpy,params")
    plugins = plugins_listed(capsys)
    assert {name for name, entry in plugins.items() if entry["status"] == "loaded"} == {"numpy", "params"}


def test_messages_say_why_a_backend_or_suite_is_missing(capsys, use_plugins, monkeypatch):
    use_plugins("broken_import_plugin")
    assert main(["check", "mine"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown backend 'mine'" in err and len(err.splitlines()) == 1
    assert "plugin 'broken_import_plugin' failed: cannot import broken_import_plugin: ModuleNotFoundError" in err
    monkeypatch.setenv("LSTM_BENCH_LOAD_PLUGINS", "numpy")
    assert main(["check", "numpy"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no suite is loaded. Suites are plugins too" in err and "add them to the allow-list" in err
    assert "(available: , checks, all)" not in err
    assert "not loaded (LSTM_BENCH_LOAD_PLUGINS / LSTM_BENCH_DISABLE_PLUGINS): " in err and "params" in err


def test_bench_list_names_an_environment_plugin_once(capsys, fake_backends):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fake_backends (via LSTM_BENCH_PLUGINS)" in out and "((" not in out


def test_an_extra_flatten_row_is_called_an_extra_layer():
    from harness.model_spec import ModelSpec
    from suites.shapes import ShapesSuite

    spec = ModelSpec(return_sequences=False)
    layers = {"input": [[None, 2]], "embedding": [[None, 2, 5]], "lstm": [[None, 3]], "flatten": [[None, 3]],
              "dense": [[None, 1]]}
    outputs = {"lstm_output": (4, 3), "state_h": None, "state_c": None, "predictions": (4, 1)}
    record = ShapesSuite().judge(spec, "mine", {"outputs": outputs, "layers": layers, "predictions_finite": True,
                                                "predictions_range": (0.2, 0.8)}, None)
    assert record.status == "fail"
    assert "layer flatten outputs (None, 3), but this model has no flatten layer" in record.message
    assert "remove the extra row" in record.message and "missing layer" not in record.message
