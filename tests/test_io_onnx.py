"""ONNX export: a valid graph whose onnxruntime scores equal hepmlp's within 1e-5 (float32)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from hepmlp.cli import main
from hepmlp.errors import UserError
from hepmlp.io.model_files import load_trained, save_trained
from hepmlp.io.onnx_export import export_onnx
from hepmlp.io.onnx_transforms import GILES_CENTRAL, GILES_TAIL
from hepmlp.nn import MLP
from hepmlp.transforms import fit_chain, parse_chain

ort = pytest.importorskip("onnxruntime")

FEATURES = ["lep1_pt", "met", "mll", "n_jets"]
HISTORY = {"train_loss": [0.6], "validation_loss": [0.6], "learning_rate": [0.1], "seconds": [0.1]}


def make_model(folder, *, activation="sigmoid", output="sigmoid", n_outputs=1, task="classification", seed=3,
               transform=None):
    classes = ["background", "signal"] if n_outputs == 1 else [f"class{i}" for i in range(n_outputs)]
    info = {
        "task": task,
        "features": FEATURES,
        "expressions": {name: name for name in FEATURES},
        "classes": classes if task == "classification" else [],
        "standardisation": {"mean": [40.0, 30.0, 90.0, 1.5], "std": [20.0, 15.0, 40.0, 1.2]},
    }
    mlp = MLP(len(FEATURES), hidden=(8, 6), activation=activation, output=output, n_outputs=n_outputs, seed=seed)
    # Larger weights than the initialisation, so every unit works in its non-linear range.
    mlp.params = np.random.default_rng(seed).normal(0.0, 1.0, mlp.n_params)
    chain = None
    if transform is not None:
        X = raw_features(3000, seed=seed + 100).astype(np.float64)
        labels = (np.random.default_rng(seed).uniform(size=len(X)) < 0.5).astype(np.int64)
        weights = np.random.default_rng(seed + 1).uniform(0.5, 2.0, len(X))
        chain = fit_chain(parse_chain(transform, features=FEATURES, classes=classes, key="t"), X, weights,
                          features=FEATURES, labels=labels, classes=classes)
    save_trained(folder, mlp, info=info, model_config={}, loss="cross_entropy", history=HISTORY, transforms=chain)
    return load_trained(folder)


def raw_features(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [rng.exponential(40, n), rng.exponential(30, n), rng.normal(90, 40, n), rng.integers(0, 6, n)]
    ).astype(np.float32)


def onnx_scores(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["score"]
    (scores,) = session.run(["score"], {"features": X})
    return scores


@pytest.mark.parametrize(
    ("activation", "output", "n_outputs", "task"),
    [
        ("sigmoid", "sigmoid", 1, "classification"),
        ("tanh", "sigmoid", 1, "classification"),
        ("relu", "softmax", 3, "classification"),
        ("identity", "softmax", 4, "classification"),
        ("tanh", "identity", 1, "regression"),
    ],
)
def test_onnx_parity(tmp_path, activation, output, n_outputs, task):
    model = make_model(tmp_path / "model", activation=activation, output=output, n_outputs=n_outputs, task=task)
    path = export_onnx(tmp_path / "model", tmp_path / "model.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    X = raw_features()
    expected = model.score(X.astype(np.float64)).reshape(len(X), -1)
    scores = onnx_scores(path, X)
    assert scores.dtype == np.float32 and scores.shape == (len(X), n_outputs)
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)


def test_dynamic_batch_and_metadata(tmp_path):
    make_model(tmp_path / "adam")
    path = export_onnx(tmp_path / "adam", tmp_path / "adam.onnx")
    proto = onnx.load(str(path))
    props = {prop.key: prop.value for prop in proto.metadata_props}
    assert json.loads(props["features"]) == FEATURES
    assert json.loads(props["classes"]) == ["background", "signal"]
    assert json.loads(props["expressions"])["met"] == "met"
    assert proto.opset_import[0].version == 17
    for n in (1, 7):
        assert onnx_scores(path, raw_features(n)).shape == (n, 1)


def test_export_cli(tmp_path, capsys):
    model = make_model(tmp_path / "adam")
    assert main(["export-onnx", "--model", str(tmp_path / "adam"), "--output", str(tmp_path / "out" / "m.onnx")]) == 0
    X = raw_features(100)
    np.testing.assert_allclose(onnx_scores(tmp_path / "out" / "m.onnx", X)[:, 0], model.score(X), atol=1e-5)


def test_export_of_a_damaged_model_fails_cleanly(tmp_path, capsys):
    make_model(tmp_path / "adam")
    (tmp_path / "adam" / "model.npz").write_bytes(b"PK\x03\x04 truncated")
    assert main(["export-onnx", "--model", str(tmp_path / "adam"), "--output", str(tmp_path / "m.onnx")]) == 1
    assert "model.npz cannot be read" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(UserError):
        export_onnx(tmp_path / "adam", tmp_path / "m.onnx")


TRANSFORM_CHAINS = {
    "gaussianise, decorrelate": ["gaussianise", "decorrelate"],
    "normalise": ["normalise"],
    "pca per class, standardise": [{"name": "pca", "per_class": "background"}, "standardise"],
    "log, decorrelate": [{"name": "log", "features": ["lep1_pt", "met"], "offset": 1.0}, "decorrelate"],
    "gaussianise alone": [{"name": "gaussianise", "knots": 300}],
}


def far_features(n=3000, seed=9):
    """Raw features reaching well beyond the training range on both sides (tails, unseen values)."""
    X = raw_features(n, seed=seed)
    X[: n // 10] *= np.float32(6.0)
    X[n // 10 : n // 5] = np.float32(-50.0)
    return X


@pytest.mark.parametrize("chain", list(TRANSFORM_CHAINS), ids=list(TRANSFORM_CHAINS))
def test_onnx_parity_with_transforms(tmp_path, chain):
    model = make_model(tmp_path / "model", activation="tanh", transform=TRANSFORM_CHAINS[chain])
    path = export_onnx(tmp_path / "model", tmp_path / "model.onnx")
    X = np.concatenate([raw_features(), far_features()])
    expected = model.score(X.astype(np.float64)).reshape(len(X), -1)
    np.testing.assert_allclose(onnx_scores(path, X), expected, rtol=0, atol=1e-5)
    props = {prop.key: prop.value for prop in onnx.load(str(path)).metadata_props}
    assert json.loads(props["transforms"]) == model.transforms.names


def transformed_inputs_graph(model, tmp_path):
    """The exported graph cut after the transforms: its output is the network's input."""
    from hepmlp.io.onnx_export import build_graph

    proto = build_graph(model)
    last = proto.graph.node[[node.name for node in proto.graph.node].index("layer0_linear")].input[0]
    extracted = tmp_path / "inputs.onnx"
    onnx.save(proto, str(tmp_path / "full.onnx"))
    onnx.utils.extract_model(str(tmp_path / "full.onnx"), str(extracted), ["features"], [last])
    return extracted, last


def test_onnx_gaussianise_matches_the_exact_inverse_normal_cdf(tmp_path):
    model = make_model(tmp_path / "model", transform=["gaussianise"])
    path, output = transformed_inputs_graph(model, tmp_path)
    X = np.concatenate([raw_features(20000, seed=4), far_features()])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_inputs,) = session.run([output], {"features": X})
    exact = model.transforms.apply(X.astype(np.float64))
    assert np.abs(exact).max() > 3.5   # the far tails are exercised
    np.testing.assert_allclose(onnx_inputs, exact, rtol=2e-6, atol=2e-6)


def test_giles_polynomials_approximate_erfinv():
    from scipy.special import erfinv

    # 1 - t >= 2e-7: the tail probability p = (1 - t) / 2 >= 1e-7 = hepmlp.transforms.marginal.TAIL
    t = np.concatenate([np.linspace(-0.999999, 0.999999, 20001), 1 - np.logspace(np.log10(2e-7), -1, 200)])
    w = -np.log((1 - t) * (1 + t))
    central, tail = np.polyval(GILES_CENTRAL, w - 2.5), np.polyval(GILES_TAIL, np.sqrt(w) - 3)
    approximation = np.where(w < 5, central, tail) * t
    np.testing.assert_allclose(approximation, erfinv(t), rtol=5e-7, atol=0)


@pytest.mark.parametrize(("transform", "ops"), [
    (None, ["Sub", "Div"]),
    (["decorrelate"], ["MatMul", "Add"]),
    (["pca", "normalise"], ["MatMul", "Add", "Sub", "Div"]),
])
def test_linear_transforms_are_matmul_and_add_in_front_of_the_network(tmp_path, transform, ops):
    from hepmlp.io.onnx_export import build_graph

    model = make_model(tmp_path / "model", transform=transform)
    nodes = [node.op_type for node in build_graph(model).graph.node]
    assert nodes[: len(ops) + 1] == [*ops, "Gemm"]
