"""The NumPy reference against numbers worked out by hand from the gate equations."""

import math

import numpy as np

from backends.numpy_reference import lstm_forward, sigmoid


def test_one_unit_two_steps_by_hand():
    kernel = np.array([[0.5, -0.25, 1.0, 0.75]])          # E=1, gates i f c o
    recurrent_kernel = np.array([[0.1, 0.2, -0.3, 0.4]])  # H=1
    bias = np.array([0.0, 1.0, 0.0, 0.0])
    inputs = np.array([[[1.0], [2.0]]])                    # B=1, T=2
    steps = lstm_forward(inputs, kernel, recurrent_kernel, bias)

    h, c = 0.0, 0.0
    for x in (1.0, 2.0):
        i = 1 / (1 + math.exp(-(0.5 * x + 0.1 * h)))
        f = 1 / (1 + math.exp(-(-0.25 * x + 0.2 * h + 1.0)))
        g = math.tanh(1.0 * x - 0.3 * h)
        o = 1 / (1 + math.exp(-(0.75 * x + 0.4 * h)))
        c = f * c + i * g
        h = o * math.tanh(c)
    assert math.isclose(steps.hiddens[-1, 0, 0], h, rel_tol=1e-12)
    assert math.isclose(steps.cells[-1, 0, 0], c, rel_tol=1e-12)
    assert steps.sequence.shape == (1, 2, 1)


def test_sigmoid_is_stable_at_the_extremes():
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    assert values.tolist() == [0.0, 0.5, 1.0]
