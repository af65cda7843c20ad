"""A plugin whose hook asks for an argument the spec does not have."""

from harness.hookspecs import hookimpl


@hookimpl
def bench_register_backends(register, colour):
    pass
