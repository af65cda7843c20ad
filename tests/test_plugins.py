"""Discovery: built-ins through entry points, third-party plugins, and broken plugins that stay contained."""

import pytest

from harness.errors import BenchUsageError
from harness.plugins.discovery import discover
from harness.plugins.hookspecs import hookimpl
from harness.plugins.registry import BackendInfo


def test_builtins_are_registered_through_the_entry_point_group():
    from importlib.metadata import entry_points

    registry = discover()
    builtins = {entry.name for entry in entry_points(group="lstm_bench") if entry.dist and entry.dist.name == "lstm-bench"}
    assert {"numpy", "torch", "keras", "params", "train"} <= builtins
    packages = {plugin.name: plugin.package for plugin in registry.plugins}
    assert {name: packages.get(name) for name in builtins} == {name: "lstm-bench" for name in builtins}
    from_entry_points = {plugin.name for plugin in registry.plugins if plugin.package == "lstm-bench"}
    providers = ({info.plugin for info in registry.backends.values()} | set(registry.suite_plugins.values())
                 | set(registry.addon_plugins.values()))
    assert providers & from_entry_points == builtins
    assert registry.backends["torch"].plugin == "torch"
    assert registry.problems == []


def test_discovery_imports_no_framework():
    import subprocess
    import sys

    code = (
        "import sys; from harness.plugins.discovery import discover; discover(); "
        "print(sorted({'torch', 'tensorflow', 'keras', 'jax'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


class InProcessPlugin:
    """A plugin object registered directly, as a test or an embedding application would."""

    @hookimpl
    def bench_register_backends(self, register):
        register(BackendInfo(name="in-process", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy"))


def test_an_object_plugin_is_registered_with_its_name():
    registry = discover(extra_plugins=[InProcessPlugin()])
    assert registry.backends["in-process"].framework == "NumPy"


def test_env_plugins_are_loaded(fake_backends):
    registry = discover()
    assert "fake-ok" in registry.backends
    assert registry.backends["fake-ok"].plugin == "fake_backends"


@pytest.mark.parametrize(
    "module, expected",
    [
        ("broken_import_plugin", "cannot import broken_import_plugin: ModuleNotFoundError"),
        ("raising_plugin", "bench_register_backends raised RuntimeError: plugin exploded"),
        ("bad_signature_plugin", "colour"),
        ("duplicate_plugin", "backend name 'torch' is already registered by plugin 'torch'; ignored"),
    ],
)
def test_a_broken_plugin_is_reported_and_the_others_still_work(use_plugins, module, expected):
    use_plugins(module, "fake_backends")
    registry = discover()
    assert [problem.plugin for problem in registry.problems] == [module]
    assert expected in registry.problems[0].message
    assert {"numpy", "torch", "keras", "fake-ok"} <= set(registry.backends)
    assert registry.backends["torch"].implementation == "backends.torch_backend:TorchBackend"


def test_register_refuses_something_that_is_not_a_backend_info():
    class WrongPlugin:
        @hookimpl
        def bench_register_backends(self, register):
            register("torch")

    registry = discover(extra_plugins=[WrongPlugin()])
    assert "register() takes a BackendInfo, got str" in registry.problems[0].message


def test_unknown_names_list_what_exists():
    registry = discover()
    with pytest.raises(BenchUsageError) as unknown_backend:
        registry.backend("jax")
    assert str(unknown_backend.value) == f"--backend: unknown backend 'jax' (available: {', '.join(sorted(registry.backends))}, all)"
    assert "keras-jax, keras-jax-fp32" in str(unknown_backend.value)
    with pytest.raises(BenchUsageError) as unknown_suite:
        registry.suite("speed")
    assert str(unknown_suite.value) == f"--suite: unknown suite 'speed' (available: {', '.join(sorted(registry.suites))}, checks, all)"


def test_a_module_named_in_the_env_and_by_an_entry_point_is_registered_once(monkeypatch):
    monkeypatch.setenv("LSTM_BENCH_PLUGINS", "backends.torch_plugin,suites.params")
    registry = discover()
    assert registry.problems == []
    assert [plugin.name for plugin in registry.plugins].count("torch") == 1


def test_a_plugin_on_moved_paths_loads_and_bench_says_what_to_import_instead(use_plugins):
    import subprocess
    import sys

    use_plugins("old_style_plugin")
    result = subprocess.run([sys.executable, "-m", "harness", "list"], capture_output=True, text=True, check=True)
    assert "old-style" in result.stdout
    assert ("bench: warning: plugin old_style_plugin: harness.hookspecs has moved: import hookimpl from harness.api "
            "(its home is now harness.plugins.hookspecs)") in result.stderr
    assert "broken" not in result.stderr


def test_a_cpu_only_backend_never_claims_a_gpu(monkeypatch, tmp_path):
    """Where a GPU is visible, ``bench list`` says ``cuda?`` for frameworks that may use it, and ``cpu`` for a
    backend declared ``cpu_only`` (the NumPy reference) without asking it."""
    from harness.plugins import availability

    (tmp_path / "0000:01:00.0").mkdir()
    monkeypatch.setattr(availability, "NVIDIA_GPUS_DIR", tmp_path)
    registry = discover()
    assert availability.probe(registry.backend("numpy")).devices == ("cpu",)
    assert availability.probe(BackendInfo(name="gpu-capable", implementation="x:Y", framework="X")).devices == ("cpu", "cuda?")
