"""``bench explain [TEXT]``: the article's picture of the LSTM, computed by the reference and every backend.

The words of TEXT (default "Good Day") become token ids (`harness.explain.explanation.tokenize`); the
model is the article's (V 50000, E 5, H 3) with T = the number of words and one example, changed by any
of ``bench run``'s model options. Each backend traces the sentence in its own worker process (the
``gates`` suite's measurement, `suites.gates.trace_backend`), and the output shows, per layer, direction,
step and unit, x_t, the gates, c_t and h_t from the reference, each backend's largest difference and the
first step, gate and unit where it leaves the tolerance; the parameter arithmetic; and what the layer
hands back under ``return_sequences`` x ``return_state``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.cli.arguments import name_list, output_file, positive_int, write_output
from harness.cli.run_command import add_model_arguments, given_model_options
from harness.errors import BenchUsageError

DEFAULT_TEXT = "Good Day"
DEFAULT_UNITS = 8
EXPLAIN_FORMATS = ("table", "markdown", "json", "html")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain", help="the article's LSTM picture computed: every step's gates and states, per backend")
    parser.add_argument("text", nargs="?", default=DEFAULT_TEXT,
                        help=f"the sentence; each word is one time step (default: {DEFAULT_TEXT!r})")
    parser.add_argument("--backend", type=name_list, default=None,
                        help="backend(s), comma-separated, or 'all' with variants (default: every non-variant backend)")
    parser.add_argument("--weights", metavar="FILE",
                        help="a NumPy .npz of weights in the canonical names (default: the canonical initial weights "
                             "for --seed)")
    parser.add_argument("--units", type=positive_int, default=DEFAULT_UNITS,
                        help=f"show the first N units of each vector (default: {DEFAULT_UNITS})")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the backends run (default: cpu)")
    parser.add_argument("--format", choices=EXPLAIN_FORMATS, default="table",
                        help="table/markdown (terminal), json (every value), html (the article's two pictures as SVG, "
                             "self-contained)")
    parser.add_argument("--out", type=output_file, help="write to this file (html: default explain.html)")
    add_model_arguments(parser.add_argument_group(
        "model (default: the article's, V 50000 E 5 H 3, with T = the number of words and one example)"))
    parser.set_defaults(handler=handle)


def explain_spec(args: argparse.Namespace, steps: int):
    """The article's model with the options given, one value each, ``steps`` words and one example."""
    from harness.model_spec import ModelSpec

    for name in ("seq_len", "batch_size", "min_length"):
        if getattr(args, name, None) is not None:
            flag = "--" + name.replace("_", "-")
            raise BenchUsageError(f"{flag}: bench explain takes one example of T = the number of words in the text "
                                  "(leave it out)")
    given = given_model_options(args)
    single = {}
    for name, values in given.items():
        if isinstance(values, list):
            if len(values) != 1:
                flag = "--" + name.replace("_", "-")
                raise BenchUsageError(f"{flag}: bench explain shows one model; give one value (got "
                                      f"{','.join(map(str, values))})")
            values = values[0]
        single[name] = values
    return ModelSpec(**{**ModelSpec().to_dict(), **single, "seq_len": steps, "batch_size": 1})


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.explain.explanation import tokenize
    from harness.explain.run import explain
    from harness.explain.tables import explanation_json, explanation_tables
    from harness.plugins.discovery import discover
    from harness.rendering import render_tables

    spec = explain_spec(args, 1)
    words, token_ids = tokenize(args.text, spec.vocab_size)
    spec = spec.replace(seq_len=len(words))
    if args.device == "cuda":
        from harness.plugins.availability import nvidia_gpu_visible

        if not nvidia_gpu_visible():
            raise BenchUsageError("--device cuda: no CUDA device is visible on this machine; use --device cpu")
    registry = discover()
    if args.backend is None:
        backends = [info for info in registry.backends.values() if info.default]
    elif "all" in args.backend:
        backends = list(registry.backends.values())
    else:
        backends = [registry.backend(name) for name in dict.fromkeys(args.backend)]
    explanation = explain(args.text, words, token_ids, spec, backends, args.weights, args.units, args.device,
                          progress=lambda line: print(f"bench: {line}", file=sys.stderr))
    if args.format == "html":
        from harness.explain.html import explanation_html

        out = args.out or Path("explain.html")
        write_output(out, explanation_html(explanation),
                     option="--out" if args.out else "the HTML page (give --out FILE to write it elsewhere)",
                     named_by_user=args.out is not None)
        print(f"bench: wrote {out}", file=sys.stderr)
    else:
        text = json.dumps(explanation_json(explanation), indent=2) if args.format == "json" else \
            render_tables(explanation_tables(explanation), args.format)
        if args.out:
            write_output(args.out, text)
            print(f"bench: wrote {args.out}", file=sys.stderr)
        else:
            print(text)
    return 0 if all(backend.status in ("pass", "unavailable", "unsupported", "skipped")
                    for backend in explanation.backends) else 1
