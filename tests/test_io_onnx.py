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
from hepmlp.nn import MLP

ort = pytest.importorskip("onnxruntime")

FEATURES = ["lep1_pt", "met", "mll", "n_jets"]
HISTORY = {"train_loss": [0.6], "validation_loss": [0.6], "learning_rate": [0.1], "seconds": [0.1]}


def make_model(folder, *, activation="sigmoid", output="sigmoid", n_outputs=1, task="classification", seed=3):
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
    save_trained(folder, mlp, info=info, model_config={}, loss="cross_entropy", history=HISTORY)
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
