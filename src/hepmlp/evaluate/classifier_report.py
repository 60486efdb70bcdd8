"""``hepmlp evaluate-classifier``: metrics.json and every figure of one trained classifier.

Reads the model folder (``hepmlp.io.model_files.load_trained``) and the
dataset's train and test splits, scores both, and writes, all-or-nothing,

- ``MODEL/metrics.json``: flat, keys documented in ``classifier_metrics``;
- ``MODEL/plots/<stem>.<format>`` for every stem of ``plot_stems(classes)``.

Metrics and figures use the physical ``weight`` column (normalised to the
luminosity by the dataset stage); the significance scales the test-set
weights by ``yield_scale`` so that yields refer to the full luminosity.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.data.store import feature_matrix, read_info, read_split
from hepmlp.errors import UserError
from hepmlp.evaluate import metrics
from hepmlp.evaluate.classifier_metrics import (
    ClassifierDetails,
    ScoredSplit,
    binary_metrics,
    multiclass_metrics,
    training_metrics,
)
from hepmlp.evaluate.distribution_plots import ScorePanel, WeightedSample, plot_train_test, plot_train_test_panels
from hepmlp.evaluate.history_plots import plot_loss_history
from hepmlp.evaluate.input_plots import plot_feature_ranking
from hepmlp.evaluate.roc_plots import plot_rejection, plot_roc
from hepmlp.evaluate.selection_plots import plot_confusion_matrix, plot_significance
from hepmlp.output_values import jsonable
from hepmlp.outputs import atomic_outputs

METRICS_FILE = "metrics.json"
PLOTS_DIR = "plots"
WEIGHT_COLUMN = "weight"
SIGNIFICANCE_CUTS = np.round(np.linspace(0.0, 1.0, 201), 6)
IMPORTANCE_REPEATS = 3
IMPORTANCE_SEED = 1
COMMON_STEMS = ("roc", "roc_rejection", "score_distribution", "loss_history", "feature_ranking")


def plot_stems(classes: Sequence[str]) -> list[str]:
    """The figure names (without extension) ``evaluate-classifier`` writes into ``plots/``.

    Binary: the common figures + ``significance``.  Multi-class: the common
    figures + ``confusion_matrix``, + ``significance`` when a class is named
    ``signal``.
    """
    stems = list(COMMON_STEMS)
    if len(classes) == 2:
        return stems + ["significance"]
    stems.append("confusion_matrix")
    if "signal" in classes:
        stems.append("significance")
    return stems


def plot_settings(config: dict) -> tuple[tuple[str, ...], int]:
    """``(formats, bins)`` from the config's ``plots`` section (defaults png+pdf, 40)."""
    plots = config.get("plots") or {}
    return tuple(plots.get("formats") or ("png", "pdf")), int(plots.get("bins") or 40)


def yield_scale(frames: dict[str, pd.DataFrame], info: dict | None = None) -> np.ndarray:
    """Per-test-event factor that turns test-set weights into full-luminosity yields.

    Each sample's test weights are scaled by Σ_{all splits} w / Σ_{test} w of
    that sample, i.e. the test set stands for the whole sample (the
    ``weight`` column is normalised over all splits together).

    With ``weights.negative: drop_in_training`` (in the dataset ``info``) the
    train and validation splits lack their negative-weight events, so their
    weights no longer add up to the sample's yield; the factor is then the
    event-count ratio N_sample / N_test (N_sample = selected events kept
    after the NaN/inf policy, from ``info["samples"]``), which the split
    makes an unbiased estimate.
    """
    test = frames["test"]
    scale = np.ones(len(test))
    if "sample" not in test.columns:
        return scale
    samples = (info or {}).get("samples") or {}
    by_count = ((info or {}).get("weights") or {}).get("negative") == "drop_in_training"
    totals = pd.concat([frame.groupby("sample")[WEIGHT_COLUMN].sum() for frame in frames.values()], axis=1).sum(axis=1)
    test_sums = test.groupby("sample")[WEIGHT_COLUMN].sum()
    for sample, test_sum in test_sums.items():
        rows = (test["sample"] == sample).to_numpy()
        if by_count and "n_selected" in samples.get(sample, {}):
            entry = samples[sample]
            scale[rows] = (entry["n_selected"] - entry.get("n_dropped_nonfinite", 0)) / np.count_nonzero(rows)
        elif test_sum != 0:
            scale[rows] = totals[sample] / test_sum
    return scale


def check_model_against_dataset(model, info: dict, model_dir: Path, dataset_dir: Path) -> None:
    """``UserError`` unless ``model`` is a classifier trained on the classes of the dataset ``info``."""
    if model.task != "classification":
        raise UserError(f"{model_dir} holds a {model.task} model; evaluate-classifier needs a classifier")
    if list(model.classes) != list(info["classes"]):
        raise UserError(
            f"{model_dir} was trained on classes {model.classes} but {dataset_dir} has classes "
            f"{info['classes']}; retrain the model on this dataset"
        )


def read_frames(dataset_dir: Path, splits: Sequence[str] = ("train", "validation", "test")) -> dict[str, pd.DataFrame]:
    """The dataset's splits as DataFrames; ``UserError`` if ``label`` or ``weight`` is missing."""
    frames = {}
    for split in splits:
        frame = read_split(dataset_dir, split)
        if WEIGHT_COLUMN not in frame.columns or "label" not in frame.columns:
            raise UserError(f"{dataset_dir / (split + '.parquet')} lacks 'label' or 'weight'; rebuild the dataset")
        frames[split] = frame
    return frames


def score_frames(score_function, features: Sequence[str], frames: dict[str, pd.DataFrame], *,
                 n_outputs: int) -> dict[str, ScoredSplit]:
    """Each split's ``ScoredSplit``: ``score_function`` applied to its raw ``features``."""
    scored = {}
    for split, frame in frames.items():
        if len(frame):
            scores = score_function(feature_matrix(frame, list(features)))
        else:
            scores = np.empty((0, n_outputs) if n_outputs > 1 else (0,))
        scored[split] = ScoredSplit(
            scores=np.asarray(scores, dtype=np.float64),
            labels=frame["label"].to_numpy(dtype=np.int64),
            weights=frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64),
        )
    return scored


def check_classes_present(scored: dict[str, ScoredSplit], n_classes: int, dataset_dir: Path) -> None:
    """``UserError`` unless the train and test splits hold events of every class."""
    for split in ("train", "test"):
        present = set(np.unique(scored[split].labels).tolist())
        if len(present) < n_classes:
            raise UserError(
                f"the {split} split of {dataset_dir} holds only class index(es) {sorted(present)} of "
                f"{n_classes}; an evaluation needs every class there: enlarge the samples or change the split"
            )


def score_metrics(classes: Sequence[str], frames, scored, info: dict | None = None) -> tuple[dict, ClassifierDetails]:
    """The score-based metrics (no training keys) and the curves behind them; ``info``: dataset.json."""
    classes = list(classes)
    scale = yield_scale(frames, info)
    if len(classes) == 2:
        return binary_metrics(scored["train"], scored["test"], yield_scale=scale, cuts=SIGNIFICANCE_CUTS)
    return multiclass_metrics(scored["train"], scored["test"], classes, yield_scale=scale, cuts=SIGNIFICANCE_CUTS)


def compute_metrics(model, info: dict, frames, scored) -> tuple[dict, ClassifierDetails]:
    """The flat metrics dict of a hepmlp model and the curves behind it (see ``classifier_metrics``)."""
    values, details = score_metrics(info["classes"], frames, scored, info)
    values.update(training_metrics(model.history, model.mlp.n_params))
    return values, details


def _class_samples(split: ScoredSplit, classes: Sequence[str], column: int | None) -> dict[str, WeightedSample]:
    return {name: WeightedSample(*split.select(split.labels == index, column)) for index, name in enumerate(classes)}


def _score_figures(plots: Path, classes, scored, details: ClassifierDetails, bins: np.ndarray, formats) -> None:
    train, test = scored["train"], scored["test"]
    if len(classes) == 2:
        test_curve, train_curve = {"": details.roc_test[""]}, {"": details.roc_train[""]}
        plot_roc(test_curve, plots / "roc", reference_curves=train_curve, formats=formats)
        plot_rejection(test_curve, plots / "roc_rejection", reference_curves=train_curve, formats=formats)
        pvalues = details.ks_pvalues[""]
        plot_train_test(
            _class_samples(test, classes, None), _class_samples(train, classes, None), plots / "score_distribution",
            bins=bins, ks_pvalues={classes[1]: pvalues["signal"], classes[0]: pvalues["background"]},
            formats=formats,
        )
    else:
        roc_test = {name: details.roc_test[name] for name in classes}
        roc_train = {name: details.roc_train[name] for name in classes}
        plot_roc(roc_test, plots / "roc", reference_curves=roc_train, title="one vs rest",
                 formats=formats)
        plot_rejection(roc_test, plots / "roc_rejection", reference_curves=roc_train,
                       title="one vs rest", formats=formats)
        panels = [
            ScorePanel(_class_samples(test, classes, index), _class_samples(train, classes, index),
                       details.ks_pvalues[name], f"Score of class {name}")
            for index, name in enumerate(classes)
        ]
        plot_train_test_panels(panels, plots / "score_distribution", bins=bins, formats=formats)
        plot_confusion_matrix(details.confusion, classes, plots / "confusion_matrix", formats=formats)


def _ranking_figure(plots: Path, model, frames, scored, formats) -> None:
    """Permutation importance of each feature on the test set (``feature_ranking``)."""
    test = scored["test"]
    X_test = feature_matrix(frames["test"], list(model.features))
    if model.n_outputs == 1:
        importance = metrics.permutation_importance(
            model.score, X_test, test.labels == 1, test.weights, n_repeats=IMPORTANCE_REPEATS, seed=IMPORTANCE_SEED
        )
        label = "AUC"
    else:
        importance = metrics.permutation_importance(
            model.score, X_test, test.labels, test.weights, metric=metrics.mean_one_vs_rest_auc,
            n_repeats=IMPORTANCE_REPEATS, seed=IMPORTANCE_SEED,
        )
        label = "Mean one-vs-rest AUC"
    plot_feature_ranking(model.features, importance, plots / "feature_ranking", metric_label=label, formats=formats)


def write_classifier_report(model, info: dict, frames, scored, values: dict, details: ClassifierDetails,
                            plots: Path, *, config: dict) -> None:
    """Draw every figure of ``plot_stems`` into the folder ``plots``."""
    formats, bins_count = plot_settings(config)
    classes = list(info["classes"])
    plots.mkdir(parents=True, exist_ok=True)
    bins = np.linspace(0.0, 1.0, bins_count + 1)
    _score_figures(plots, classes, scored, details, bins, formats)
    plot_loss_history(model.history, plots / "loss_history", best_epoch=values.get("best_epoch"),
                      loss_label="Cross-entropy loss", title=model.name, formats=formats)
    if details.significance is not None:
        luminosity = (config.get("classification") or {}).get("luminosity") or info.get("luminosity")
        xlabel = "Cut on classifier output" if len(classes) == 2 else "Cut on the signal score"
        plot_significance(details.significance, plots / "significance", luminosity=luminosity, xlabel=xlabel,
                          formats=formats)
    _ranking_figure(plots, model, frames, scored, formats)


def evaluate_classifier(config: dict, model_dir: str | os.PathLike, dataset_dir: str | os.PathLike, *,
                        progress: bool = True) -> dict:
    """Write ``model_dir/metrics.json`` and ``model_dir/plots/``; return the metrics."""
    from hepmlp.io.model_files import load_trained

    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    model = load_trained(model_dir)
    info = read_info(dataset_dir)
    check_model_against_dataset(model, info, model_dir, dataset_dir)
    frames = read_frames(dataset_dir)
    scored = score_frames(model.score, model.features, frames, n_outputs=model.n_outputs)
    check_classes_present(scored, len(info["classes"]), dataset_dir)
    if progress:
        sizes = ", ".join(f"{len(frame)} {split}" for split, frame in frames.items())
        print(f"evaluate-classifier {model.name}: scored {sizes} events", file=sys.stderr)
    values, details = compute_metrics(model, info, frames, scored)
    values = jsonable(values)
    with atomic_outputs(model_dir / METRICS_FILE, model_dir / PLOTS_DIR) as (metrics_tmp, plots_tmp):
        write_classifier_report(model, info, frames, scored, values, details, plots_tmp, config=config)
        metrics_tmp.write_text(json.dumps(values, indent=2, allow_nan=False) + "\n")
    if progress:
        shown = {key: values[key] for key in ("auc_test", "auc_train", "auc_test_macro") if values.get(key) is not None}
        print(f"evaluate-classifier {model.name}: " + ", ".join(f"{k} = {v:.4f}" for k, v in shown.items()),
              file=sys.stderr)
    return values


