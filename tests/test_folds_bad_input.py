"""Bad k-fold input: one-line errors that name the config key, exit status 1, and no output written."""

from __future__ import annotations

import pytest
import yaml
from test_io_apply import make_events, write_tree
from test_folds_round_trip import kfold_config

from hepmlp.cli import main
from hepmlp.config import configured_model, validate_config
from hepmlp.errors import UserError


@pytest.fixture
def ntuples(tmp_path):
    signal, background = make_events(300, seed=31), make_events(300, seed=32)
    signal["event"] = (signal["event"] // 2) * 2  # even event numbers only: with k = 2, fold 1 has no signal
    background["event"] = background["event"] + 5 * 10**9
    write_tree(tmp_path / "hww_0.root", signal)
    write_tree(tmp_path / "ww_0.root", background)
    return tmp_path


def run_dataset(tmp_path, config, capsys) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    outdir = tmp_path / "out" / "dataset"
    status = main(["dataset", "--config", str(path), "--outdir", str(outdir)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 1
    assert not outdir.exists() or not any(outdir.iterdir()), "no output may be written"
    assert "Traceback" not in error
    return error


@pytest.mark.parametrize("fold_by, fragment", [
    ("event - 100000000000000", "config key split.fold_by: sample 'hww': the value is negative"),
    ("event / 2", "config key split.fold_by: 'event / 2' uses '/', which is not an integer operation"),
    ("MET_pt", "config key split.fold_by: branch 'MET_pt' holds"),
    ("run", "config key split.fold_by: 'run' reads branch(es) run, which tree 'Events' of sample 'hww'"),
])
def test_bad_fold_by(ntuples, capsys, fold_by, fragment):
    error = run_dataset(ntuples, kfold_config(ntuples, fold_by=fold_by), capsys)
    assert fragment in error, error


def test_a_fold_without_signal(ntuples, capsys):
    error = run_dataset(ntuples, kfold_config(ntuples, folds=2), capsys)
    assert "split.folds / split.fold_by: fold 1 of 2 holds no 'signal' events" in error, error


def test_fewer_than_two_folds(ntuples, tmp_path, capsys):
    from hepmlp.data.dataset import build_classification_dataset

    error = run_dataset(ntuples, kfold_config(ntuples, folds=1), capsys)
    assert "config key split.folds: 1 is less than the minimum of 2" in error, error
    with pytest.raises(UserError, match="config key split.folds: 1 is less than the minimum of 2"):
        validate_config(kfold_config(ntuples, folds=1))
    config = kfold_config(ntuples)
    config["split"]["folds"] = 1  # past the schema (a notebook's dict): the boundary validates it too
    with pytest.raises(UserError, match="config key split.folds: 1 is less than the minimum of 2"):
        build_classification_dataset(config, tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()


def test_fold_option_must_match_the_dataset(ntuples, tmp_path, capsys):
    from hepmlp.data.dataset import build_classification_dataset
    from hepmlp.stages.classify import train_classifier

    config = kfold_config(ntuples, folds=3)
    dataset = tmp_path / "dataset"
    build_classification_dataset(config, dataset)
    with pytest.raises(UserError, match="is split into 3 folds .* pass --fold 0 .. 2"):
        train_classifier(configured_model(config, "classification", "small"), dataset, tmp_path / "model", progress=False)
    with pytest.raises(UserError, match="--fold 3: the dataset has split.folds = 3 folds, numbered 0 .. 2"):
        train_classifier(configured_model(config, "classification", "small"), dataset, tmp_path / "model", fold=3, progress=False)
    assert not (tmp_path / "model").exists()
