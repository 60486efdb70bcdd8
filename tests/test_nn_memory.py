"""The memory estimate of training and the refusal before allocating (issue 17, case 4).

``hidden: [100000, 100000]`` once ended in numpy's ``_ArrayMemoryError``
traceback (74.5 GiB for one weight matrix).  Nothing here allocates more than
a few kB: the refusals happen before the network is built.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from test_train_classifier import CONFIG, REPO, TINY_MODEL, write_dataset

from hepmlp.cli import main
from hepmlp.config import configured_model, model_spec
from hepmlp.errors import UserError
from hepmlp.nn import MLP

HUGE = {**TINY_MODEL, "hidden": [100000, 100000], "optimizer": {"name": "gd", "learning_rate": 0.1}}


def test_estimate_by_hand_for_a_small_network():
    from hepmlp.nn.memory import n_parameters, training_bytes

    # layers 3 -> 4 -> 1: P = (3+1)*4 + (4+1)*1 = 21; largest W has 12 values
    parts = training_bytes((3, 4, 1), n_train=10, batch_size=5, optimizer="momentum")
    assert n_parameters((3, 4, 1)) == 21
    assert parts["parameters"] == 2 * 21 * 8 + 12 * 8
    assert parts["optimizer state"] == 21 * 8
    # batch of 5: z, y, dL/dz of 5 units and a scratch of 4, plus ones; the shuffled copy of 10 x (3 + 1 + 1)
    assert parts["work buffers of one batch"] == 5 * (3 * 5 + 4 + 1) * 8 + 10 * 5 * 8
    assert parts["Hessian (newton)"] == 0
    float32 = training_bytes((3, 4, 1), n_train=10, batch_size=5, optimizer="adam", dtype="float32", keep_best=True)
    assert float32["parameters"] == 3 * 21 * 4 + 12 * 8 and float32["optimizer state"] == 3 * 21 * 4


def test_newton_counts_the_hessian_in_float64():
    from hepmlp.nn.memory import n_parameters, training_bytes

    parts = training_bytes((2, 3, 1), n_train=4, batch_size=None, optimizer="newton", dtype="float32")
    P = n_parameters((2, 3, 1))
    assert parts["Hessian (newton)"] >= 3 * P * P * 8
    assert parts["optimizer state"] == P * 8
    assert parts["work buffers of one batch"] == 4 * (3 * 4 + 3 + 1) * 4   # full batch: n_b = n_train


@pytest.mark.parametrize("layers, batch", [((5, 7, 3, 1), 16), ((4, 6, 3), 9)])
def test_work_buffer_formula_matches_what_the_network_allocates(layers, batch):
    """The z, y, dL/dz and scratch buffers of one batch, counted from the network itself."""
    from hepmlp.nn.memory import training_bytes

    model = MLP(layers[0], hidden=layers[1:-1], n_outputs=layers[-1], output="sigmoid" if layers[-1] == 1 else "softmax")
    X = np.random.default_rng(0).normal(size=(batch, layers[0]))
    y = np.eye(layers[-1])[np.arange(batch) % layers[-1]] if layers[-1] > 1 else np.arange(batch) % 2
    model.loss_and_gradient(X, y, "cross_entropy")
    (workspace,) = model._workspaces.values()
    allocated = sum(array.nbytes for group in (workspace.pre_activations, workspace.activations,
                                               workspace.deltas, workspace.scratch) for array in group)
    allocated += workspace.ones.nbytes
    full_batch = training_bytes(layers, n_train=batch, batch_size=None)
    assert full_batch["work buffers of one batch"] == allocated
    assert full_batch["parameters"] == 2 * model._params.nbytes + 8 * max(W.size for W in model.weights)


def test_no_overflow_for_absurd_networks():
    from hepmlp.nn.memory import format_bytes, training_bytes

    parts = training_bytes((8, 100000, 100000, 1), n_train=1000, optimizer="newton", batch_size=None)
    assert parts["Hessian (newton)"] > 10**20   # Python integers, not int64
    assert format_bytes(parts["parameters"]) == "223.5 GiB"
    assert format_bytes(512) == "512 B" and format_bytes(1536) == "1.5 KiB"


def test_huge_network_is_refused_with_estimate_availability_and_key(tmp_path):
    from hepmlp.stages.classify import train_classifier

    dataset = write_dataset(tmp_path / "dataset")
    config = {"classification": {"models": {"huge": HUGE}}}
    with pytest.raises(UserError) as error:
        train_classifier(configured_model(config, "classification", "huge"), dataset, tmp_path / "out",
                         progress=False, mem_mb=2000)
    message = str(error.value)
    for fragment in ("training classification.models.huge (layers [3, 100000, 100000, 1], 300 events)",
                     "(parameters 223.5 GiB, work buffers", "are available (the job's mem_mb = 2000",
                     "classification.models.huge.hidden", "--set-resources train_classifier:mem_mb"):
        assert fragment in message, message
    assert not (tmp_path / "out").exists()


def test_without_mem_mb_the_machine_is_the_limit(tmp_path, capsys):
    dataset = write_dataset(tmp_path / "dataset")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["classification"]["models"]["huge"] = HUGE
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    arguments = ["train-classifier", "--config", str(config_path), "--model", "huge", "--dataset", str(dataset),
                 "--outdir", str(tmp_path / "out")]
    assert main(arguments) == 1
    message = capsys.readouterr().err
    assert message.startswith("hepmlp train-classifier: error: training classification.models.huge")
    assert "(MemAvailable of this machine)" in message or "(the machine's physical memory)" in message
    assert "Traceback" not in message


def test_large_batch_points_at_the_batch_size(tmp_path):
    from hepmlp.stages.memory_check import check_training_memory

    model = {**TINY_MODEL, "hidden": [64, 64], "training": {**TINY_MODEL["training"], "batch_size": None}}
    with pytest.raises(UserError, match=r"the largest part is the work buffers of one batch: use a smaller "
                                        r"regression\.models\.calo\.training\.batch_size"):
        check_training_memory(model_spec(model), key="regression.models.calo", rule="train_regressor", n_inputs=7,
                              n_outputs=1, n_train=10_000_000, n_validation=0, available=(2 * 2**30, "test"))
    parts = check_training_memory(configured_model(CONFIG, "classification", "tiny"), key="k", rule="r", n_inputs=3,
                                  n_outputs=1, n_train=300, n_validation=100, available=(2**20, "test"))
    assert sum(parts.values()) < 2**20


def test_regressor_checks_memory_too(tmp_path):
    from hepmlp.stages import regress

    class Split:
        X = np.zeros((50, 7))
        target = np.linspace(1.0, 2.0, 50)
        training_weight = np.ones(50)
        truth = target
        raw = np.ones(50)

    info = {"standardisation": {"mean": [0.0] * 7, "std": [1.0] * 7}, "target": "energy", "features": list("abcdefg")}
    with pytest.raises(UserError, match=r"training regression\.models\.calo .* needs an estimated"):
        regress.train_regression_model(model_spec(HUGE, name="calo"), info, Split(), None, mem_mb=1000)
