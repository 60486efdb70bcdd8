"""The README's way to load a trained model scores exactly as the pipeline does.

Runs the README's loading example as written, in the CI run's folder, and
checks that its scores give the test AUC the pipeline wrote to metrics.json;
the bare network (``MLP.load``) refuses the same folder and names the call
that scores raw features.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import REPO
from hepmlp.evaluate.metrics import roc_auc
from hepmlp.nn import MLP

pytestmark = pytest.mark.slow


def readme_block(containing: str) -> str:
    """The README's Python code block that contains ``containing``."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    matches = [block for block in blocks if containing in block]
    assert len(matches) == 1, f"expected one README python block with {containing!r}, found {len(matches)}"
    return matches[0]


def test_readme_loading_example_reproduces_the_pipeline_auc(ci_workflow, monkeypatch):
    """The CI run is k-fold: the fold models' example gives the out-of-fold AUC of metrics.json."""
    monkeypatch.chdir(ci_workflow)
    namespace: dict = {}
    exec(compile(readme_block("load_folded"), "README.md", "exec"), namespace)
    adam, events, scores = namespace["adam"], namespace["events"], namespace["scores"]
    metrics = json.loads((ci_workflow / "results" / "classification" / "adam" / "metrics.json").read_text())
    is_signal = events["label"].to_numpy() == adam.classes.index("signal")
    auc = roc_auc(scores, is_signal, events["weight"].to_numpy())
    assert auc == metrics["auc_test"]
    # The footgun it replaces: the bare network of one fold on raw features scores something else.
    bare = adam.models[0].mlp.predict(events[adam.features].to_numpy())
    assert not np.allclose(bare, scores)


@pytest.mark.parametrize("target", ["fold_0", "fold_0/model.npz"])
def test_mlp_load_refuses_the_trained_folder_of_the_pipeline(ci_workflow, target):
    folder = ci_workflow / "results" / "classification" / "adam"
    with pytest.raises(ValueError, match=r"trained model.*load_trained\(.*fold_0'\)"):
        MLP.load(folder / target)
