"""``bench run``: run suites for backends and specs, print the tables, save the run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import environment
from harness.availability import probe
from harness.cli.arguments import name_list, non_negative_int, positive_int, positive_int_list, positive_seconds
from harness.errors import BenchUsageError
from harness.plugins import discover
from harness.records import FAILING_STATUSES, Record
from harness.registry import BackendInfo, Registry
from harness.rendering import FORMATS, render_json, render_tables
from harness.results_store import RunStore
from harness.runner import RunRequest, execute
from harness.spec import ModelSpec
from harness.suite import Suite, SuiteOptions

DEFAULTS = ModelSpec()


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run suites against backends")
    parser.add_argument("--suite", type=name_list, default=["params"], help="suite(s), comma-separated, or 'all' (default: params)")
    parser.add_argument("--backend", type=name_list, default=None, help="backend(s), comma-separated (default: every registered one)")
    parser.add_argument("--hidden", type=positive_int_list, default=[DEFAULTS.hidden], help=f"LSTM units, comma-separated (default: {DEFAULTS.hidden})")
    parser.add_argument("--vocab-size", type=positive_int, default=DEFAULTS.vocab_size, help=f"vocabulary size (default: {DEFAULTS.vocab_size})")
    parser.add_argument("--embed-dim", type=positive_int, default=DEFAULTS.embed_dim, help=f"embedding width (default: {DEFAULTS.embed_dim})")
    parser.add_argument("--seq-len", type=positive_int, default=DEFAULTS.seq_len, help=f"tokens per example (default: {DEFAULTS.seq_len})")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULTS.batch_size, help=f"examples per batch (default: {DEFAULTS.batch_size})")
    parser.add_argument("--return-sequences", action=argparse.BooleanOptionalAction, default=DEFAULTS.return_sequences,
                        help="LSTM returns every step, flattened for the head (default: on)")
    parser.add_argument("--return-state", action="store_true", default=DEFAULTS.return_state, help="LSTM also returns its final (h, c)")
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULTS.seed, help=f"seed for weights and inputs (default: {DEFAULTS.seed})")
    parser.add_argument("--steps", type=positive_int, default=SuiteOptions().steps,
                        help=f"optimizer steps per training run (suite training; default: {SuiteOptions().steps})")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="directory for results/<run-id>/ (default: ./results)")
    parser.add_argument("--timeout", type=positive_seconds, default=600.0, help="seconds one task may take before its worker is killed (default: 600)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    registry = discover()
    for problem in registry.problems:
        print(f"bench: warning: plugin {problem.plugin}: {problem.message}", file=sys.stderr)
    suites = select_suites(args.suite, registry)
    backends = select_backends(args.backend, registry)
    specs = [
        ModelSpec(
            vocab_size=args.vocab_size, embed_dim=args.embed_dim, hidden=hidden, seq_len=args.seq_len,
            batch_size=args.batch_size, return_sequences=args.return_sequences, return_state=args.return_state,
            seed=args.seed,
        )
        for hidden in args.hidden
    ]
    store = RunStore(args.out, environment.collect(argv))
    request = RunRequest(suites, backends, specs, SuiteOptions(steps=args.steps), task_timeout_seconds=args.timeout)
    try:
        result = execute(request, store, progress=lambda message: print(f"bench: {message}", file=sys.stderr))
    except KeyboardInterrupt:
        store.finish(status="interrupted")
        print(f"bench: interrupted; finished results are kept in {store.directory}", file=sys.stderr)
        return 130
    exit_status = 1 if any(record.status in FAILING_STATUSES for record in result.records) else 0
    counts = {status: sum(record.status == status for record in result.records) for status in ("pass", "fail", "error", "unavailable", "unsupported")}
    store.finish(exit_status=exit_status, counts=counts, backends=result.backend_details)
    print(render(suites, result.records, store, args.format))
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    print(f"bench: {summary}; saved {store.directory}", file=sys.stderr)
    return exit_status


def select_suites(names: list[str], registry: Registry) -> list[Suite]:
    """The suites named on the command line; ``all`` means every registered suite."""
    if "all" in names:
        return list(registry.suites.values())
    return [registry.suite(name) for name in dict.fromkeys(names)]


def select_backends(names: list[str] | None, registry: Registry) -> list[BackendInfo]:
    """The backends named on the command line (each must be available), or every registered one."""
    if names is None:
        return list(registry.backends.values())
    chosen = [registry.backend(name) for name in dict.fromkeys(names)]
    for info in chosen:
        availability = probe(info)
        if not availability.available:
            raise BenchUsageError(f"--backend: {info.name} is unavailable: {availability.reason}")
    return chosen


def render(suites: list[Suite], records: list[Record], store: RunStore, output_format: str) -> str:
    """Every suite's tables as text, or the whole run as one JSON document."""
    if output_format == "json":
        return render_json({
            "run_id": store.run_id,
            "results_dir": str(store.directory),
            "metadata": store.metadata,
            "records": [record.to_json() for record in records],
        })
    tables = [table for suite in suites for table in suite.tables([r for r in records if r.suite == suite.name])]
    return render_tables(tables, output_format)
