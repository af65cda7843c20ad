"""One identity for a cell: the cell a worker runs, the record it yields, and a row of a saved run agree."""

from harness.cell import CELL_FIELDS, Cell, cell_key
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover
from harness.results.record import PASS, Record
from harness.suite import SuiteOptions


def test_a_cell_and_the_record_it_yields_have_one_key():
    registry = discover()
    suite = registry.suite("gradients")
    spec = ModelSpec(hidden=7)
    (cell,) = suite.cells(spec, SuiteOptions(devices=("cpu",)))
    record = Record(suite.name, "numpy", PASS, cell.spec.to_dict(), details=suite.record_details(cell.options))
    assert cell.key("numpy") == record.cell_key()
    assert dict(zip(CELL_FIELDS, record.cell_key()))["hidden"] == 7


def test_suites_without_devices_run_on_the_cpu_whatever_the_devices_asked():
    suite = discover().suite("params")
    (cell,) = suite.cells(ModelSpec(), SuiteOptions(devices=("cuda",)))
    assert cell.device == "cpu"
    assert cell.key("torch") == Record("params", "torch", PASS, ModelSpec().to_dict()).cell_key()


def test_a_record_saved_before_a_spec_field_existed_matches_its_default():
    spec = ModelSpec().to_dict()
    older = {name: value for name, value in spec.items() if name != "seed"}
    assert cell_key("params", "numpy", "cpu", older) == cell_key("params", "numpy", "cpu", spec)


def test_the_cell_fields_are_the_suite_backend_device_and_every_spec_field():
    assert CELL_FIELDS == ("suite", "backend", "device", *ModelSpec.field_names())
    assert isinstance(Cell("params", ModelSpec(), SuiteOptions()).key("numpy"), tuple)
