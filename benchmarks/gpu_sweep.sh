#!/usr/bin/env bash
# The GPU sweep quoted in the timing issue's closing note: torch, Keras on JAX and Keras on torch, then
# torch.compile at two sizes, all on CUDA, results under ${1:-results}. Works from a source checkout
# without installing (plugins named through LSTM_BENCH_PLUGINS instead of entry points).
set -u
out=${1:-results}
source "$(dirname "$0")/gpu_plugins.sh"
python3 -m harness list
python3 -m harness run --suite train,infer --device cuda --backend torch,keras-jax,keras-torch \
    --min-time 1 --max-time 3 --timeout 240 --out "$out"
python3 -m harness run --suite train,infer --device cuda --backend torch-compile --hidden 256,1024 \
    --min-time 1 --max-time 3 --timeout 240 --out "$out"
