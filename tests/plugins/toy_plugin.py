"""A toy third-party plugin: one backend (the NumPy reference under another name) and one check suite.

Named in ``LSTM_BENCH_PLUGINS`` when pytest starts, both join the registry-derived tests with no list to edit.
"""

from harness.api import FAIL, PASS, BackendInfo, Record, Suite, Table, hookimpl


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
