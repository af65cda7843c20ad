"""ModelSpec: defaults from the article, validation with clear messages."""

import pytest

from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec


def test_defaults_are_the_articles_good_day_example():
    spec = ModelSpec()
    assert (spec.vocab_size, spec.embed_dim, spec.hidden, spec.seq_len) == (50000, 5, 3, 2)
    assert spec.return_sequences is True and spec.return_state is False
    assert spec.dense_features == 6


def test_dense_features_without_sequences_is_hidden():
    assert ModelSpec(hidden=7, seq_len=11, return_sequences=False).dense_features == 7


POSITIVE_FIELDS = [name for name, option in ModelSpec.options().items() if option.minimum == 1]


def test_the_positive_fields_are_the_sizes():
    assert POSITIVE_FIELDS == ["vocab_size", "embed_dim", "hidden", "seq_len", "batch_size", "layers", "min_length"]


@pytest.mark.parametrize("field", POSITIVE_FIELDS)
@pytest.mark.parametrize("value", [0, -3, 2.5, "4", True])
def test_non_positive_or_non_int_sizes_are_refused_with_the_field_name(field, value):
    with pytest.raises(BenchUsageError, match=rf"^{field}: .* is not a positive integer"):
        ModelSpec(**{field: value})


def test_flags_must_be_bools():
    with pytest.raises(BenchUsageError, match="return_state: 1 is not a bool"):
        ModelSpec(return_state=1)


def test_seed_may_be_zero_but_not_negative():
    assert ModelSpec(seed=0).seed == 0
    with pytest.raises(BenchUsageError, match=r"^seed: -1 is not a non-negative integer"):
        ModelSpec(seed=-1)


def test_replace_validates_and_leaves_the_original_alone():
    spec = ModelSpec()
    assert spec.replace(hidden=32).hidden == 32 and spec.hidden == 3
    with pytest.raises(BenchUsageError):
        spec.replace(hidden=0)


def test_spec_is_frozen():
    with pytest.raises(AttributeError):
        ModelSpec().hidden = 4


def test_the_label_tells_any_two_specs_apart():
    assert ModelSpec().label() == "V=50000 E=5 H=3 T=2 B=4 seq"
    assert ModelSpec(return_sequences=False, return_state=True).label() == "V=50000 E=5 H=3 T=2 B=4 last+state"
    assert ModelSpec(seed=7).label() == "V=50000 E=5 H=3 T=2 B=4 seq seed=7"
    assert ModelSpec.series_fields() == tuple(name for name in ModelSpec.field_names() if name != "hidden")


def test_a_field_must_be_an_int_with_a_minimum_or_a_bool():
    from harness.model_spec import _option

    with pytest.raises(TypeError, match="ints with a minimum, bools, or choices"):
        _option(0.5, "dropout")
    with pytest.raises(TypeError):
        _option(True, "flag", minimum=0)


def test_varying_fields_names_what_sets_groups_apart():
    from harness.model_spec import varying_fields

    specs = [ModelSpec(hidden=h, seq_len=t).to_dict() for h in (2, 4) for t in (5, 9)]
    assert varying_fields(specs, ModelSpec.series_fields()) == ["seq_len"]


def test_padding_is_one_of_its_sides_and_needs_a_real_token():
    assert ModelSpec(padding="left").padded and not ModelSpec().padded
    with pytest.raises(BenchUsageError, match=r"^padding: 'middle' is not one of none, right, left"):
        ModelSpec(padding="middle")
    with pytest.raises(BenchUsageError, match="vocab_size 1 leaves no real token"):
        ModelSpec(padding="right", vocab_size=1)


def test_min_length_may_not_exceed_seq_len_and_is_one_without_padding():
    assert ModelSpec(seq_len=5, min_length=5, padding="left").min_length == 5
    with pytest.raises(BenchUsageError, match=r"^min_length: 3 is above seq_len 2"):
        ModelSpec(min_length=3, padding="right")
    assert ModelSpec(min_length=3) == ModelSpec(), "unused without padding: the same model, one cell, one label"
    with pytest.raises(BenchUsageError, match=r"^min_length: 0 is not a positive integer"):
        ModelSpec(min_length=0)


def test_stacked_bidirectional_widths_and_labels():
    spec = ModelSpec(layers=2, bidirectional=True, padding="left", min_length=2, seq_len=4)
    assert (spec.directions, spec.lstm_width, spec.dense_features) == (2, 6, 24)
    assert ModelSpec(bidirectional=True, return_sequences=False).dense_features == 6
    assert spec.label() == "V=50000 E=5 H=3 T=4 B=4 seq+bi layers=2 padding=left min_length=2"
