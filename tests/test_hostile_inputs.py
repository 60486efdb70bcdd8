"""Hostile inputs and faults (issue 17): each case once ended badly and is kept here.

1. an edited ``model.json`` gave silently different scores;
2. a literal and a branch shared a key of the expression cache;
3. an index literal of 4,301 digits raised a traceback;
7. Ctrl-C during start-up printed a traceback; a killed save left its
   ``.partial-PID`` file for good;
8. (in part) a wrong tree in ``hepmlp apply`` told the user to set a sample's tree.

Cases 4 (memory), 5 (zero split fractions), 6 (errors under Snakemake) and the
dataset messages of 8 live next to the stages they concern:
``test_nn_memory.py``, ``test_data_dataset.py`` and ``test_workflow_errors.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import uproot

from hepmlp import cli
from hepmlp.cli import main
from hepmlp.data.expressions import parse
from hepmlp.errors import UserError
from hepmlp.io.model_files import load_trained, save_trained
from hepmlp.nn import MLP

FEATURES = ["a", "b", "c"]
HISTORY = {"train_loss": [0.6], "validation_loss": [0.6], "learning_rate": [0.1], "seconds": [0.1]}


# --------------------------------------------------------------------------- case 1
@pytest.fixture
def model_and_input(tmp_path):
    """A trained-model folder over branches a, b, c (tanh network) and a tree of 200 events."""
    rng = np.random.default_rng(5)
    mlp = MLP(3, hidden=(4,), activation="tanh", seed=2)
    info = {
        "features": FEATURES,
        "expressions": {"a": "a", "b": "b * 2", "c": "c"},
        "standardisation": {"mean": [0.5, -1.0, 2.0], "std": [1.0, 2.0, 0.5]},
        "classes": ["background", "signal"],
        "task": "classification",
    }
    folder = tmp_path / "model"
    save_trained(folder, mlp, info=info, model_config={"hidden": [4]}, loss="cross_entropy", history=HISTORY)
    events = {name: rng.normal(size=200) for name in FEATURES}
    ntuple = tmp_path / "events.root"
    with uproot.recreate(ntuple) as handle:
        handle.mktree("Events", {name: "f8" for name in FEATURES})
        handle["Events"].extend(events)
    return folder, ntuple


def tamper(folder, change):
    """Edit model.json by hand, as a user would (no re-sealing)."""
    path = folder / "model.json"
    description = json.loads(path.read_text())
    change(description)
    path.write_text(json.dumps(description, indent=2))


def swap_features(description):
    description["features"][0], description["features"][1] = description["features"][1], description["features"][0]


EDITS = {
    "swapped feature names": swap_features,
    "changed expression": lambda d: d["expressions"].update(b="b * 3"),
    "changed transform": lambda d: d["transforms"][0].update(name="normalise"),
    "changed activation": lambda d: d["architecture"].update(activation="sigmoid"),
    "changed model config": lambda d: d["model_config"].update(hidden=[5]),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_edited_model_json_is_refused_by_load_apply_and_export(model_and_input, tmp_path, capsys, edit):
    folder, ntuple = model_and_input
    untouched = tmp_path / "untouched.root"
    assert main(["apply", "--model", str(folder), "--input", str(ntuple), "--output", str(untouched)]) == 0
    assert uproot.open(untouched)["Scores"].num_entries == 200
    tamper(folder, EDITS[edit])
    with pytest.raises(UserError, match=r"model\.json was changed after the model was saved"):
        load_trained(folder)
    output = tmp_path / "scores.root"
    assert main(["apply", "--model", str(folder), "--input", str(ntuple), "--output", str(output)]) == 1
    assert "model.json was changed after the model was saved" in capsys.readouterr().err
    assert not output.exists()
    onnx = tmp_path / "model.onnx"
    assert main(["export-onnx", "--model", str(folder), "--output", str(onnx)]) == 1
    message = capsys.readouterr().err
    assert message.startswith("hepmlp export-onnx: error: ") and "restore the original file or retrain" in message
    assert "Traceback" not in message and not onnx.exists()


def test_reformatted_model_json_still_loads(model_and_input):
    """Only the content is sealed: re-indenting or reordering keys is no edit."""
    folder, _ = model_and_input
    path = folder / "model.json"
    description = json.loads(path.read_text())
    path.write_text(json.dumps(dict(reversed(list(description.items()))), indent=7))
    assert load_trained(folder).features == FEATURES


def test_model_json_without_seal_is_refused(model_and_input):
    folder, _ = model_and_input
    tamper(folder, lambda d: d.pop("description_sha256"))
    with pytest.raises(UserError, match=r"has no \"description_sha256\".*retrain the model"):
        load_trained(folder)


# --------------------------------------------------------------------------- case 8 (apply)
def test_wrong_tree_in_apply_names_the_option_not_a_sample(model_and_input, tmp_path, capsys):
    folder, ntuple = model_and_input
    output = tmp_path / "scores.root"
    arguments = ["apply", "--model", str(folder), "--input", str(ntuple), "--tree", "Event", "--output", str(output)]
    assert main(arguments) == 1
    message = capsys.readouterr().err
    assert "has no tree 'Event' (did you mean 'Events'?)" in message
    assert message.rstrip().endswith("pass the input tree's name with --tree")
    assert "sample" not in message and not output.exists()


# --------------------------------------------------------------------------- case 2
def test_overflowing_literal_and_branch_named_inf_do_not_share_a_value():
    result = parse("inf - 1e400").evaluate({"inf": np.array([1.0, 2.0, 3.0])}, n_events=3)
    assert np.all(np.isneginf(result))
    both = parse("inf + 1e400 + inf").evaluate({"inf": np.array([1.0, 2.0, 3.0])})
    assert np.all(np.isposinf(both))
    assert np.array_equal(parse("inf * 2 + inf").evaluate({"inf": np.array([1.0, 2.0])}), [3.0, 6.0])


# --------------------------------------------------------------------------- case 3
@pytest.mark.parametrize("digits", [4301, 10_000 - 4])
def test_index_literal_with_thousands_of_digits_is_a_user_error(digits):
    with pytest.raises(UserError, match=r"the index in x\[i\] must be at most 2147483647"):
        parse("x[1" + "0" * (digits - 1) + "]")
    with pytest.raises(UserError, match=r"must be at most"):
        parse("x[" + "9" * digits + "]")


def test_index_literal_with_leading_zeros_is_its_value():
    text = "x[" + "0" * 5000 + "2]"
    value = parse(text).evaluate({"x": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])})
    assert np.array_equal(value, [3.0, 6.0])


# --------------------------------------------------------------------------- case 7
def test_ctrl_c_while_the_stage_module_is_imported_prints_no_traceback(monkeypatch, capsys):
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.importlib, "import_module", interrupted)
    try:
        status = main(["dataset", "--config", "config.yaml"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main() during start-up (a traceback in the job log)")
    assert status == 130
    assert capsys.readouterr().err == "hepmlp dataset: interrupted\n"


def dead_pid() -> int:
    """The id of a process that has already ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_partial_files_of_a_killed_save_are_removed_on_the_next_save(model_and_input):
    folder, _ = model_and_input
    stale = [folder / f".model.npz.partial-{dead_pid()}", folder / f".model.json.partial-{dead_pid()}"]
    for path in stale:
        path.write_bytes(b"half a file")
    with subprocess.Popen(["sleep", "30"]) as running:
        alive = folder / f".model.npz.partial-{running.pid}"
        alive.write_bytes(b"being written")
        unrelated = folder / ".notes.partial-x"
        unrelated.write_text("not ours")
        previous = load_trained(folder)
        save_trained(folder, MLP(3, hidden=(4,), seed=3), info=previous.metadata, transforms=previous.transforms,
                     model_config={}, loss="cross_entropy", history=HISTORY)
        running.kill()
    assert not any(path.exists() for path in stale)
    assert alive.exists() and unrelated.exists()
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith(".")) == [
        "history.csv", "model.json", "model.npz"]


def test_remove_stale_partials_handles_folders_and_a_missing_parent(tmp_path):
    from hepmlp.outputs import remove_stale_partials

    final = tmp_path / "plots"
    leftover = tmp_path / f".plots.partial-{dead_pid()}"
    (leftover / "sub").mkdir(parents=True)
    assert remove_stale_partials(final) == [leftover] and not leftover.exists()
    assert remove_stale_partials(tmp_path / "absent" / "file.json") == []
