"""Declares the ``torch`` backend and its variants (no framework import here)."""

from dataclasses import replace

from harness.api import BackendInfo, hookimpl

TORCH = BackendInfo(
    name="torch",
    implementation="backends.torch_backend:TorchBackend",
    framework="PyTorch",
    requires=("torch",),
    install_hint="pip install 'lstm-bench[torch]'",
    description="PyTorch eager, fused nn.LSTM kernel, one bias (b_hh as a zero buffer)",
)


@hookimpl
def bench_register_backends(register):
    """Register PyTorch eager mode with the fused ``nn.LSTM`` kernel, under ``torch.compile``, packing every
    padded batch, and in true float32 on GPU."""
    register(TORCH)
    register(replace(
        TORCH, name="torch-compile", options={"compile": True}, default=False,
        description="variant: the torch backend under torch.compile (first step includes compilation)",
    ))
    register(replace(
        TORCH, name="torch-packed", options={"always_pack": True}, default=False,
        description="variant: the torch backend packing every padded batch (it masks right-padded "
                    "unidirectional ones, faster on CPU)",
    ))
    register(replace(
        TORCH, name="torch-fp32", options={"allow_tf32": False}, default=False,
        description="variant: the torch backend with TF32 off in cuDNN and cuBLAS (true float32 on GPU)",
    ))
