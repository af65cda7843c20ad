"""``bench check BACKEND``: the conformance kit. Exit 0 when the backend computes the canonical model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.cli.run_command import render_records
from harness.conformance import check_backend, describe_failures


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="conformance kit: every check suite (as the suites declare) for one backend vs the reference",
    )
    parser.add_argument("backend", metavar="BACKEND", help="the backend to check, e.g. jax")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.add_argument("--out", type=Path, help="also save the check as a run under this directory")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.plugins.discovery import discover

    result = check_backend(args.backend, out_dir=args.out)
    if args.format == "json":
        print(json.dumps({"backend": result.backend, "conforms": result.conforms,
                          "records": [record.to_json() for record in result.records]}, indent=2))
    else:
        registry = discover()
        print(render_records(registry.check_suites(), result.records, args.format))
    if result.conforms:
        print(f"bench: {args.backend} conforms: {len(result.records)} checks passed", file=sys.stderr)
        return 0
    print(f"bench: {args.backend} does not conform:\n{describe_failures(result)}", file=sys.stderr)
    return 1
