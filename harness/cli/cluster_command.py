"""``bench cluster local --workers N``: a Dask cluster on this machine, to try ``bench run --cluster``.

It starts a scheduler and N worker processes, each with the ``benchmark`` resource a timing task asks for
(`harness.execution.dask_executor`), prints the scheduler's address (and writes it to ``--scheduler-file``
when given), and serves until Ctrl-C. On real machines, start ``dask scheduler`` and one ``dask worker
SCHEDULER --resources benchmark=1`` per host instead (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import sys
import time

from harness.cli.arguments import output_file, positive_int
from harness.errors import BenchUsageError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("cluster", help="a local Dask cluster to try bench run --cluster")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    local = actions.add_parser("local", help="start a scheduler and N workers here, print the address, serve "
                                             "until Ctrl-C")
    local.add_argument("--workers", type=positive_int, default=2, help="worker processes (default: 2)")
    local.add_argument("--port", type=int, default=0, help="the scheduler's port (default: any free one)")
    local.add_argument("--scheduler-file", type=output_file,
                       help="also write the scheduler's address to this JSON file (bench run --cluster FILE)")
    local.add_argument("--for-seconds", type=positive_int, help="stop after this many seconds (default: Ctrl-C)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        from distributed import LocalCluster
    except ImportError:
        raise BenchUsageError("cluster: Dask is not installed (pip install 'lstm-bench[cluster]')") from None
    from harness.execution.dask_executor import BENCHMARK_RESOURCE

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           scheduler_port=args.port, dashboard_address=None,
                           resources={BENCHMARK_RESOURCE: 1})
    try:
        address = cluster.scheduler_address
        if args.scheduler_file is not None:
            import json

            from harness.cli.arguments import write_output

            write_output(args.scheduler_file, json.dumps({"address": address, "type": "Scheduler"}),
                         option="--scheduler-file")
        print(address, flush=True)
        print(f"bench: a Dask scheduler at {address} with {args.workers} worker(s); run cells on it with "
              f"bench run --cluster {address} ...; Ctrl-C stops it", file=sys.stderr, flush=True)
        deadline = time.monotonic() + args.for_seconds if args.for_seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
    return 0
