"""Declares the ``onnxruntime`` backend and its variants (no framework import here)."""

from dataclasses import replace

from harness.api import BackendInfo, hookimpl

ONNXRUNTIME = BackendInfo(
    name="onnxruntime",
    implementation="backends.onnx_backend:OnnxRuntimeBackend",
    framework="ONNX Runtime",
    requires=("onnxruntime", "onnx"),
    install_hint="pip install 'lstm-bench[onnx]'",
    default=False,
    description="inference only: an ONNX graph (Gather, LSTM op, Gemm) run by ONNX Runtime, all graph "
                "optimisations; CPU provider, CUDA where onnxruntime-gpu has it (bench list --deep)",
)


@hookimpl
def bench_register_backends(register):
    """Register ONNX Runtime at its default graph optimisation level (all), and at basic and none."""
    register(ONNXRUNTIME)
    register(replace(
        ONNXRUNTIME, name="onnxruntime-basic", options={"optimization": "basic"}, default=False,
        description="variant: onnxruntime with basic graph optimisations only (constant folding, redundant nodes)",
    ))
    register(replace(
        ONNXRUNTIME, name="onnxruntime-noopt", options={"optimization": "none"}, default=False,
        description="variant: onnxruntime with every graph optimisation off (the graph as built)",
    ))
