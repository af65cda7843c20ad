"""A toy third-party plugin: one backend (the NumPy reference under another name), one check suite and
one per-cell add-on.

Named in ``LSTM_BENCH_PLUGINS`` when pytest starts, both join the registry-derived tests with no list to edit.
"""

import time

from harness.api import FAIL, PASS, BackendInfo, CellAddon, Record, Suite, Table, hookimpl


class ToyCountSuite(Suite):
    """A check: the backend's model has the six canonical weights."""

    name = "toy-count"
    description = "the model has the six canonical weights"

    def measure(self, backend, spec, options):
        return sorted(backend.build(spec).get_weights())

    def judge(self, spec, backend_name, measurement, options):
        status = PASS if len(measurement) == 6 else FAIL
        return Record(self.name, backend_name, status, spec.to_dict(), "" if status == PASS else f"{measurement}")

    def tables(self, records):
        return [Table("toy-count", ("backend", "status"), tuple((record.backend, record.status) for record in records))]


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="toy", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy",
                         requires=("numpy",)))


@hookimpl
def bench_register_suites(register):
    register(ToyCountSuite())


class ToyClockAddon(CellAddon):
    """Wall time of the round, by its own clock: proof that an add-on's figures reach the record."""

    name = "toy-clock"

    def start(self):
        self.started = time.monotonic()

    def stop(self):
        self.stopped = time.monotonic()

    def figures(self):
        return {"wall_seconds": self.stopped - self.started}


@hookimpl
def bench_register_addons(register):
    register(ToyClockAddon)
