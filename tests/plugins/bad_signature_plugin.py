"""A plugin whose hook asks for an argument the spec does not have."""

from harness.api import hookimpl


@hookimpl
def bench_register_backends(register, colour):
    pass
