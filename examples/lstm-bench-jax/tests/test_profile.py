"""``bench run --profile`` for the plugin: ``jax.profiler``'s trace read into lstm-bench's categories by
the named scopes of the model's phases."""

import numpy as np
import pytest

from harness.api import CATEGORIES, ModelSpec, OptimizerSpec

JaxBackend = pytest.importorskip("lstm_bench_jax.backend").JaxBackend  # run with the plugin installed


@pytest.mark.parametrize("layers, bidirectional", [(2, True)])
def test_a_profiled_step_is_placed_by_phase_and_names_the_scan(layers, bidirectional):
    spec = ModelSpec(vocab_size=200, embed_dim=8, hidden=32, seq_len=6, batch_size=4, layers=layers,
                     bidirectional=bidirectional)
    model = JaxBackend().build(spec)
    token_ids = np.random.default_rng(0).integers(1, 200, (4, 6))
    step = model.prepare_train_step(token_ids, np.ones((4, 1), np.float32), OptimizerSpec("adam", 0.01))
    step()
    profile = model.profile_steps(step, 3)
    assert set(profile.categories) == set(CATEGORIES)
    assert sum(profile.categories.values()) == pytest.approx(profile.step_seconds, rel=0.1)
    assert profile.categories["lstm"] > profile.categories["head"] > 0 and profile.categories["optimizer"] > 0
    assert profile.coverage > 0.8, profile.top_ops
    assert profile.kernel_path == "XLA while loop (lax.scan)"
    lstm_ops = [op["op"] for op in profile.top_ops if op["category"] == "lstm"]
    assert lstm_ops and all("lstm" in op for op in lstm_ops)
    if layers == 2:
        assert any("lstm_1" in op["op"] for op in profile.top_ops)
