"""``bench check BACKEND``: the conformance kit. Exit 0 when the backend computes the canonical model.

With no options it runs every check suite on the kit's own specs (`harness.conformance.CHECK_SPECS`);
``bench run``'s model options (``--hidden 64 --seq-len 20``...) check one model instead (a comma list
sweeps it), ``--suite`` picks check suites. It prints what it ran (specs, suites, tolerances) and, per
check, the worst error and its margin to the tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from harness.cli.arguments import directory, name_list, positive_int
from harness.cli.run_command import add_model_arguments, given_model_options, render_records, swept_specs
from harness.results.record import PASS, UNSUPPORTED
from harness.table_layout import Layout


def add_parser(subparsers) -> None:
    from harness.suite import SuiteOptions

    parser = subparsers.add_parser(
        "check", help="conformance kit: every check suite (as the suites declare) for one backend vs the reference",
    )
    parser.add_argument("backend", metavar="BACKEND", help="the backend to check, e.g. jax")
    parser.add_argument("--suite", type=name_list, default=None,
                        help="check suite(s), comma-separated, or 'checks' (default: every check suite)")
    add_model_arguments(parser.add_argument_group(
        "model (default: the kit's specs; any option given checks one model built from the article's, with it changed)"))
    parser.add_argument("--steps", type=positive_int, default=SuiteOptions().steps,
                        help=f"optimizer steps per training run (suite training; default: {SuiteOptions().steps})")
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="cpu",
                        help="device(s) for the per-device suites (default: cpu; all = cpu plus cuda when visible)")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.add_argument("--out", type=directory, help="also save the check as a run under this directory")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.conformance import CHECK_SPECS, check_backend, check_suites, describe_failures, tolerances, worst_error
    from harness.plugins.availability import nvidia_gpu_visible
    from harness.plugins.discovery import discover

    registry = discover()
    suites = check_suites(registry, args.suite)
    specs = model_specs(args) or list(CHECK_SPECS)
    devices = ("cpu", "cuda") if args.device == "all" and nvidia_gpu_visible() else (
        ("cpu",) if args.device == "all" else (args.device,))
    ran = {"backend": args.backend, "suites": [suite.name for suite in suites],
           "specs": [{"label": spec.label(), **spec.to_dict()} for spec in specs],
           "devices": list(devices), "steps": args.steps, "tolerances": tolerances()}
    result = check_backend(args.backend, out_dir=args.out, steps=args.steps, specs=specs,
                           suites=[suite.name for suite in suites], devices=devices)
    worst = {id(record): worst_error(record) for record in result.records}
    if args.format == "json":
        print(json.dumps({**ran, "conforms": result.conforms, "records": [
            {**record.to_json(), "worst_error": worst[id(record)].to_json() if worst[id(record)] else None}
            for record in result.records]}, indent=2))
    else:
        print(f"bench check {args.backend}: suites {', '.join(ran['suites'])}; devices {', '.join(devices)}; "
              f"{len(specs)} spec(s): " + "; ".join(spec.label() for spec in specs))
        print("tolerances: " + "; ".join(f"{what} {rule}" for what, rule in ran["tolerances"].items()))
        print(render_records(suites, result.records, args.format, Layout.for_output()))
        print(render_margins(result.records, worst, args.format))
    if result.conforms:
        passed = sum(record.status == PASS for record in result.records)
        others = Counter(record.status for record in result.records if record.status != PASS)
        print(f"bench: {args.backend} conforms: {passed} checks passed" + "".join(
            f", {count} {status}" for status, count in sorted(others.items())), file=sys.stderr)
        if others.get(UNSUPPORTED):
            print(f"bench: {args.backend}: not checked, unsupported: {'; '.join(unsupported_reasons(result.records))}",
                  file=sys.stderr)
        return 0
    if not result.failures:
        reasons = unsupported_reasons(result.records) + sorted(
            {record.message.split(": ", 1)[-1] for record in result.records if record.message and record.status != UNSUPPORTED})
        print(f"bench: error: check: nothing was checked for {args.backend}: every check was skipped or unsupported "
              f"({'; '.join(reasons) or 'no check ran'})", file=sys.stderr)
        return 2
    print(f"bench: {args.backend} does not conform:\n{describe_failures(result)}", file=sys.stderr)
    return 1


def unsupported_reasons(records) -> list[str]:
    """Why cells were unsupported, each reason once: a backend's messages without its name prefix, and the
    model options it refused (`harness.contract.refuse_unsupported_options`) gathered into one sentence."""
    from harness.contract import REFUSES

    reasons, refused, builder = [], [], None
    for record in records:
        if record.status != UNSUPPORTED or not record.message:
            continue
        for part in record.message.split(": ", 1)[-1].split("; "):
            name, said, options = part.partition(REFUSES)
            if said:
                builder = builder or name
                part = options
            target = refused if said or (refused and part.startswith("--")) else reasons
            if part not in target:
                target.append(part)
    if refused:
        reasons.insert(0, f"{builder}{REFUSES}" + "; ".join(refused))
    return reasons


def model_specs(args: argparse.Namespace) -> list:
    """The specs the model options describe (the article's model with them changed, swept fields as
    lists, as `bench run` sweeps them), or an empty list when none was given."""
    from harness.model_spec import ModelSpec

    given = given_model_options(args)
    return swept_specs(ModelSpec(), given, (ModelSpec().hidden,)) if given else []


def render_margins(records, worst, output_format: str) -> str:
    """One row per record: suite, spec, device, the worst error, its tolerance and the margin."""
    from harness.model_spec import ModelSpec
    from harness.rendering import Table, render_tables

    rows = []
    for record in records:
        found = worst[id(record)]
        rows.append((record.suite, ModelSpec(**record.spec).label(), record.details.get("device", "cpu"),
                     found.where if found else "(exact)", f"{found.rel_error:.1e}" if found else "-",
                     f"{found.rtol:g}" if found else "-",
                     ("exact" if found.margin is None else f"{found.margin:,.0f}x") if found else "-", record.status))
    return render_tables([Table("margins: each check's worst error against its tolerance (margin = rtol / error)",
                                ("suite", "spec", "device", "worst", "rel error", "rtol", "margin", "status"),
                                tuple(rows), key_columns=3)], output_format,
                         Layout.for_output())
