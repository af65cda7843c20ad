"""Every hook spec has a test here, is called through a typed wrapper, and can be traced.

Like datasette's ``test_plugin_hooks_have_tests``: a hook added to `harness.plugins.hookspecs` without a
``test_hook_<name>`` in this module, or without its wrapper in `harness.plugins.hook_calls`, fails here.
"""

import os
import subprocess
import sys

import pluggy
import pytest

from harness.api import hookimpl
from harness.plugins import hook_calls, hookspecs
from harness.plugins.discovery import discover


def hook_names() -> list[str]:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return sorted(name for name in dir(manager.hook) if not name.startswith("_"))


def test_there_are_hooks_to_check():
    assert hook_names() == ["bench_register_addons", "bench_register_backends", "bench_register_suites"]


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test(hook):
    assert f"test_hook_{hook}" in globals(), f"add a test named test_hook_{hook} to {__name__}"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_typed_wrapper(hook):
    wrapper = getattr(hook_calls, hook.removeprefix("bench_"), None)
    assert callable(wrapper), f"add harness.plugins.hook_calls.{hook.removeprefix('bench_')}, the typed call of {hook}"
    assert wrapper.__annotations__.get("return") == "list[PluginProblem]"


def test_hook_bench_register_backends(use_plugins):
    use_plugins("toy_plugin")
    registry = discover()
    assert registry.backends["toy"].framework == "NumPy"
    assert registry.backends["toy"].plugin == "toy_plugin"
    toy = next(plugin for plugin in registry.plugins if plugin.name == "toy_plugin")
    assert set(toy.hooks) == set(hook_names())


def test_hook_bench_register_suites(use_plugins):
    use_plugins("toy_plugin")
    registry = discover()
    assert type(registry.suites["toy-count"]).__name__ == "ToyCountSuite"
    assert registry.suite_plugins["toy-count"] == "toy_plugin"
    assert registry.suite("toy-count") in registry.check_suites()
    assert registry.suite("toy-count") not in registry.timing_suites()
    assert {suite.name for suite in registry.timing_suites()} >= {"train", "infer"}


def test_hook_bench_register_addons(use_plugins, tmp_path, capsys):
    use_plugins("toy_plugin")
    registry = discover()
    assert {"memory", "machine"} <= set(registry.addons), "the built-ins, registered through entry points"
    assert registry.addons["toy-clock"].__name__ == "ToyClockAddon"
    from harness.cli import main

    argv = ["run", "--suite", "infer", "--backend", "numpy", "--hidden", "4", "--vocab-size", "20", "--seq-len", "2",
            "--batch-size", "2", "--min-time", "0.05", "--max-time", "0.1", "--rounds", "2", "--out", str(tmp_path),
            "--format", "json"]
    assert main(argv) == 0
    (record,) = __import__("json").loads(capsys.readouterr().out)["records"]
    for details in record["round_details"]:
        assert set(details["addons"]) == {"memory", "machine", "toy-clock"}
        assert 0 < details["addons"]["toy-clock"]["wall_seconds"] < 60


def test_an_addon_registration_that_is_not_an_addon_class_is_one_problem():
    class NotAnAddon:
        @hookimpl
        def bench_register_addons(self, register):
            register(object())

    registry = discover(extra_plugins=[NotAnAddon()])
    assert any("register() takes a CellAddon subclass" in problem.message for problem in registry.problems)


def test_a_raising_hook_is_one_problem_and_the_others_register():
    class Raising:
        @hookimpl
        def bench_register_suites(self, register):
            raise ValueError("half way")

    registry = discover(extra_plugins=[Raising()])
    assert [problem.message for problem in registry.problems] == ["bench_register_suites raised ValueError: half way"]
    assert "numpy" in registry.backends and "params" in registry.suites


def run_bench_list(trace_value):
    environment = {name: value for name, value in os.environ.items() if name != "LSTM_BENCH_TRACE_PLUGINS"}
    if trace_value is not None:
        environment["LSTM_BENCH_TRACE_PLUGINS"] = trace_value
    return subprocess.run([sys.executable, "-m", "harness", "list"], capture_output=True, text=True,
                          env=environment, check=True)


def test_tracing_names_the_plugin_whose_hook_raised(use_plugins):
    use_plugins("raising_plugin")
    stderr = run_bench_list("1").stderr
    assert "lstm-bench trace: bench_register_backends -> raising_plugin: raised RuntimeError: plugin exploded" in stderr
    assert "lstm-bench trace: bench_register_backends -> numpy: register(BackendInfo 'numpy')" in stderr


def test_tracing_prints_every_hook_call_to_stderr():
    result = run_bench_list("1")
    lines = [line for line in result.stderr.splitlines() if line.startswith("lstm-bench trace: ")]
    registry = discover()
    for name in registry.backends:
        info = registry.backends[name]
        assert f"lstm-bench trace: bench_register_backends -> {info.plugin}: register(BackendInfo {name!r})" in lines
    for name, plugin in registry.suite_plugins.items():
        assert any(line.startswith(f"lstm-bench trace: bench_register_suites -> {plugin}: register(") and repr(name) in line
                   for line in lines), name
    assert any(line.startswith("lstm-bench trace: bench_register_backends -> torch: returned after ") for line in lines)
    assert any(line.startswith("lstm-bench trace: loaded plugin 'numpy' from lstm-bench") for line in lines)
    assert "backends" in result.stdout


@pytest.mark.parametrize("value", [None, "", "0"])
def test_no_trace_unless_asked(value):
    assert "lstm-bench trace" not in run_bench_list(value).stderr


def test_a_workers_hook_calls_are_traced_in_benchs_stderr(tmp_path):
    environment = {**os.environ, "LSTM_BENCH_TRACE_PLUGINS": "1"}
    result = subprocess.run([sys.executable, "-m", "harness", "run", "--backend", "numpy", "--out", str(tmp_path)],
                            capture_output=True, text=True, env=environment, check=True)
    assert "lstm-bench trace: [worker numpy] bench_register_backends -> numpy: register(BackendInfo 'numpy')" in result.stderr
    assert "250,115" in result.stdout
