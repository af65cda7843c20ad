"""What plugins registered: backends (declared lazily), suites, add-ons, and the plugins that failed."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from harness.errors import BenchUsageError

if TYPE_CHECKING:
    from harness.addons.base import CellAddon
    from harness.contract import Backend
    from harness.suite import Suite


@dataclass(frozen=True)
class BackendInfo:
    """A backend's declaration: everything ``bench list`` shows without importing its framework.

    Attributes:
        name: the name users type (``--backend torch``); unique across plugins.
        implementation: ``"package.module:Class"`` of a `harness.contract.Backend` subclass. Imported
            only inside the backend's worker process.
        framework: the framework's display name (``PyTorch``).
        requires: distributions that must be installed (``("torch",)``); the first one's version is shown.
        install_hint: how to install what is missing, e.g. ``pip install 'lstm-bench[torch]'``.
        description: one line for ``bench list``.
        options: keyword arguments passed to the implementation class (lets one class serve variants).
        worker_env: environment variables set in the backend's worker process (e.g. ``KERAS_BACKEND``).
        default: run when ``--backend`` is not given; variants (XLA, ``torch.compile``, other Keras
            engines) say False and run when named or with ``--backend all``.
        plugin: the plugin that registered it; filled in by the registry.
        cpu_only: the backend never uses an accelerator (the NumPy reference): ``bench list`` shows ``cpu``
            even where a GPU is visible, instead of ``cuda?`` (which only the framework can answer).
    """

    name: str
    implementation: str
    framework: str
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    worker_env: Mapping[str, str] = field(default_factory=dict)
    default: bool = True
    plugin: str = ""
    cpu_only: bool = False

    def load(self) -> Backend:
        """Import the implementation and instantiate it with `options` (call this in the worker only)."""
        module_name, _, class_name = self.implementation.partition(":")
        backend_class = getattr(importlib.import_module(module_name), class_name)
        return backend_class(**self.options)


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be loaded or whose hook failed; the rest of lstm-bench keeps working."""

    plugin: str
    message: str


@dataclass(frozen=True)
class PluginRecord:
    """A plugin that was found: its name, the distribution that ships it, and whether it was loaded.

    Attributes:
        status: ``loaded``, or ``disabled`` (blocked by ``LSTM_BENCH_DISABLE_PLUGINS`` or left out of
            ``LSTM_BENCH_LOAD_PLUGINS``). Plugins that failed are in `Registry.problems`.
        hooks: the hooks it implements.
    """

    name: str
    package: str
    version: str
    status: str = "loaded"
    hooks: tuple[str, ...] = ()


@dataclass
class Registry:
    """Backends and suites by name, plus the plugins that were loaded and those that failed."""

    backends: dict[str, BackendInfo] = field(default_factory=dict)
    suites: dict[str, Suite] = field(default_factory=dict)
    suite_plugins: dict[str, str] = field(default_factory=dict)
    """The plugin that registered each suite."""
    addons: dict[str, type[CellAddon]] = field(default_factory=dict)
    """Per-cell add-on classes by name (`harness.addons.base.CellAddon`), in registration order."""
    addon_plugins: dict[str, str] = field(default_factory=dict)
    """The plugin that registered each add-on."""
    plugins: list[PluginRecord] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)
    warnings: list[PluginProblem] = field(default_factory=list)
    """Plugins that work but should change, e.g. imports from paths that moved (see `harness.moved_modules`)."""

    def backend_registrar(self, plugin: str) -> Callable[[BackendInfo], None]:
        """The ``register`` callback handed to ``plugin``'s ``bench_register_backends``."""

        def register(info: BackendInfo) -> None:
            if not isinstance(info, BackendInfo):
                raise TypeError(f"register() takes a BackendInfo, got {type(info).__name__}")
            taken = self.backends.get(info.name)
            if taken is not None:
                self.problems.append(PluginProblem(
                    plugin, f"backend name {info.name!r} is already registered by plugin {taken.plugin!r}; ignored"
                ))
                return
            self.backends[info.name] = replace(info, plugin=plugin)

        return register

    def suite_registrar(self, plugin: str) -> Callable[[Suite], None]:
        """The ``register`` callback handed to ``plugin``'s ``bench_register_suites``."""

        def register(suite: Suite) -> None:
            if suite.name in self.suites:
                self.problems.append(PluginProblem(
                    plugin, f"suite name {suite.name!r} is already registered; ignored"
                ))
                return
            self.suites[suite.name] = suite
            self.suite_plugins[suite.name] = plugin

        return register

    def addon_registrar(self, plugin: str) -> Callable[[type[CellAddon]], None]:
        """The ``register`` callback handed to ``plugin``'s ``bench_register_addons``."""
        from harness.addons.base import CellAddon

        def register(addon: type[CellAddon]) -> None:
            if not (isinstance(addon, type) and issubclass(addon, CellAddon)):
                raise TypeError(f"register() takes a CellAddon subclass, got {addon!r}")
            if addon.name in self.addons:
                self.problems.append(PluginProblem(plugin, f"add-on name {addon.name!r} is already registered; ignored"))
                return
            self.addons[addon.name] = addon
            self.addon_plugins[addon.name] = plugin

        return register

    def no_suites_message(self) -> str:
        """Why there is nothing to run when no suite is loaded: suites are plugins an allow-list must name."""
        return ("no suite is loaded. Suites are plugins too (the built-ins: params, shapes, gradients, behaviour, "
                "training, timed-work, train, infer), and LSTM_BENCH_LOAD_PLUGINS / LSTM_BENCH_DISABLE_PLUGINS left "
                "them all out: add them to the allow-list" + self._not_loaded_hint())

    def _not_loaded_hint(self) -> str:
        """``; plugin 'x' failed to import: ...; not loaded (LSTM_BENCH_LOAD_PLUGINS / _DISABLE_): a, b``, or ''."""
        hints = [f"plugin {problem.plugin!r} failed: {problem.message}" for problem in self.problems]
        disabled = [record.name for record in self.plugins if record.status == "disabled"]
        if disabled:
            hints.append("not loaded (LSTM_BENCH_LOAD_PLUGINS / LSTM_BENCH_DISABLE_PLUGINS): " + ", ".join(disabled))
        return "".join(f"; {hint}" for hint in hints)

    def ordered_suites(self) -> list[Suite]:
        """Every suite in the order each declares (`harness.suite.Suite.run_order`, then name)."""
        return sorted(self.suites.values(), key=lambda suite: (suite.run_order, suite.name))

    def check_suites(self) -> list[Suite]:
        """The suites that check equivalence rather than measure time (``--suite checks``, ``bench check``),
        as each suite declares it (`harness.suite.Suite.measures_time`), in run order."""
        return [suite for suite in self.ordered_suites() if not suite.measures_time]

    def timing_suites(self) -> list[Suite]:
        """The suites that measure time (``train``, ``infer``, and any a plugin adds), in run order."""
        return [suite for suite in self.ordered_suites() if suite.measures_time]

    def backend(self, name: str) -> BackendInfo:
        """The backend called ``name``, or a `BenchUsageError` listing the known names and, when plugins
        failed to import or were left out, which and why (the backend may be theirs)."""
        if name not in self.backends:
            disabled = [record.name for record in self.plugins if record.status == "disabled"
                        and name.split("-")[0] == record.name.rsplit(".", 1)[-1].split("-")[0]]
            if disabled:
                raise BenchUsageError(
                    f"--backend: {name!r} is not loaded: its plugin {disabled[0]!r} is left out by "
                    "LSTM_BENCH_LOAD_PLUGINS / LSTM_BENCH_DISABLE_PLUGINS (unset them, or allow it, to use it)"
                )
            raise BenchUsageError(
                f"--backend: unknown backend {name!r} (available: {', '.join(sorted(self.backends)) or 'none'}, all)"
                + self._not_loaded_hint()
            )
        return self.backends[name]

    def suite(self, name: str) -> Suite:
        """The suite called ``name``, or a `BenchUsageError` listing the known names (and, when no suite
        is loaded at all, that suites are plugins an allow-list must name)."""
        if name not in self.suites:
            if not self.suites:
                raise BenchUsageError(f"--suite: unknown suite {name!r}: {self.no_suites_message()}")
            raise BenchUsageError(
                f"--suite: unknown suite {name!r} (available: {', '.join(sorted(self.suites))}, checks, all)"
                + self._not_loaded_hint()
            )
        return self.suites[name]

