"""``bench list``: every backend, where it comes from, its version, and whether it can run here."""

from __future__ import annotations

import argparse
import json
import sys

from harness.execution.worker_manager import describe_backend
from harness.plugins.availability import probe
from harness.plugins.discovery import discover
from harness.plugins.registry import BackendInfo, Registry
from harness.rendering import Table, render_tables
from harness.table_layout import Layout


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("list", help="list backends and whether they can run here")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.add_argument(
        "--deep",
        action="store_true",
        help="also start each available backend in its worker to ask the framework its version and devices (slow)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    registry = discover()
    entries = [describe(info, registry, deep=args.deep) for info in registry.backends.values()]
    problems = [{"plugin": problem.plugin, "error": problem.message} for problem in registry.problems]
    if args.format == "json":
        warnings = [{"plugin": warning.plugin, "warning": warning.message} for warning in registry.warnings]
        print(json.dumps({"backends": entries, "broken_plugins": problems, "warnings": warnings}, indent=2))
        return 0
    rows = tuple(
        (
            entry["name"],
            f"{entry['plugin']} ({entry['package']})",
            entry["framework"] + (f" ({entry['version']})" if entry["version"] else ""),
            "available" if entry["available"] else f"unavailable: {entry['reason']}",
            ", ".join(entry["devices"]) or "-",
            entry["description"],
        )
        for entry in entries
    )
    print(render_tables([Table("backends", ("backend", "plugin (package)", "framework", "status", "devices", "description"), rows)],
                        "table", Layout.for_output()))
    for problem in problems:
        print(f"bench: warning: plugin {problem['plugin']}: {problem['error']}", file=sys.stderr)
    for warning in registry.warnings:
        print(f"bench: warning: plugin {warning.plugin}: {warning.message}", file=sys.stderr)
    return 0


def describe(info: BackendInfo, registry: Registry, *, deep: bool) -> dict:
    """One backend as a JSON-ready dict; ``deep`` asks the framework itself, in a worker."""
    availability = probe(info)
    package = next((plugin.package for plugin in registry.plugins if plugin.name == info.plugin), "?")
    entry = {
        "name": info.name,
        "plugin": info.plugin,
        "package": package,
        "framework": info.framework,
        "version": ", ".join(f"{name} {version}" for name, version in availability.versions.items()),
        "versions": availability.versions,
        "available": availability.available,
        "reason": availability.reason,
        "devices": list(availability.devices),
        "description": info.description,
    }
    if deep and availability.available:
        hello = describe_backend(info, timeout_seconds=300)
        if hello.error:
            entry.update(available=False, reason=f"fails to load: {hello.error}")
        else:
            entry.update(version=hello.framework_version, devices=hello.devices)
    return entry
