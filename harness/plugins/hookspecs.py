"""Hook specifications: how a plugin adds backends, suites and per-cell add-ons to lstm-bench.

A plugin is any module (or object) with functions marked ``@hookimpl`` and named like the specs below,
made known through the ``lstm_bench`` entry-point group::

    [project.entry-points.lstm_bench]
    mybackend = "mypackage.plugin"

Hooks register things; they never run benchmarks. The built-in backends, suites and add-ons are
registered exactly this way, through lstm-bench's own entry points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from harness.addons.base import CellAddon
    from harness.plugins.registry import BackendInfo
    from harness.suite import Suite

PROJECT_NAME = "lstm_bench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def bench_register_backends(register: Callable[[BackendInfo], None]) -> None:
    """Register backends by calling ``register(BackendInfo(...))`` once per backend.

    Keep the plugin module free of framework imports: `BackendInfo.implementation` names the class
    (``"package.module:Class"``) that the harness imports later, inside the backend's worker process.

    :param register: call it with a `harness.plugins.registry.BackendInfo`; a name already taken is rejected
        and reported against your plugin.
    """


@hookspec
def bench_register_suites(register: Callable[[Suite], None]) -> None:
    """Register suites by calling ``register(suite)`` with instances of `harness.suite.Suite`.

    :param register: call it with a suite instance; a name already taken is rejected and reported.
    """


@hookspec
def bench_register_addons(register: Callable[[type[CellAddon]], None]) -> None:
    """Register per-cell add-ons by calling ``register(AddonClass)`` with subclasses of
    `harness.addons.base.CellAddon` (constructed with no arguments, once per round of every timing cell,
    inside the backend's worker).

    :param register: call it with the add-on class; a name already taken is rejected and reported.
    """
