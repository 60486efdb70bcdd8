"""Forward/backward pass of hepmlp.nn.MLP against central finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hepmlp.nn import MLP, one_hot
from hepmlp.nn.activations import HIDDEN_ACTIVATIONS

# (loss, output unit, n_outputs): every loss with the output units it supports
LOSS_OUTPUTS = [
    ("cross_entropy", "sigmoid", 1),      # binary cross-entropy
    ("cross_entropy", "softmax", 3),      # categorical, one-hot labels
    ("mse", "identity", 2),
    ("mse", "sigmoid", 1),
    ("mse", "tanh", 1),
    ("mse", "relu", 1),
]


def problem(output: str, n_outputs: int, seed: int = 0, n: int = 13):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    if output == "softmax":
        y = one_hot(rng.integers(0, n_outputs, n), n_outputs)
    elif output == "sigmoid" and n_outputs == 1:
        y = rng.integers(0, 2, n).astype(float)
    else:
        y = rng.normal(size=(n, n_outputs)) if n_outputs > 1 else rng.normal(size=n)
    weights = rng.uniform(0.2, 3.0, n)
    return X, y, weights


def central_difference_gradient(model, X, y, loss, weights, step=1e-6):
    params = model.params
    numeric = np.empty_like(params)
    for i in range(params.size):
        shifted = params.copy()
        shifted[i] += step
        model.params = shifted
        upper = model.loss(X, y, loss, weights)
        shifted[i] -= 2 * step
        model.params = shifted
        lower = model.loss(X, y, loss, weights)
        numeric[i] = (upper - lower) / (2 * step)
    model.params = params
    return numeric


@pytest.mark.parametrize(("activation", "loss_output"),
                         list(itertools.product(HIDDEN_ACTIVATIONS, LOSS_OUTPUTS)))
def test_gradient_matches_central_differences(activation, loss_output):
    loss, output, n_outputs = loss_output
    model = MLP(4, (5, 3), activation=activation, output=output, n_outputs=n_outputs, seed=2)
    if output == "relu":   # keep the output units active so the derivative is informative
        model.biases[-1][:] = 3.0
    X, y, weights = problem(output, n_outputs)
    for w in (None, weights):
        value, gradient = model.loss_and_gradient(X, y, loss, w)
        assert value == pytest.approx(model.loss(X, y, loss, w), rel=1e-12)
        numeric = central_difference_gradient(model, X, y, loss, w)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-8)
        assert np.abs(gradient).max() > 1e-4


def test_weighted_loss_is_weighted_mean_of_event_losses():
    model = MLP(4, (5, 3), activation="tanh", output="sigmoid", seed=1)
    X, y, _ = problem("sigmoid", 1)
    weights = np.zeros(len(y))
    weights[[2, 5]] = [1.0, 3.0]
    per_event = [model.loss(X[[i]], y[[i]], "cross_entropy") for i in (2, 5)]
    expected = (1.0 * per_event[0] + 3.0 * per_event[1]) / 4.0
    assert model.loss(X, y, "cross_entropy", weights) == pytest.approx(expected, rel=1e-12)
    # and it is -[p log y + (1-p) log(1-y)] for one event
    p = y[2]
    out = model.predict(X[[2]])[0]
    assert per_event[0] == pytest.approx(-(p * np.log(out) + (1 - p) * np.log(1 - out)), rel=1e-10)


def test_cross_entropy_is_finite_when_the_output_saturates():
    model = MLP(1, (2,), activation="identity", output="sigmoid", seed=0)
    model.params = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    X = np.array([[500.0], [-500.0]])           # z = ±1000: y rounds to exactly 1 and 0
    assert model.predict(X)[0] == 1.0 and model.predict(X)[1] == 0.0
    value, gradient = model.loss_and_gradient(X, np.array([0.0, 1.0]), "cross_entropy")
    assert value == pytest.approx(1000.0)        # log(1 + e^1000) - 0 = 1000, not inf
    assert np.all(np.isfinite(gradient))
    softmax = MLP(1, (), output="softmax", n_outputs=2, seed=0)
    softmax.params = np.array([1000.0, -1000.0, 0.0, 0.0])
    value = softmax.loss(np.array([[1.0]]), one_hot(np.array([1]), 2), "cross_entropy")
    assert value == pytest.approx(2000.0)


def test_forward_keeps_every_layer():
    model = MLP(4, (5, 3), activation="tanh", output="sigmoid", seed=0)
    X, _, _ = problem("sigmoid", 1)
    output = model.forward(X)
    assert [z.shape for z in model.pre_activations] == [(13, 5), (13, 3), (13, 1)]
    assert [y.shape for y in model.activations] == [(13, 4), (13, 5), (13, 3), (13, 1)]
    z1 = X @ model.weights[0] + model.biases[0]
    np.testing.assert_allclose(model.pre_activations[0], z1)
    np.testing.assert_allclose(model.activations[1], np.tanh(z1))
    np.testing.assert_allclose(output[:, 0], 1 / (1 + np.exp(-model.pre_activations[2][:, 0])))
    np.testing.assert_allclose(model.predict(X), output[:, 0])


def test_float32_stays_float32_and_agrees_with_float64():
    X, y, w = problem("sigmoid", 1)
    model64 = MLP(4, (8, 8), seed=5)
    model32 = MLP(4, (8, 8), seed=5, dtype="float32")
    np.testing.assert_array_equal(model32.params, model64.params.astype(np.float32))
    value, gradient = model32.loss_and_gradient(X, y, "cross_entropy", w)
    assert gradient.dtype == np.float32 and model32.predict(X).dtype == np.float32
    value64, gradient64 = model64.loss_and_gradient(X, y, "cross_entropy", w)
    assert value == pytest.approx(value64, rel=1e-5)
    np.testing.assert_allclose(gradient, gradient64, rtol=1e-3, atol=1e-6)


def test_params_are_one_flat_buffer_shared_with_the_layers():
    model = MLP(3, (4,), n_outputs=2, output="identity", seed=0)
    assert model.layer_sizes == (3, 4, 2)
    assert model.n_params == 3 * 4 + 4 + 4 * 2 + 2
    new = np.arange(model.n_params, dtype=float)
    model.params = new
    np.testing.assert_array_equal(model.weights[0], new[:12].reshape(3, 4))
    np.testing.assert_array_equal(model.biases[0], new[12:16])
    np.testing.assert_array_equal(model.weights[1], new[16:24].reshape(4, 2))
    np.testing.assert_array_equal(model.biases[1], new[24:])
    copy = model.params
    copy[0] = -1.0                              # the getter returns a copy
    assert model.params[0] == 0.0
    with pytest.raises(ValueError, match=r"shape \(26,\)"):
        model.params = np.zeros(5)


def test_arrays_and_architecture_round_trip():
    model = MLP(3, (4, 2), activation="relu", output="softmax", n_outputs=3, seed=4)
    arrays = model.to_arrays()
    assert sorted(arrays) == ["W0", "W1", "W2", "b0", "b1", "b2"]
    import json
    architecture = json.loads(json.dumps(model.architecture()))
    copy = MLP.from_arrays(architecture, arrays)
    np.testing.assert_array_equal(copy.params, model.params)
    X = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    assert copy.predict(X).shape == (6, 3)
    np.testing.assert_allclose(copy.predict(X).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="W1"):
        MLP.from_arrays(architecture, {**arrays, "W1": np.zeros((2, 2))})


def test_same_seed_gives_identical_weights_and_initialisation_scales():
    assert np.array_equal(MLP(20, (64, 64), seed=7).params, MLP(20, (64, 64), seed=7).params)
    assert not np.array_equal(MLP(20, (64, 64), seed=7).params, MLP(20, (64, 64), seed=8).params)
    glorot = MLP(200, (300,), activation="tanh", seed=0).weights[0]
    limit = np.sqrt(6 / 500)
    assert np.abs(glorot).max() <= limit and glorot.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    he = MLP(200, (300,), activation="relu", seed=0).weights[0]
    assert he.std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)
    assert np.all(MLP(200, (300,), seed=0).biases[0] == 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"activation": "swish"}, "valid: sigmoid, tanh, relu, identity"),
    ({"activation": "softmax"}, "valid: sigmoid, tanh, relu, identity"),
    ({"output": "softplus"}, "valid: sigmoid, tanh, relu, identity, softmax"),
    ({"dtype": "float16"}, "valid: float32, float64"),
])
def test_unknown_names_raise_listing_the_valid_ones(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(3, (4,), **kwargs)


def test_unknown_or_mismatched_loss_is_a_value_error():
    model = MLP(3, (4,), seed=0)
    X = np.zeros((2, 3))
    with pytest.raises(ValueError, match="valid: cross_entropy, mse"):
        model.loss(X, np.zeros(2), "hinge")
    with pytest.raises(ValueError, match="needs output 'sigmoid'"):
        MLP(3, (4,), output="identity").loss(X, np.zeros(2), "cross_entropy")
    with pytest.raises(ValueError, match="one_hot"):
        MLP(3, (4,), output="softmax", n_outputs=3).loss(X, np.zeros(2), "cross_entropy")


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0, 1]), 3),
                                  [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="0 … 1"):
        one_hot(np.array([0, 2]), 2)


def test_chunked_inference_matches_the_single_pass(monkeypatch):
    """``loss`` and ``predict`` walk large sets in chunks: the weighted mean and the outputs
    must not depend on where the chunk boundaries fall."""
    from hepmlp.nn import network

    X, y, weights = problem("softmax", 3, n=23)
    model = MLP(4, (5,), activation="tanh", output="softmax", n_outputs=3, seed=3)
    expected_loss = model.loss_and_gradient(X, y, "cross_entropy", weights)[0]
    expected_output = model.forward(X)
    monkeypatch.setattr(network, "INFERENCE_CHUNK", 5)
    assert model.loss(X, y, "cross_entropy", weights) == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(model.predict(X), expected_output, rtol=1e-12)
