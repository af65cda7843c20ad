"""Typed calls of the hooks in `harness.plugins.hookspecs`: one wrapper per hook, traced on request.

Discovery calls a hook only through these wrappers (never ``getattr(manager.hook, "bench_...")``), so a
renamed or mistyped hook is an attribute error in one place, and each wrapper says what it hands the
plugin. Each plugin's implementation is called on its own: one that raises becomes a `PluginProblem`
naming it, and the other plugins still register.

Set ``LSTM_BENCH_TRACE_PLUGINS=1`` to see every hook call on standard error, in ``bench`` and in every
worker process (each worker discovers plugins again; its trace lines are passed on to ``bench``'s
standard error, prefixed with the backend, when the worker ends)::

    lstm-bench trace: bench_register_backends -> torch: register(BackendInfo 'torch')
    lstm-bench trace: bench_register_backends -> torch: returned after 0.1 ms, 3 register() call(s)
    lstm-bench trace: [worker torch] bench_register_backends -> torch: register(BackendInfo 'torch')
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from harness.errors import one_line
from harness.plugins.registry import BackendInfo, PluginProblem

if TYPE_CHECKING:
    from harness.addons.base import CellAddon
    from harness.suite import Suite

TRACE_PLUGINS_ENV = "LSTM_BENCH_TRACE_PLUGINS"
"""Any value but empty, ``0``, ``false``, ``no`` or ``off`` prints every hook call, and what each plugin
registers, to stderr."""
OFF_VALUES = ("", "0", "false", "no", "off")

RegistrarFor = Callable[[str], Callable[[Any], None]]
"""Given a plugin's name, the ``register`` callback that records what that plugin registers."""


def register_backends(manager: pluggy.PluginManager, registrar_for: Callable[[str], Callable[[BackendInfo], None]]) -> list[PluginProblem]:
    """Call every plugin's ``bench_register_backends(register)``; the problems of those that raised."""
    return _call_each(manager.hook.bench_register_backends, registrar_for)


def register_suites(manager: pluggy.PluginManager, registrar_for: Callable[[str], Callable[[Suite], None]]) -> list[PluginProblem]:
    """Call every plugin's ``bench_register_suites(register)``; the problems of those that raised."""
    return _call_each(manager.hook.bench_register_suites, registrar_for)


def register_addons(manager: pluggy.PluginManager, registrar_for: Callable[[str], Callable[[type[CellAddon]], None]]) -> list[PluginProblem]:
    """Call every plugin's ``bench_register_addons(register)``; the problems of those that raised."""
    return _call_each(manager.hook.bench_register_addons, registrar_for)


def tracing() -> bool:
    """Whether ``LSTM_BENCH_TRACE_PLUGINS`` asks for hook tracing."""
    return os.environ.get(TRACE_PLUGINS_ENV, "").strip().lower() not in OFF_VALUES


def trace(message: str) -> None:
    """One trace line on standard error, when tracing is on."""
    if tracing():
        print(f"lstm-bench trace: {message}", file=sys.stderr, flush=True)


def forward_worker_trace(backend: str, worker_stderr: Path) -> None:
    """Pass a worker's trace lines on to this process's standard error, when tracing is on."""
    if not tracing():
        return
    try:
        lines = worker_stderr.read_text(errors="replace").splitlines()
    except OSError:
        return
    prefix = "lstm-bench trace: "
    for line in lines:
        if line.startswith(prefix):
            print(f"{prefix}[worker {backend}] {line[len(prefix):]}", file=sys.stderr, flush=True)


def _call_each(caller: pluggy.HookCaller, registrar_for: RegistrarFor) -> list[PluginProblem]:
    problems = []
    for implementation in caller.get_hookimpls():
        plugin = implementation.plugin_name
        where = f"{caller.name} -> {plugin}"
        register = registrar_for(plugin)
        registered = 0

        def traced_register(item: Any, register: Callable[[Any], None] = register, where: str = where) -> None:
            nonlocal registered
            trace(f"{where}: register({_describe(item)})")
            register(item)  # the registry refuses a duplicate by recording a problem, not by raising
            registered += 1

        started = time.perf_counter()
        try:
            implementation.function(register=traced_register)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - one plugin's failure (even sys.exit) must not stop the others
            problems.append(PluginProblem(plugin, f"{caller.name} raised {one_line(error)}"))
            trace(f"{where}: raised {one_line(error)}")
            continue
        trace(f"{where}: returned after {(time.perf_counter() - started) * 1e3:.1f} ms, {registered} register() call(s)")
    return problems


def _describe(item: Any) -> str:
    name = getattr(item, "name", None)
    kind = item.__name__ if isinstance(item, type) else type(item).__name__
    return f"{kind} {name!r}" if isinstance(name, str) else repr(item)
