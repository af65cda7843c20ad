"""Old import paths of lstm-bench 0.1 plugins, kept working for one release with a `DeprecationWarning`.

Plugins written against 0.1 imported ``harness.hookspecs``, ``harness.registry``, ``harness.spec``,
``harness.records`` and ``harness.comparison``. Those modules moved (docs/architecture.md); importing an old
path now gives a stand-in module whose names come from the new homes, and the first name used warns once,
pointing at `harness.api`, the one module plugins should import from.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

MOVED = {
    "harness.spec": ("harness.model_spec",),
    "harness.hookspecs": ("harness.plugins.hookspecs",),
    "harness.registry": ("harness.plugins.registry",),
    "harness.records": ("harness.results.record", "harness.rendering"),
    "harness.comparison": ("harness.tolerances",),
}
"""Each old module path, and the modules its names now live in (searched in order)."""


class MovedModule(types.ModuleType):
    """Stands in for a moved module: each attribute is looked up in the new homes."""

    def __init__(self, name: str, homes: tuple[str, ...]) -> None:
        super().__init__(name, f"Moved: import from harness.api (was {name}; now {', '.join(homes)}).")
        self._homes = homes
        self._warned = False

    def __getattr__(self, attribute: str) -> Any:
        if attribute == "__all__":  # ``from harness.records import *``
            homes = [importlib.import_module(home) for home in self._homes]
            return [name for module in homes for name, value in vars(module).items()
                    if not name.startswith("_") and not isinstance(value, types.ModuleType)
                    and type(value).__module__ != "__future__"]
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        for home in self._homes:
            module = importlib.import_module(home)
            if hasattr(module, attribute):
                if not self._warned:
                    self._warned = True
                    from harness import api

                    where = "harness.api" if attribute in api.__all__ else home
                    warnings.warn(f"{self.__name__} has moved: import {attribute} from {where} "
                                  f"(its home is now {home})", DeprecationWarning, stacklevel=2)
                return getattr(module, attribute)
        raise AttributeError(f"module {self.__name__!r} (moved to {', '.join(self._homes)}) has no attribute {attribute!r}")


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old paths in `MOVED` and loads a `MovedModule` for each."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        return MovedModule(spec.name, MOVED[spec.name])

    def exec_module(self, module) -> None:
        """Nothing to run: the stand-in resolves names on use."""


def install() -> None:
    """Let the old paths import (once per process)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
