"""Shared fixtures: test-only plugins made visible to the CLI and to its worker processes, and the
backends the tests run, read from the registry (never listed by hand)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness.measurement.gemm_peak import CACHE_DIR_ENV
from harness.plugins.availability import probe
from harness.plugins.discovery import EXTRA_PLUGINS_ENV, discover

os.environ[CACHE_DIR_ENV] = tempfile.mkdtemp(prefix="lstm-bench-test-cache-")
"""The GEMM peak is calibrated once per test session, in a cache of its own, never the user's."""

TEST_PLUGINS_DIR = Path(__file__).parent / "plugins"
REGISTRY = discover()
"""Every plugin installed, plus any named in ``LSTM_BENCH_PLUGINS`` when pytest starts: a backend added that
way is tested like the built-ins."""
DEFAULT_BACKENDS = tuple(name for name, info in REGISTRY.backends.items() if info.default)
"""The backends ``bench run`` runs when ``--backend`` is not given (variants are not among them)."""


def backend_params(names):
    """One pytest param per backend, skipped (with the install hint) where its framework is missing."""
    params = []
    for name in names:
        availability = probe(REGISTRY.backends[name])
        marks = [] if availability.available else [pytest.mark.skip(reason=f"{name} unavailable: {availability.reason}")]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


DEFAULT_BACKEND_PARAMS = backend_params(DEFAULT_BACKENDS)


def make_test_plugins_importable(patch: pytest.MonkeyPatch) -> None:
    """Put tests/plugins on ``sys.path`` and ``PYTHONPATH`` (for worker processes) while ``patch`` lasts."""
    patch.syspath_prepend(str(TEST_PLUGINS_DIR))
    paths = [str(TEST_PLUGINS_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    patch.setenv("PYTHONPATH", os.pathsep.join(paths))


def use_test_plugins(patch: pytest.MonkeyPatch, *module_names: str) -> None:
    """Register test-only plugin modules (from tests/plugins) while ``patch`` lasts, in-process and in
    workers: what a module-scoped fixture uses, with ``pytest.MonkeyPatch.context()``."""
    make_test_plugins_importable(patch)
    patch.setenv(EXTRA_PLUGINS_ENV, ",".join(module_names))


@pytest.fixture
def use_plugins(monkeypatch):
    """Register test-only plugin modules (from tests/plugins) for this test, in-process and in workers."""
    make_test_plugins_importable(monkeypatch)

    def use(*module_names: str) -> None:
        monkeypatch.setenv(EXTRA_PLUGINS_ENV, ",".join(module_names))

    return use


@pytest.fixture
def fake_backends(use_plugins):
    """The fake backends of tests/plugins/fake_backends.py, registered like a third-party plugin."""
    use_plugins("fake_backends")


def ctrl_c_works() -> None:
    """``preexec_fn`` for a child a test interrupts with SIGINT: Ctrl-C's default disposition. A shell runs a
    background job (``pytest &``, a CI runner's script) with SIGINT ignored, the child inherits that, and
    Python then installs no KeyboardInterrupt handler: the SIGINT the test sends would do nothing. (Runs in
    the forked child: no import, one system call.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def merged_options(base: list[str], *extra: str) -> list[str]:
    """``base`` command-line options with ``extra`` (``--option value`` pairs, or flags) added, a value in
    ``extra`` replacing the same option's value in ``base``: bench refuses an option given twice."""
    merged, extra = list(base), list(extra)
    while extra:
        option = extra.pop(0)
        value = extra.pop(0) if extra and not extra[0].startswith("--") else None
        if option in merged and value is not None:
            merged[merged.index(option) + 1] = value
        else:
            merged += [option] if value is None else [option, value]
    return merged


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""Headless Chromium for the HTML report tests (.ci/run installs Debian's); those tests skip without it."""
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile, no network chatter, and time for scripts to run."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", *arguments],
        check=False, capture_output=True, text=True, timeout=180,
    )
