"""A plugin whose hook raises."""

from harness.api import hookimpl


@hookimpl
def bench_register_backends(register):
    raise RuntimeError("plugin exploded")
