"""``bench run``: run suites for backends and specs, print the tables, save the run."""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from harness import environment
from harness.cli.arguments import (
    MAX_INTEGER,
    add_layout_options,
    boolean_list,
    choice_list,
    directory,
    integer_at_least,
    integer_list_at_least,
    name_list,
    non_negative_int,
    options_given,
    positive_int,
    positive_seconds,
    table_layout,
    thread_count,
    unknown_columns,
)
from harness.cli.progress import ProgressBar
from harness.errors import BenchUsageError
from harness.execution.runner import RunRequest, SuitePlan, execute, planned_jobs
from harness.execution.worker_manager import WorkerLimits
from harness.measurement.machine_state import machine_facts
from harness.measurement.timer import MIN_ROUNDS, QUICK_BUDGET, TimingBudget
from harness.model_spec import ModelSpec
from harness.plugins.availability import nvidia_gpu_visible, probe
from harness.plugins.discovery import discover
from harness.plugins.registry import BackendInfo, Registry
from harness.rendering import FORMATS, render_json, render_tables
from harness.report.summary import summary_lines
from harness.results.frame import flat_row, timing_suites
from harness.results.reader import keep_last_per_cell, load_records
from harness.results.record import ERROR, FAILING_STATUSES, STATUSES, UNSTABLE, Record, labelled_by_host
from harness.results.store import RunStore, StoreWriteError, load_rounds
from harness.suite import Suite, SuiteOptions
from harness.table_layout import Layout

DEVICES = ("cpu", "cuda", "all")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run suites against backends")
    parser.add_argument("--suite", type=name_list, default=["params"],
                        help="suite(s), comma-separated; 'checks' = every suite that checks equivalence, "
                             "'all' = every suite including timing (default: params)")
    parser.add_argument("--backend", type=name_list, default=None,
                        help="backend(s), comma-separated, or 'all' with variants (default: every non-variant backend)")
    add_model_arguments(parser.add_argument_group(
        "model (defaults: each suite's own; the article's model for params, a realistic classifier for train/infer)"))
    suites = parser.add_argument_group("suite options")
    suites.add_argument("--steps", type=positive_int, default=SuiteOptions().steps,
                        help=f"optimizer steps per training run (suite training; default: {SuiteOptions().steps})")
    suites.add_argument("--device", choices=DEVICES, default="all",
                        help="timing device(s): cpu, cuda, or all = cpu plus cuda when a GPU is visible (default: all)")
    suites.add_argument("--threads", type=thread_count, default=os.cpu_count() or 1,
                        help=f"CPU threads for every backend: torch, TensorFlow, BLAS (default: {os.cpu_count()})")
    suites.add_argument("--profile", action="store_true",
                        help="train/infer: after each cell's samples, run a few steps under the framework's own "
                             "profiler: time per category (embedding, lstm, head, loss, optimizer, host...), the LSTM "
                             "kernel read from the trace, a Chrome trace file per cell under the run's traces/")
    suites.add_argument("--expect-kernel", metavar="TEXT", type=kernel_name,
                        help="train/infer: a cell fails unless the LSTM kernel that ran (read from its profile's "
                             "trace; implies --profile) contains TEXT, e.g. cuDNN, oneDNN, while_loop")
    suites.add_argument("--quick", action="store_true",
                        help="smoke-test preset: each suite's small quick model and hidden sizes (train/infer: "
                             "3 sizes), and short timing")
    suites.add_argument("--rounds", type=positive_int,
                        help=f"fresh worker processes per timing cell, interleaved across backends (default: "
                             f"{TimingBudget().rounds}, quick: {QUICK_BUDGET.rounds}; below {MIN_ROUNDS} cells are "
                             "marked unstable)")
    suites.add_argument("--min-time", type=positive_seconds,
                        help=f"seconds to sample each round of a timing cell at least (default: {TimingBudget().min_seconds:g}, "
                             f"quick: {QUICK_BUDGET.min_seconds:g})")
    suites.add_argument("--max-time", type=positive_seconds,
                        help=f"seconds to sample each round at most (default: {TimingBudget().max_seconds:g}, "
                             f"quick: {QUICK_BUDGET.max_seconds:g})")
    suites.add_argument("--warmup", type=non_negative_int,
                        help=f"untimed steps after the first (default: {TimingBudget().warmup_steps}, "
                             f"quick: {QUICK_BUDGET.warmup_steps})")
    run = parser.add_argument_group("run")
    run.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    add_layout_options(run)
    run.add_argument("--out", "--results-dir", dest="out", type=directory, default=Path("results"),
                     help="directory for <run-id>/ (default: ./results); --results-dir is the same option, by the "
                          "name bench report, compare, runs and history read it with")
    run.add_argument("--label", type=run_label, help="a name for this run, for bench runs, report and compare "
                                                    "(e.g. before-upgrade; the newest run with a label answers to it)")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="finish an interrupted run: run only its missing cells, with its saved options "
                          "(only --out, --format, --columns, --wide, --timeout, --memory-limit, --jobs, --cluster and "
                          "--retry-errors may be given with it)")
    run.add_argument("--retry-errors", action="store_true",
                     help="with --resume: also run again the cells that ended in an error (a crash, a timeout)")
    run.add_argument("--timeout", type=positive_seconds, default=600.0,
                     help="seconds one cell may take before its worker is killed (default: 600)")
    run.add_argument("--memory-limit", type=positive_int, metavar="MIB",
                     help="kill a worker whose resident memory exceeds this many MiB; only its cell fails")
    run.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                     help="run up to N backends' workers at once while no timing cell runs (equivalence checks in "
                          "parallel; a worker with a timing cell always has the machine to itself; default: 1)")
    run.add_argument("--cluster", type=cluster_address, metavar="ADDRESS",
                     help="run each backend's cells on a Dask cluster: the scheduler's tcp://HOST:8786 or its "
                          "scheduler file (.json); one timing task per host at a time (docs/cluster.md; "
                          "pip install 'lstm-bench[cluster]')")
    run.add_argument("--hosts", type=host_names, metavar="NAME,...",
                     help="with --cluster: run every cell once on each of these hosts (a Dask worker's name, "
                          "address, host IP or machine name), to compare machines cell by cell "
                          "(bench compare RUN@NAME RUN@OTHER)")
    parser.set_defaults(handler=handle)


def host_names(text: str) -> tuple[str, ...]:
    """``--hosts``'s type: comma-separated worker or machine names, each once."""
    names = tuple(name.strip() for name in text.split(","))
    bad = [name for name in names if not name or "@" in name or any(not c.isprintable() or c.isspace() for c in name)]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of hosts (accepted: comma-separated Dask worker "
                                         "names, addresses, host IPs or machine names, e.g. alpha,beta; no spaces or '@')")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{text!r} names {', '.join(repeated)} more than once (each host once)")
    return names


def cluster_address(text: str) -> str:
    """``--cluster``'s type: a scheduler address (``tcp://host:8786``, ``host:8786``) or a scheduler file."""
    text = text.strip()
    if not text or any(not character.isprintable() for character in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address (accepted: tcp://HOST:8786 or a "
                                         "scheduler file, e.g. scheduler.json)")
    return text


def kernel_name(text: str) -> str:
    """``--expect-kernel``'s type: some text to find in a kernel's name, e.g. ``cuDNN``."""
    if not text.strip() or any(not character.isprintable() for character in text):
        raise argparse.ArgumentTypeError(f"{text!r} is empty or holds control characters (accepted: printable text "
                                         "found in the kernel's name, e.g. cuDNN, oneDNN, while_loop)")
    return text.strip()


def sweepable_flags() -> set[str]:
    """The bool model options that also take a value to sweep (``--bidirectional off,on``)."""
    return {"--" + name.replace("_", "-") for name, option in ModelSpec.options().items()
            if option.minimum is None and option.choices is None and option.sweep}


def add_model_arguments(group) -> None:
    """One option per `ModelSpec` field, as its metadata says: ``--hidden`` etc. take comma lists (sweeps),
    other ints one value, choices one of them (a comma list where the field sweeps: ``--padding
    none,right``), bools ``--flag``/``--no-flag``. What the command line leaves out stays None and comes
    from each suite's defaults."""
    for name, option in ModelSpec.options().items():
        flag = "--" + name.replace("_", "-")
        if option.choices is not None:
            group.add_argument(flag, type=choice_list(option.choices) if option.sweep else str,
                               choices=None if option.sweep else option.choices, help=option.help)
        elif option.minimum is None and option.sweep:
            group.add_argument(flag, type=boolean_list, nargs="?", const=[True], default=None, metavar="off,on",
                               help=option.help)
            group.add_argument("--no-" + flag[2:], dest=name, action="store_const", const=[False],
                               help=argparse.SUPPRESS)
        elif option.minimum is None:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=option.help)
        else:
            maximum = option.maximum or MAX_INTEGER
            parse = (integer_list_at_least(option.minimum, maximum) if option.sweep
                     else integer_at_least(option.minimum, maximum))
            group.add_argument(flag, type=parse, help=option.help)


RESUME_OPTIONS = frozenset({"format", "columns", "wide", "out", "resume", "timeout", "memory_limit", "retry_errors",
                            "cluster", "jobs"})
"""What ``--resume`` may be given: where and how to show and keep the run, the worker limits, and the
cluster to finish it on (a restarted scheduler has a new address); every other option is the saved run's
own."""


def run_label(text: str) -> str:
    """``--label``'s type: `harness.results.catalog.check_label`, as an argparse error."""
    from harness.results.catalog import check_label

    try:
        return check_label(text)
    except BenchUsageError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--label: ")) from None


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    registry = discover()
    for problem in registry.problems + registry.warnings:
        print(f"bench: warning: plugin {problem.plugin}: {problem.message}", file=sys.stderr)
    if args.retry_errors and args.resume is None:
        raise BenchUsageError("--retry-errors: only with --resume RUN_ID (it runs a saved run's errored cells again)")
    if args.resume is not None:
        _refuse_options_beside_resume(argv)
        store = RunStore.reopen(args.out, args.resume)
        retry = args.retry_errors
        try:
            args = _reparse(store.metadata.get("run_arguments"), resumed=args, argv=argv)
        except BenchUsageError:
            store.close()
            raise
        for warning in store.metadata_warnings:
            print(f"bench: warning: {warning}", file=sys.stderr)
        previous = load_records(store.directory, frozenset(timing_suites(store.metadata)))
        if retry:
            previous = [record for record in previous if record.status != ERROR]
        saved_rounds = load_rounds(store.directory)
    else:
        store, previous, saved_rounds = None, [], {}
    try:
        return _run(args, argv, registry, store, previous, saved_rounds)
    finally:
        if store is not None:
            store.close()


def _run(args: argparse.Namespace, argv: list[str], registry: Registry, store: RunStore | None,
         previous: list[Record], saved_rounds: dict) -> int:
    """Plan, open a new run's store (unless resuming one), run, report; the store this opens it closes."""
    plans = plan_suites(args, registry)
    backends = select_backends(args.backend, registry)
    options = suite_options(args)
    if (options.profile or options.expect_kernel) and not any(plan.suite.measures_time for plan in plans):
        flag = "--expect-kernel" if options.expect_kernel else "--profile"
        raise BenchUsageError(f"{flag}: profiles are taken of timing cells; none of the suites asked for measures "
                              f"time (accepted with: {', '.join(suite.name for suite in registry.ordered_suites() if suite.measures_time)})")
    if store is None:
        warn_unused_options(argv, plans)
    done = frozenset(record.cell_key() for record in previous)
    limits = WorkerLimits(
        cell_timeout_seconds=args.timeout,
        threads=args.threads,
        memory_limit_bytes=args.memory_limit * 2**20 if args.memory_limit else None,
    )
    if getattr(args, "hosts", None) and not getattr(args, "cluster", None):
        raise BenchUsageError("--hosts: only with --cluster ADDRESS (it names Dask workers' hosts to run the cells on)")
    request = RunRequest(plans, backends, options, limits, done_keys=done, saved_rounds=saved_rounds,
                         targets=tuple(getattr(args, "hosts", None) or ()), jobs=getattr(args, "jobs", 1) or 1)
    executor = cluster_executor(args.cluster, request) if getattr(args, "cluster", None) else None  # reached first
    try:
        return _open_and_execute(args, argv, plans, request, registry, options, store, previous, executor)
    finally:
        if executor is not None:
            executor.close()


def _open_and_execute(args: argparse.Namespace, argv: list[str], plans: list[SuitePlan], request: RunRequest,
                      registry: Registry, options, store: RunStore | None, previous: list[Record], executor) -> int:
    """Open a new run's store (unless resuming one) and run ``request`` into it on ``executor``."""
    if store is None:
        metadata = environment.collect(argv, registry.backends.values())
        metadata.update(label=args.label, run_arguments=argv[1:], threads=args.threads, devices=list(options.devices),
                        rounds=options.budget.rounds, machine_state=machine_facts(),
                        suites={plan.suite.name: plan.suite.declaration() for plan in plans})
        hosts = executor.machine_facts_by_host() if executor is not None else None
        if hosts:
            metadata["hosts"] = hosts
        with RunStore(args.out, metadata) as new_store:
            return _execute(args, plans, request, new_store, previous, executor)
    return _execute(args, plans, request, store, previous, executor)


def cluster_executor(address: str, request: RunRequest):
    """`harness.execution.dask_executor.DaskExecutor` on the cluster at ``address`` (imported only here:
    a local run never imports Dask)."""
    from harness.execution.dask_executor import DaskExecutor

    timing = {plan.suite.name for plan in request.plans if plan.suite.measures_time}
    distributions = tuple(dict.fromkeys(name for info in request.backends for name in info.requires))
    return DaskExecutor(address, request.limits, is_timing=lambda cell: cell.suite in timing,
                        targets=request.targets, needs_benchmark=bool(timing), distributions=distributions)


def _execute(args: argparse.Namespace, plans: list[SuitePlan], request: RunRequest, store: RunStore,
             previous: list[Record], executor=None) -> int:
    """Run ``request`` into ``store``, then print the tables and the summary; the exit status."""
    resume_hint = f"bench run --resume {store.run_id} --out {shlex.quote(str(args.out))}"
    with ProgressBar(planned_jobs(request)) as bar, terminate_as_interrupt():
        try:
            result = execute(request, store, observer=bar, executor=executor)
        except KeyboardInterrupt:
            _finish_quietly(store, status="interrupted")
            bar.write(f"interrupted; finished results are kept in {store.directory}; finish with: {resume_hint}")
            return 130
        except StoreWriteError as error:
            _finish_quietly(store, status="interrupted", reason=error.strerror)
            bar.write(f"error: {error.strerror}; the results finished before it are kept in {store.directory}; "
                      f"free space (or fix the file) and finish with: {resume_hint}")
            return 1
    records = keep_last_per_cell(previous + result.records)
    exit_status = 1 if any(record.status in FAILING_STATUSES for record in records) else 0
    counts = {status: sum(record.status == status for record in records) for status in STATUSES}
    backends_seen = {**store.metadata.get("backends", {}), **result.backend_details}
    try:
        store.finish(status="finished", exit_status=exit_status, counts=counts, backends=backends_seen)
    except StoreWriteError as error:
        print(f"bench: warning: {error.strerror}; the records are saved, the run's summary in metadata.json is not",
              file=sys.stderr)
    print(render([plan.suite for plan in plans], records, store, args.format, table_layout(args)))
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    print(f"bench: {summary}; saved {store.directory}", file=sys.stderr)
    for line in summary_lines([flat_row(record) for record in records], unstable=False):
        print(f"bench: {line}", file=sys.stderr)
    for record in (record for record in records if record.status == UNSTABLE):
        print(f"bench: unstable: {record.suite} {record.device} hidden {record.spec['hidden']}: {record.backend_label}: "
              f"{record.message.removeprefix(record.backend + ': ')}", file=sys.stderr)
    return exit_status


TIMING_OPTIONS = frozenset({"rounds", "min_time", "max_time", "warmup"})
"""Options only the suites that measure time read."""


def warn_unused_options(argv: list[str], plans: list[SuitePlan]) -> None:
    """A warning for an option none of the planned suites reads (``--rounds`` with only check suites,
    ``--steps`` without the training suite): the run goes on, but the user knows it had no effect."""
    from harness.cli import build_parser, subcommand_parser

    timed = any(plan.suite.measures_time for plan in plans)
    training = any(plan.suite.name == "training" for plan in plans)
    for action in dict.fromkeys(options_given(subcommand_parser(build_parser(), "run"), argv[1:])):
        if (action.dest in TIMING_OPTIONS and not timed) or (action.dest == "steps" and not training):
            print(f"bench: warning: {action.option_strings[0]} has no effect: none of the suites run "
                  f"({', '.join(plan.suite.name for plan in plans)}) reads it", file=sys.stderr)


def _finish_quietly(store: RunStore, **outcome) -> None:
    """Mark how the run stopped, if the disk still lets us; the records are what matters."""
    with contextlib.suppress(StoreWriteError):
        store.finish(**outcome)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While running, SIGTERM (a ``kill``, a CI job cancelled, a container stopped) and SIGHUP (the terminal
    closed) end the run as Ctrl-C does: finished results kept, the run marked ``interrupted``, the resume
    command printed, workers and their temporary directories removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    handled = [number for number in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if number is not None]
    previous = {number: signal.signal(number, interrupt) for number in handled}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _refuse_options_beside_resume(argv: list[str]) -> None:
    """``--resume`` continues a run with its saved options; an option given beside it that would change them
    (even to the value the run had) is refused instead of silently ignored."""
    from harness.cli import build_parser, subcommand_parser

    given = [action.option_strings[0] for action in options_given(subcommand_parser(build_parser(), "run"), argv[1:])
             if action.dest not in RESUME_OPTIONS]
    if given:
        flags = ", ".join(dict.fromkeys(given))
        raise BenchUsageError(f"--resume: {flags} cannot change a saved run (it resumes with the options it was started "
                              "with; only --out, --format, --columns, --wide, --timeout, --memory-limit, --jobs, --cluster and "
                              "--retry-errors may be given); start a new run to change them")


def _reparse(saved_arguments: object, *, resumed: argparse.Namespace, argv: list[str]) -> argparse.Namespace:
    """The saved run's options (metadata ``run_arguments``), with this command's --format, --out and the
    worker limits it gave; `BenchUsageError` when they are missing or cannot be parsed (nothing is printed
    by the parser: the saved options are not the user's typing)."""
    from harness.cli import build_parser, subcommand_parser

    unreadable = BenchUsageError(f"--resume: run {resumed.resume}'s saved options (metadata.json run_arguments) are "
                                 "missing or damaged, so it cannot be resumed with them; start a new run")
    if not isinstance(saved_arguments, list) or not all(isinstance(item, str) for item in saved_arguments):
        raise unreadable
    if any(item in ("-h", "--help", "--resume") or item.startswith("--resume=") for item in saved_arguments):
        raise unreadable
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(["run", *saved_arguments])
    except SystemExit:
        raise unreadable from None
    args.format, args.out, args.resume, args.retry_errors = resumed.format, resumed.out, None, False
    args.columns, args.wide = resumed.columns, resumed.wide
    given = {action.dest for action in options_given(subcommand_parser(build_parser(), "run"), argv[1:])}
    if "timeout" in given:
        args.timeout = resumed.timeout
    if "memory_limit" in given:
        args.memory_limit = resumed.memory_limit
    if "cluster" in given:
        args.cluster = resumed.cluster
    if "jobs" in given:
        args.jobs = resumed.jobs
    return args


def plan_suites(args: argparse.Namespace, registry: Registry) -> list[SuitePlan]:
    """Each selected suite with its specs: the suite's defaults, overridden by what the user gave
    (`swept_specs`)."""
    given = given_model_options(args)
    plans = []
    for suite in select_suites(args.suite, registry):
        base = suite.quick_spec if args.quick and suite.quick_spec else suite.default_spec
        suite_hidden = suite.quick_hidden if args.quick and suite.quick_hidden else suite.default_hidden
        plans.append(SuitePlan(suite, swept_specs(base, given, suite_hidden)))
    return plans


def given_model_options(args: argparse.Namespace) -> dict:
    """The `ModelSpec` fields the command line set (`add_model_arguments`), by name; a warning on standard
    error for ``--min-length`` without padding (it changes nothing there)."""
    given = {name: getattr(args, name) for name in ModelSpec.options() if getattr(args, name, None) is not None}
    if "min_length" in given and not any(side != "none" for side in given.get("padding", [])):
        print("bench: warning: --min-length has no effect without --padding right or left (every example then has "
              "seq-len tokens)", file=sys.stderr)
    return given


def swept_specs(base: ModelSpec, given: dict, default_hidden) -> list[ModelSpec]:
    """``base`` with the ``given`` fields changed: one spec per combination of the swept fields' values
    (`ModelSpec` fields marked ``sweep``: hidden sizes, sequence lengths, batch sizes; ``default_hidden``
    where no hidden size is given), hidden varying fastest."""
    options = ModelSpec.options()
    swept = [name for name, option in options.items() if option.sweep and name != "hidden"] + ["hidden"]
    fixed = {name: value for name, value in given.items() if name not in swept}
    axes = [given.get(name, list(default_hidden) if name == "hidden" else [getattr(base, name)]) for name in swept]
    return [ModelSpec(**{**base.to_dict(), **fixed, **dict(zip(swept, values))}) for values in itertools.product(*axes)]


def suite_options(args: argparse.Namespace) -> SuiteOptions:
    """Options every cell gets: the devices, the timing budget (rounds and per-round limits), the threads."""
    if args.device == "cuda" and not nvidia_gpu_visible():
        raise BenchUsageError("--device cuda: no CUDA device is visible on this machine (the NVIDIA driver lists no GPU); "
                              "use --device cpu, or all for every device there is")
    if args.min_time is not None and args.max_time is not None and args.min_time > args.max_time:
        raise BenchUsageError(f"--min-time {args.min_time:g} is above --max-time {args.max_time:g} (accepted: "
                              "--min-time <= --max-time, seconds of sampling per round)")
    devices = ("cpu", "cuda") if args.device == "all" and nvidia_gpu_visible() else (
        ("cpu",) if args.device == "all" else (args.device,)
    )
    base = QUICK_BUDGET if args.quick else TimingBudget()
    budget = TimingBudget(
        rounds=args.rounds or base.rounds,
        warmup_steps=base.warmup_steps if args.warmup is None else args.warmup,
        min_seconds=args.min_time or base.min_seconds,
        max_seconds=max(args.max_time or base.max_seconds, args.min_time or 0),
        min_samples=base.min_samples,
        max_samples=base.max_samples,
        target_ci_width=base.target_ci_width,
    )
    expect_kernel = getattr(args, "expect_kernel", None)
    return SuiteOptions(steps=args.steps, devices=devices, budget=budget, threads=args.threads,
                        profile=getattr(args, "profile", False) or expect_kernel is not None,
                        expect_kernel=expect_kernel)


def select_suites(names: list[str], registry: Registry) -> list[Suite]:
    """The suites named on the command line; ``all`` is every registered suite, ``checks`` every one
    that does not measure time."""
    if "all" in names:
        return registry.ordered_suites()
    selected: list[Suite] = []
    for name in dict.fromkeys(names):
        if name == "checks":
            selected += registry.check_suites()
        else:
            selected.append(registry.suite(name))
    return list(dict.fromkeys(selected))


def select_backends(names: list[str] | None, registry: Registry) -> list[BackendInfo]:
    """The backends named (each must be available), ``all`` registered ones, or every default one."""
    if names is None:
        return [info for info in registry.backends.values() if info.default]
    if "all" in names:
        return list(registry.backends.values())
    chosen = [registry.backend(name) for name in dict.fromkeys(names)]
    for info in chosen:
        availability = probe(info)
        if not availability.available:
            raise BenchUsageError(f"--backend: {info.name} is unavailable: {availability.reason}")
    return chosen


def render(suites: list[Suite], records: list[Record], store: RunStore, output_format: str, layout: Layout | None = None) -> str:
    """Every suite's tables as text, or the whole run as one JSON document."""
    if output_format == "json":
        return render_json({
            "run_id": store.run_id,
            "results_dir": str(store.directory),
            "metadata": store.metadata,
            "records": [record.to_json() for record in records],
        })
    return render_records(suites, records, output_format, layout)


def render_records(suites: list[Suite], records: list[Record], output_format: str, layout: Layout | None = None) -> str:
    """Every suite's tables for ``records``, as terminal tables or markdown, laid out as ``layout`` says (a
    ``--columns`` name no table has is warned about: the run is done by then)."""
    records = labelled_by_host(records)
    tables = [table for suite in suites for table in suite.tables([r for r in records if r.suite == suite.name])]
    problem = unknown_columns(tables, layout) if layout is not None else None
    if problem:
        print(f"bench: warning: {problem}; showing the default columns", file=sys.stderr)
        layout = replace(layout, columns=())
    return render_tables(tables, output_format, layout)
