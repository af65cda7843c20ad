"""One identity for a cell: the cell a worker runs, the record it yields, and a row of a saved run agree."""

import json

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


def test_the_cell_fields_are_the_suite_backend_device_every_spec_field_and_the_target_host():
    assert CELL_FIELDS == ("suite", "backend", "device", *ModelSpec.field_names(), "target")
    cell = Cell("params", ModelSpec(), SuiteOptions())
    assert isinstance(cell.key("numpy"), tuple) and len(cell.key("numpy")) == len(CELL_FIELDS)
    assert cell.key("numpy")[-1] is None and cell.on_host("alpha").key("numpy")[-1] == "alpha"
    assert cell.on_host("alpha").key("numpy") != cell.on_host("beta").key("numpy")


def test_a_round_saved_before_cells_had_a_target_is_found_again(tmp_path):
    from harness.results.store import load_rounds

    key = Cell("train", ModelSpec(), SuiteOptions()).key("numpy")
    (tmp_path / "rounds.jsonl").write_text(json.dumps({"cell": list(key[:-1]), "round": 0, "measurement": {"a": 1}}) + "\n")
    assert load_rounds(tmp_path) == {key: {0: {"a": 1}}}
