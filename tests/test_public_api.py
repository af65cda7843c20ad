"""The public plugin API: one module, `harness.api`, and the plugins that must use nothing else."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness.api

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLUGIN = ROOT / "examples" / "lstm-bench-jax"
PLUGIN_DOC = ROOT / "docs" / "plugins.md"
WHAT_A_PLUGIN_AUTHOR_NEEDS = {
    "hookimpl", "BackendInfo", "Backend", "ClassifierModel", "LayerSummary", "ForwardOutput", "ModelSpec",
    "OptimizerSpec", "UnsupportedCapability", "BenchUsageError", "WEIGHT_NAMES", "check_weights",
    "keras_default_weights", "Suite", "SuiteOptions", "Record", "Table", "check_backend", "check_suite_names",
}


def harness_imports(source: str) -> list[str]:
    """Every module under ``harness`` that ``source`` imports (``from harness import x`` counts as ``harness.x``)."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names if alias.name.split(".")[0] == "harness"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            modules += [f"harness.{alias.name}" for alias in node.names] if node.module == "harness" else [node.module]
    return modules


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_harness_imports_sees_every_form_of_import():
    source = "import harness.contract\nfrom harness import results\nfrom harness.api import Backend\nimport numpy\n"
    assert harness_imports(source) == ["harness.contract", "harness.results", "harness.api"]


def test_every_public_name_resolves_and_is_listed_once():
    assert len(harness.api.__all__) == len(set(harness.api.__all__))
    missing = [name for name in harness.api.__all__ if not hasattr(harness.api, name)]
    assert missing == []
    assert WHAT_A_PLUGIN_AUTHOR_NEEDS <= set(harness.api.__all__)


EXAMPLE_SOURCES = sorted(
    path for folder in ("src", "tests") for path in (EXAMPLE_PLUGIN / folder).rglob("*.py")
)


def test_the_example_has_sources_and_tests():
    assert {path.parent.name for path in EXAMPLE_SOURCES} == {"lstm_bench_jax", "tests"}


@pytest.mark.parametrize("path", EXAMPLE_SOURCES, ids=lambda path: str(path.relative_to(EXAMPLE_PLUGIN)))
def test_the_example_plugin_imports_only_the_public_api(path):
    assert set(harness_imports(path.read_text())) <= {"harness.api"}


def test_the_example_plugin_does_import_the_public_api():
    sources = [path.read_text() for path in (EXAMPLE_PLUGIN / "src").rglob("*.py")]
    assert sum(harness_imports(source).count("harness.api") for source in sources) >= 2


def test_the_plugin_guide_shows_only_the_public_api():
    blocks = python_blocks(PLUGIN_DOC.read_text())
    assert len(blocks) >= 3
    imported = [module for block in blocks for module in harness_imports(block)]
    assert imported and set(imported) == {"harness.api"}


@pytest.mark.parametrize("path", sorted((ROOT / "backends").glob("*_plugin.py")), ids=lambda path: path.name)
def test_built_in_plugins_register_through_the_public_api_like_any_other(path):
    assert set(harness_imports(path.read_text())) == {"harness.api"}


def test_the_public_api_imports_no_framework():
    code = ("import sys, harness.api; "
            "print(sorted({'torch', 'tensorflow', 'keras', 'jax', 'pandas', 'matplotlib'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


OLD_STYLE_PLUGIN = """
from harness.hookspecs import hookimpl
from harness.registry import BackendInfo
from harness.spec import ModelSpec
from harness.records import PASS, Record, Table


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="old-style", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy"))
"""


def test_a_plugin_written_against_the_old_paths_still_registers_and_is_told_where_to_go(monkeypatch):
    import types
    import warnings

    from harness.plugins.discovery import discover

    for old in ("harness.hookspecs", "harness.registry", "harness.spec", "harness.records"):
        monkeypatch.delitem(sys.modules, old, raising=False)
    plugin = types.ModuleType("old_style_plugin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(OLD_STYLE_PLUGIN, plugin.__dict__)
    messages = [str(warning.message) for warning in caught if warning.category is DeprecationWarning]
    assert "harness.hookspecs has moved: import hookimpl from harness.api (its home is now harness.plugins.hookspecs)" in messages
    assert any(message.startswith("harness.records has moved") for message in messages)
    assert plugin.hookimpl is harness.api.hookimpl and plugin.Table is harness.api.Table
    registry = discover(extra_plugins=[plugin])
    assert registry.problems == [] and registry.backends["old-style"].framework == "NumPy"


def test_a_name_that_never_existed_is_still_an_import_error():
    with pytest.raises(ImportError):
        exec("from harness.spec import NoSuchThing", {})
    with pytest.raises(ModuleNotFoundError):
        exec("import harness.no_such_module", {})


def test_the_names_static_checkers_see_are_the_public_names():
    tree = ast.parse(Path(harness.api.__file__).read_text())
    (block,) = [node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"]
    imported = {alias.name for node in block.body for alias in node.names}
    assert imported == set(harness.api.__all__)
