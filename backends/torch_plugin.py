"""Declares the ``torch`` backend and its ``torch-compile`` variant (no framework import here)."""

from harness.hookspecs import hookimpl
from harness.registry import BackendInfo


@hookimpl
def bench_register_backends(register):
    """Register PyTorch eager mode with the fused ``nn.LSTM`` kernel, and the same under ``torch.compile``."""
    register(BackendInfo(
        name="torch",
        implementation="backends.torch_backend:TorchBackend",
        framework="PyTorch",
        requires=("torch",),
        install_hint="pip install 'lstm-bench[torch]'",
        description="PyTorch eager, fused nn.LSTM kernel, one bias (b_hh as a zero buffer)",
    ))
    register(BackendInfo(
        name="torch-compile",
        implementation="backends.torch_backend:TorchBackend",
        framework="PyTorch",
        requires=("torch",),
        install_hint="pip install 'lstm-bench[torch]'",
        description="variant: the torch backend under torch.compile (first step includes compilation)",
        options={"compile": True},
        default=False,
    ))
    register(BackendInfo(
        name="torch-fp32",
        implementation="backends.torch_backend:TorchBackend",
        framework="PyTorch",
        requires=("torch",),
        install_hint="pip install 'lstm-bench[torch]'",
        description="variant: the torch backend with TF32 off in cuDNN and cuBLAS (true float32 on GPU)",
        options={"allow_tf32": False},
        default=False,
    ))
