#!/usr/bin/env bash
# The GPU check of the rounds machinery (issue 10), one short script for a lent GPU machine:
#   1. the equivalence suites on CUDA (params, gradients, training) for torch, torch-fp32, keras-jax-fp32;
#   2. two identical default-budget timing runs of torch on CUDA (train and infer, hidden 256 and 1024,
#      10 rounds in fresh workers), back to back, then `bench compare` of the two: a false alarm on the GPU
#      would exit 1, and the runs' round spreads are the GPU's between-process noise;
#   3. a `--quick` timing run of torch, keras-jax and keras-torch on CUDA (3 rounds, the add-ons on a GPU).
# Every run is saved under ${1:-results}; each step has its own time limit so a hang loses only that step.
set -u
out=${1:-results}
source "$(dirname "$0")/gpu_plugins.sh"
step() { echo "=== $(date +%T) $*"; timeout "$@"; echo "=== exit $?"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv
python3 -c "import torch, jax, keras; print('torch', torch.__version__, 'jax', jax.__version__, 'keras', keras.__version__)"
step 60 python3 -m harness list
step 150 python3 -m harness run --suite params,gradients,training --device cuda \
    --backend torch,torch-fp32,keras-jax-fp32 --label gpu-equivalence --out "$out"
step 170 python3 -m harness run --suite train,infer --device cuda --backend torch --hidden 256,1024 \
    --label gpu-a1 --out "$out"
step 170 python3 -m harness run --suite train,infer --device cuda --backend torch --hidden 256,1024 \
    --label gpu-a2 --out "$out"
step 30 python3 -m harness compare gpu-a1 gpu-a2 --results-dir "$out"
step 150 python3 -m harness run --suite train,infer --device cuda --quick \
    --backend torch,keras-jax,keras-torch --label gpu-quick --out "$out"
