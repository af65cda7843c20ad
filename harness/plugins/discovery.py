"""Plugin discovery: entry points, the ``LSTM_BENCH_PLUGINS`` variable, and failure isolation.

Discovery runs only when asked (`discover`), imports plugin modules but no framework, and never lets
one broken plugin stop the others: an import error, a hook with a wrong signature or a hook that raises
becomes a `PluginProblem` naming the plugin.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

import pluggy

from harness.errors import one_line
from harness.plugins import hook_calls, hookspecs
from harness.plugins.registry import PluginProblem, PluginRecord, Registry

ENTRY_POINT_GROUP = "lstm_bench"
EXTRA_PLUGINS_ENV = "LSTM_BENCH_PLUGINS"
"""Comma-separated module names registered as plugins in addition to entry points (like PYTEST_PLUGINS).

Worker processes inherit it, so a plugin named here is available in the workers too."""
DISABLE_PLUGINS_ENV = "LSTM_BENCH_DISABLE_PLUGINS"
"""Comma-separated plugin names (entry-point or module names) not to load, built-ins included."""
LOAD_PLUGINS_ENV = "LSTM_BENCH_LOAD_PLUGINS"
"""When set, only the plugins named here (comma-separated) are loaded; the others are listed as disabled."""


def _names(variable: str) -> set[str]:
    return {part.strip() for part in os.environ.get(variable, "").split(",") if part.strip()}


def plugin_allowed(name: str) -> bool:
    """Whether the allow and block variables let plugin ``name`` load."""
    allowed = _names(LOAD_PLUGINS_ENV)
    return name not in _names(DISABLE_PLUGINS_ENV) and (not os.environ.get(LOAD_PLUGINS_ENV) or name in allowed)


def discover(extra_plugins: Iterable[object] = ()) -> Registry:
    """Load every plugin and return what they registered.

    :param extra_plugins: plugin objects registered after the entry points (tests use this).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    with contextlib.redirect_stdout(sys.stderr):  # a plugin that prints while loading must not corrupt --format json
        _register_entry_points(manager, registry)
        _register_env_plugins(manager, registry)
        for plugin in extra_plugins:
            _register(manager, registry, plugin, name=getattr(plugin, "__name__", None), package="(in-process)")
    registry.warnings += _unknown_hooks(manager) + _unknown_plugin_names(registry)
    registry.problems += hook_calls.register_suites(manager, registry.suite_registrar)
    registry.problems += hook_calls.register_backends(manager, registry.backend_registrar)
    registry.problems += hook_calls.register_addons(manager, registry.addon_registrar)
    return registry


def _register_entry_points(manager: pluggy.PluginManager, registry: Registry) -> None:
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        package = entry_point.dist.name if entry_point.dist else "?"
        version = entry_point.dist.version if entry_point.dist else "?"
        if not plugin_allowed(entry_point.name):
            _disabled(registry, PluginRecord(entry_point.name, package, version, status="disabled"))
            continue
        try:
            with _moved_path_warnings(registry, entry_point.name):
                plugin = entry_point.load()
        except (Exception, SystemExit) as error:  # noqa: BLE001 - any import failure (even sys.exit) must not break discovery
            _broken(registry, PluginProblem(entry_point.name, f"cannot import {entry_point.value}: {one_line(error)}"))
            continue
        _register(manager, registry, plugin, name=entry_point.name, package=package, version=version)


def _unknown_hooks(manager: pluggy.PluginManager) -> list[PluginProblem]:
    """A plugin function named like a hook (``bench_...``) that no hook specification knows: a typo, which
    pluggy would otherwise ignore."""
    problems = []
    for name, caller in sorted(manager.hook.__dict__.items()):
        if not name.startswith("bench_") or not hasattr(caller, "get_hookimpls") or caller.spec is not None:
            continue
        for implementation in caller.get_hookimpls():
            problems.append(PluginProblem(implementation.plugin_name, f"{name} is not an lstm-bench hook (a typo? known: "
                                          f"{', '.join(sorted(n for n in dir(hookspecs) if n.startswith('bench_')))}); ignored"))
    return problems


def _unknown_plugin_names(registry: Registry) -> list[PluginProblem]:
    """Names in the allow and block variables that match no plugin: a typo that silently changes nothing."""
    known = {record.name for record in registry.plugins} | {problem.plugin for problem in registry.problems}
    problems = []
    for variable in (LOAD_PLUGINS_ENV, DISABLE_PLUGINS_ENV):
        for name in sorted(_names(variable) - known):
            problems.append(PluginProblem(name, f"{variable} names {name!r}, which is no plugin (known: "
                                          f"{', '.join(sorted(known))}); it changes nothing"))
    return problems


def _register_env_plugins(manager: pluggy.PluginManager, registry: Registry) -> None:
    for module_name in dict.fromkeys(filter(None, (part.strip() for part in os.environ.get(EXTRA_PLUGINS_ENV, "").split(",")))):
        if not plugin_allowed(module_name):
            _disabled(registry, PluginRecord(module_name, f"via {EXTRA_PLUGINS_ENV}", "", status="disabled"))
            continue
        try:
            with _moved_path_warnings(registry, module_name):
                plugin = importlib.import_module(module_name)
        except (Exception, SystemExit) as error:  # noqa: BLE001
            _broken(registry, PluginProblem(module_name, f"cannot import {module_name}: {one_line(error)}"))
            continue
        if manager.is_registered(plugin):
            continue  # already loaded through its entry point
        _register(manager, registry, plugin, name=module_name, package=f"via {EXTRA_PLUGINS_ENV}")


def _disabled(registry: Registry, record: PluginRecord) -> None:
    registry.plugins.append(record)
    hook_calls.trace(f"plugin {record.name!r} is disabled (not loaded)")


def _broken(registry: Registry, problem: PluginProblem) -> None:
    registry.problems.append(problem)
    hook_calls.trace(f"plugin {problem.plugin!r} is broken: {problem.message}")


@contextlib.contextmanager
def _moved_path_warnings(registry: Registry, plugin: str) -> Iterator[None]:
    """While ``plugin`` imports, collect its use of lstm-bench 0.1's moved paths (`harness.moved_modules`)
    as `Registry.warnings`, which the CLI shows; other warnings pass through untouched."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning) and " has moved: import " in str(warning.message):
            registry.warnings.append(PluginProblem(plugin, str(warning.message)))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _register(
    manager: pluggy.PluginManager,
    registry: Registry,
    plugin: object,
    *,
    name: str | None,
    package: str,
    version: str = "",
) -> None:
    try:
        registered_name = manager.register(plugin, name=name)
    except Exception as error:  # noqa: BLE001 - PluginValidationError, duplicate names
        _broken(registry, PluginProblem(name or repr(plugin), one_line(error)))
        return
    implemented = tuple(caller.name for caller in manager.get_hookcallers(plugin) or ())
    registry.plugins.append(PluginRecord(registered_name or repr(plugin), package, version, hooks=implemented))
    hook_calls.trace(f"loaded plugin {registered_name or plugin!r} from {package}: {', '.join(implemented) or 'no hooks'}")
