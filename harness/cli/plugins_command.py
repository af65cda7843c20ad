"""``bench plugins``: every plugin found, its package and version, its hooks, and whether it works."""

from __future__ import annotations

import argparse
import json
import sys

from harness.plugins.discovery import DISABLE_PLUGINS_ENV, LOAD_PLUGINS_ENV, discover
from harness.rendering import Table, render_tables
from harness.table_layout import Layout


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "plugins", help="list plugins: package, version, hooks, status",
        description=f"Block plugins with {DISABLE_PLUGINS_ENV}=a,b; load only some with {LOAD_PLUGINS_ENV}=a,b.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    registry = discover()
    provides: dict[str, list[str]] = {}
    for info in registry.backends.values():
        provides.setdefault(info.plugin, []).append(f"backend {info.name}")
    for suite, plugin in registry.suite_plugins.items():
        provides.setdefault(plugin, []).append(f"suite {suite}")
    entries = [
        {"name": plugin.name, "package": plugin.package, "version": plugin.version, "hooks": list(plugin.hooks),
         "status": plugin.status, "provides": provides.get(plugin.name, []), "error": None,
         "warnings": [warning.message for warning in registry.warnings if warning.plugin == plugin.name]}
        for plugin in registry.plugins
    ] + [
        {"name": problem.plugin, "package": None, "version": None, "hooks": [], "status": "broken",
         "provides": [], "error": problem.message, "warnings": []}
        for problem in registry.problems
    ]
    if args.format == "json":
        print(json.dumps({"plugins": entries}, indent=2))
        return 0
    rows = tuple(
        (entry["name"], f"{entry['package'] or '-'} {entry['version'] or ''}".strip(), ", ".join(entry["hooks"]) or "-",
         entry["status"] if entry["status"] != "broken" else f"broken: {entry['error']}", ", ".join(entry["provides"]) or "-")
        for entry in entries
    )
    print(render_tables([Table("plugins", ("plugin", "package", "hooks", "status", "provides"), rows)], "table",
                        Layout.for_output()))
    for warning in registry.warnings:
        print(f"bench: warning: plugin {warning.plugin}: {warning.message}", file=sys.stderr)
    return 0
