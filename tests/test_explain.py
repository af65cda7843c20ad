"""``bench explain``: the article's model computed step by step by the reference and every backend, checked
against a hand computation written here; planted faults reported at their step, gate and unit; the HTML
pictures rendered in headless Chromium; bad input refused in one line."""

import hashlib
import json
import re

import numpy as np
import pytest

from harness.canonical import keras_default_weights
from harness.cli import main
from harness.model_spec import ModelSpec

from conftest import DEFAULT_BACKENDS, chromium, needs_chromium, use_test_plugins


def hand_ids(words, vocab=50000):
    """The documented tokenizer, written again: 1 + first 8 bytes of BLAKE2b, big-endian, mod (V - 1)."""
    return [1 + int.from_bytes(hashlib.blake2b(word.encode()).digest()[:8], "big") % (vocab - 1) for word in words]


def hand_lstm(weights, ids):
    """A few lines of NumPy: the LSTM over one sentence, gates i, f, c~, o in the Keras layout."""
    kernel, recurrent, bias = (np.asarray(weights[f"lstm.{name}"], np.float64) for name in ("kernel", "recurrent_kernel", "bias"))
    units = recurrent.shape[0]
    h, c, steps = np.zeros(units), np.zeros(units), []
    for token in ids:
        x = np.asarray(weights["embedding"], np.float64)[token]
        z = x @ kernel + h @ recurrent + bias
        i, f, g, o = (1 / (1 + np.exp(-z[:units])), 1 / (1 + np.exp(-z[units:2 * units])), np.tanh(z[2 * units:3 * units]),
                      1 / (1 + np.exp(-z[3 * units:])))
        c = f * c + i * g
        h = o * np.tanh(c)
        steps.append({"x": x, "i": i, "f": f, "g": g, "o": o, "c": c, "h": h})
    return steps


def explain_json(capsys, *argv):
    status = main(["explain", *argv, "--format", "json"])
    return status, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def good_day(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_backends")
        out = tmp_path_factory.mktemp("explain") / "good-day.json"
        status = main(["explain", "--backend", ",".join([*DEFAULT_BACKENDS, "fake-gate-swap", "fake-opaque-gate-swap",
                                                         "fake-hook-disagrees", "fake-last-step-only"]),
                       "--format", "json", "--out", str(out)])
    return status, json.loads(out.read_text())


@pytest.mark.slow
def test_good_day_matches_a_hand_computation_in_every_backend(good_day):
    status, document = good_day
    assert document["words"] == ["good", "day"] and document["token_ids"] == hand_ids(["good", "day"])
    assert document["parameter_sum"] == "250,000 + 108 + 7 = 250,115"
    steps = hand_lstm(keras_default_weights(ModelSpec()), document["token_ids"])
    reference = document["reference"]["values"]["lstm"]
    for t, expected in enumerate(steps):
        for quantity, values in expected.items():
            assert np.allclose(reference[quantity][t], values, rtol=1e-12, atol=1e-15), (t, quantity)
    backends = {backend["name"]: backend for backend in document["backends"]}
    for name in DEFAULT_BACKENDS:
        backend = backends[name]
        assert backend["status"] == "pass" and backend["first_divergence"] is None, backend
        for t, expected in enumerate(steps):
            for quantity, values in expected.items():
                scale = max(np.max(np.abs(step[quantity])) for step in steps)
                assert np.allclose(backend["values"]["lstm"][quantity][t], values, rtol=0, atol=1e-6 * scale + 1e-9), \
                    (name, t, quantity)
    assert backends["numpy"]["source"] == "its own gates (float32)"
    assert backends["torch"]["source"].startswith("recomputed: gates from the weights it reports, h from its outputs")
    assert status == 1  # the planted faults fail


@pytest.mark.slow
def test_planted_faults_are_reported_at_their_step_gate_and_unit(good_day):
    _, document = good_day
    backends = {backend["name"]: backend for backend in document["backends"]}
    for name in ("fake-gate-swap", "fake-opaque-gate-swap"):  # loads i and f in each other's place
        found = backends[name]["first_divergence"]
        assert backends[name]["status"] == "fail"
        assert (found["layer"], found["step"], found["quantity"], found["unit"]) == ("lstm", 1, "i", 0), found
        assert found["value"] == pytest.approx(document["reference"]["values"]["lstm"]["f"][0][0], rel=1e-5)
    assert backends["fake-opaque-gate-swap"]["source"].startswith("recomputed")
    lying = backends["fake-hook-disagrees"]
    assert lying["source"].startswith("its lstm_gates disagree with its own outputs (lstm step 1 h_t (hidden state) unit 0")
    assert (lying["first_divergence"]["step"], lying["first_divergence"]["quantity"]) == (1, "h")
    assert "its forward returns lstm_output of shape (1, 3), expected (1, 2, 3)" in backends["fake-last-step-only"]["reason"]


@pytest.mark.slow
def test_a_stacked_bidirectional_model_with_saved_weights(tmp_path, capsys):
    spec = ModelSpec(vocab_size=300, embed_dim=4, hidden=5, seq_len=3, batch_size=1, layers=2, bidirectional=True,
                     seed=7)
    weights_file = tmp_path / "weights.npz"
    np.savez(weights_file, **keras_default_weights(spec))
    status, document = explain_json(capsys, "the cat sat", "--vocab-size", "300", "--embed-dim", "4", "--hidden", "5",
                                    "--layers", "2", "--bidirectional", "--weights", str(weights_file), "--units", "2",
                                    "--backend", "torch,keras")
    assert status == 0, document["backends"]
    assert list(document["reference"]["values"]) == ["lstm", "lstm.backward", "lstm_1", "lstm_1.backward"]
    assert document["weights"] == f"the file {weights_file}"
    backward = hand_lstm({name.replace("lstm.backward", "lstm"): value for name, value in keras_default_weights(spec).items()},
                         hand_ids(["sat", "cat", "the"], 300))
    assert np.allclose(document["reference"]["values"]["lstm.backward"]["h"], [step["h"] for step in backward])
    assert [backend["status"] for backend in document["backends"]] == ["pass", "pass"]
    returned = {(item["return_sequences"], item["return_state"]): item for item in document["returns"]}
    assert [output["shape"] for output in returned[True, True]["outputs"]] == ["(1, 3, 10)", "(1, 10)", "(1, 10)"]
    assert returned[True, False]["chosen"]


def test_the_table_shows_each_step_and_what_the_layer_hands_back(capsys):
    assert main(["explain", "--backend", "numpy", "--units", "2"]) == 0
    out = capsys.readouterr().out
    assert "lstm, step 1 of 2: 'good'" in out and "lstm, step 2 of 2: 'day'" in out
    assert "(first units only: --units)" in out and "c~ (candidate)" in out
    assert "parameters: 250,000 + 108 + 7 = 250,115" in out
    assert re.search(r"│ numpy\s+│ its own gates \(float32\)", out)
    assert "state_c = c_T" in out and "<- the model's" in out


@pytest.mark.parametrize("argv, message", [
    (["..."], "text: '...' has no words"),
    (["--seq-len", "3"], "--seq-len: bench explain takes one example of T = the number of words"),
    (["--hidden", "3,4"], "--hidden: bench explain shows one model; give one value (got 3,4)"),
    (["--weights", "/nonexistent.npz"], "--weights /nonexistent.npz: cannot read it (No such file or directory)"),
    (["___ ..."], "has no words"),
    (["--min-length", "2"], "--min-length: bench explain takes one example"),
    (["--units", "0"], "--units"),
    (["--backend", "nope"], "--backend: unknown backend 'nope'"),
    (["--vocab-size", "1"], "--vocab-size: 1 leaves no id for a word"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def weights_file(path, **changes):
    np.savez(path, **{**keras_default_weights(ModelSpec()), **changes})
    return str(path)


def empty_file(path):
    path.write_bytes(b"")
    return str(path)


def single_array(path):
    np.save(path.with_suffix(".npy"), np.ones(3))
    return str(path.with_suffix(".npy"))


@pytest.mark.parametrize("make, message", [
    (lambda path: weights_file(path, **{"lstm.kernel": np.ones((5, 8), np.float32)}),
     "lstm.kernel has shape (5, 8), expected (5, 12)"),
    (lambda path: weights_file(path, **{"lstm.bias": np.full(12, np.nan, np.float32)}), "lstm.bias holds 12 non-finite"),
    (lambda path: weights_file(path, embedding=np.ones((50000, 5), np.int64)), "embedding holds int64 values, expected floating"),
    (empty_file, "cannot read it as a NumPy .npz of named arrays"),
    (single_array, "a single array, not a NumPy .npz of named arrays"),
    (lambda path: weights_file(path, extra=np.ones(2)), "unknown ['extra']"),
])
def test_a_bad_weights_file_is_named_in_one_line(tmp_path, capsys, make, message):
    path = make(tmp_path / "weights.npz")
    assert main(["explain", "--weights", path, "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_weights_saved_for_another_sentence_length_load_the_head_is_not_read(tmp_path, capsys):
    path = weights_file(tmp_path / "trained.npz")  # the article's T=2 head: dense.kernel (6, 1)
    status, document = explain_json(capsys, "the cat sat", "--weights", path, "--backend", "numpy")
    assert status == 0 and document["backends"][0]["status"] == "pass"
    steps = hand_lstm(keras_default_weights(ModelSpec()), hand_ids(["the", "cat", "sat"]))
    assert np.allclose(document["reference"]["values"]["lstm"]["h"], [step["h"] for step in steps])


def test_out_writes_into_a_fifo_and_a_device_without_replacing_them(tmp_path, capsys):
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    assert main(["explain", "--backend", "numpy", "--format", "json", "--out", str(fifo)]) == 0
    reader.join(timeout=30)
    assert json.loads(received[0])["words"] == ["good", "day"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    if os.path.exists("/dev/full"):
        assert main(["explain", "--backend", "numpy", "--format", "json", "--out", "/dev/full"]) == 2
        assert "No space left on device" in capsys.readouterr().err
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)



def test_the_chain_always_draws_the_last_step_and_what_is_handed_back(tmp_path):
    page = tmp_path / "long.html"
    words = "one two three four five six seven eight"
    assert main(["explain", words, "--backend", "numpy", "--no-return-sequences", "--return-state", "--format", "html",
                 "--out", str(page)]) == 0
    html = page.read_text()
    assert html.count("class='returned'") == 2 and "h8 ← returned" in html and "final state ← returned" in html
    assert "… 2 more" in html and "The first 5 steps and the last are drawn" in html


def test_text_that_is_not_utf8_still_renders(tmp_path):
    page = tmp_path / "bytes.html"
    text = b"abc \xff\xfe def".decode("utf-8", errors="surrogateescape")  # what argv holds for such bytes
    assert main(["explain", text, "--backend", "numpy", "--format", "html", "--out", str(page)]) == 0
    assert "“abc”" in page.read_text(encoding="utf-8")


@needs_chromium
def test_the_html_pictures_render_in_headless_chromium(tmp_path, capsys):
    page = tmp_path / "explain.html"
    assert main(["explain", "--backend", "numpy", "--format", "html", "--out", str(page)]) == 0
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # self-contained
    dom = chromium("--window-size=1400,1000", "--dump-dom", page.as_uri(), profile=tmp_path / "profile").stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-svg-count="3"' in body and 'data-overflow-x="false"' in body, body
    assert int(re.search(r'data-svg-texts="(\d+)"', body).group(1)) > 40
    assert "“good”" in dom and "h2 ← returned" in dom and "i = σ(input)" in dom
    shot = tmp_path / "explain.png"
    chromium("--window-size=1400,1000", f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "shot")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
