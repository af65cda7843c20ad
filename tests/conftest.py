"""Shared fixtures: test-only plugins made visible to the CLI and to its worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.availability import probe
from harness.plugins import EXTRA_PLUGINS_ENV, discover

TEST_PLUGINS_DIR = Path(__file__).parent / "plugins"
BUILTIN_BACKENDS = ("numpy", "torch", "keras")


def _builtin_backend_params():
    registry = discover()
    params = []
    for name in BUILTIN_BACKENDS:
        info = registry.backends.get(name)
        availability = probe(info) if info else None
        marks = [] if availability and availability.available else [
            pytest.mark.skip(reason=f"{name} unavailable: {availability.reason if availability else 'not registered'}")
        ]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


BUILTIN_BACKEND_PARAMS = _builtin_backend_params()


@pytest.fixture
def use_plugins(monkeypatch):
    """Register test-only plugin modules (from tests/plugins) for this test, in-process and in workers."""
    monkeypatch.syspath_prepend(str(TEST_PLUGINS_DIR))
    paths = [str(TEST_PLUGINS_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))

    def use(*module_names: str) -> None:
        monkeypatch.setenv(EXTRA_PLUGINS_ENV, ",".join(module_names))

    return use


@pytest.fixture
def fake_backends(use_plugins):
    """The fake backends of tests/plugins/fake_backends.py, registered like a third-party plugin."""
    use_plugins("fake_backends")
