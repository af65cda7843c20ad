"""How much does lstm-bench's harness add to a training step? Harness median vs a minimal loop.

For each framework, alternately (to cancel drift), this script times one Adam training step of the
same model and batch twice over:

- through the harness: ``bench run --suite train`` (worker process, canonical model, timing loop);
- with a minimal hand-written loop of the same framework, in its own process, with the same thread
  settings: ``zero_grad / forward / loss / backward / step`` for PyTorch, a ``tf.function`` with
  ``GradientTape`` and ``apply_gradients`` for Keras on TensorFlow.

It prints both medians and their ratio (harness / minimal). A ratio near 1 means the harness measures
the framework, not itself. Usage::

    python benchmarks/overhead.py --hidden 256 --backends torch,keras --seconds 10 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = {"vocab_size": 20000, "embed_dim": 128, "seq_len": 100, "batch_size": 64}


def thread_environment(threads: int) -> dict[str, str]:
    """The thread settings the harness gives its workers, for the minimal loops too."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    return {**os.environ, **{name: str(threads) for name in names}, "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def harness_median(backend: str, hidden: int, seconds: float, threads: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "harness", "run", "--suite", "train", "--backend", backend, "--device", "cpu",
            "--hidden", str(hidden), "--vocab-size", str(SPEC["vocab_size"]), "--embed-dim", str(SPEC["embed_dim"]),
            "--seq-len", str(SPEC["seq_len"]), "--batch-size", str(SPEC["batch_size"]), "--threads", str(threads),
            "--min-time", str(seconds), "--max-time", str(seconds), "--format", "json", "--out", out,
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=thread_environment(threads), check=True)
    (record,) = json.loads(result.stdout)["records"]
    return record["median_seconds"]


def minimal_median(framework: str, hidden: int, seconds: float, threads: int) -> float:
    command = [sys.executable, __file__, "--minimal", framework, "--hidden", str(hidden), "--seconds", str(seconds)]
    result = subprocess.run(command, capture_output=True, text=True, env=thread_environment(threads), check=True)
    return float(result.stdout.strip().splitlines()[-1])


def time_loop(step, seconds: float, warmup: int = 5) -> float:
    """Median seconds of ``step`` over ``seconds`` of sampling, after ``warmup`` untimed calls."""
    for _ in range(warmup + 1):
        step()
    samples, started = [], time.perf_counter()
    while time.perf_counter() - started < seconds or len(samples) < 10:
        before = time.perf_counter()
        step()
        samples.append(time.perf_counter() - before)
    return statistics.median(samples)


def minimal_torch(hidden: int, seconds: float) -> float:
    import torch
    from torch import nn

    torch.manual_seed(0)
    b, t, v, e = SPEC["batch_size"], SPEC["seq_len"], SPEC["vocab_size"], SPEC["embed_dim"]
    embedding, lstm, dense = nn.Embedding(v, e), nn.LSTM(e, hidden, batch_first=True), nn.Linear(t * hidden, 1)
    parameters = [*embedding.parameters(), *lstm.parameters(), *dense.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3, eps=1e-7)
    x, y = torch.randint(0, v, (b, t)), torch.randint(0, 2, (b, 1)).float()

    def step():
        optimizer.zero_grad(set_to_none=True)
        sequence, _ = lstm(embedding(x))
        loss = nn.functional.binary_cross_entropy(torch.sigmoid(dense(sequence.flatten(1))), y)
        loss.backward()
        optimizer.step()

    return time_loop(step, seconds)


def minimal_keras(hidden: int, seconds: float) -> float:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    b, t, v, e = SPEC["batch_size"], SPEC["seq_len"], SPEC["vocab_size"], SPEC["embed_dim"]
    inputs = keras.Input((t,), dtype="int32")
    x = keras.layers.LSTM(hidden, return_sequences=True)(keras.layers.Embedding(v, e)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(x)))
    optimizer, loss_fn = keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy()
    tokens = tf.constant(np.random.default_rng(0).integers(0, v, (b, t)), tf.int32)
    labels = tf.constant(np.random.default_rng(1).integers(0, 2, (b, 1)), tf.float32)

    @tf.function
    def train(tokens, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(tokens, training=True))
        gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return time_loop(lambda: float(train(tokens, labels)), seconds)


MINIMAL = {"torch": minimal_torch, "keras": minimal_keras}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--backends", default="torch,keras")
    parser.add_argument("--seconds", type=float, default=10.0, help="sampling time per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating harness/minimal rounds")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--minimal", choices=sorted(MINIMAL), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal:
        print(MINIMAL[args.minimal](args.hidden, args.seconds))
        return
    print(f"train step, hidden {args.hidden}, V={SPEC['vocab_size']} E={SPEC['embed_dim']} T={SPEC['seq_len']} "
          f"B={SPEC['batch_size']}, {args.threads} threads, {args.rounds} alternating rounds of {args.seconds:g} s")
    print(f"{'backend':8} {'harness ms':>11} {'minimal ms':>11} {'ratio':>7}")
    for backend in args.backends.split(","):
        harness, minimal = [], []
        for _ in range(args.rounds):
            minimal.append(minimal_median(backend, args.hidden, args.seconds, args.threads))
            harness.append(harness_median(backend, args.hidden, args.seconds, args.threads))
        h, m = statistics.median(harness), statistics.median(minimal)
        rounds = ", ".join(f"{a * 1e3:.1f}/{b * 1e3:.1f}" for a, b in zip(harness, minimal))
        print(f"{backend:8} {h * 1e3:11.2f} {m * 1e3:11.2f} {h / m:7.3f}   (rounds harness/minimal ms: {rounds})")


if __name__ == "__main__":
    main()
