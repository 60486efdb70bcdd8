"""``hepmlp evaluate-classifier``: metrics.json and every figure of one trained classifier.

Evaluates the model folder (one model, or k fold models) with
``hepmlp.evaluate.evaluation.evaluate_model`` -- on the test split, or on
every event's out-of-fold score -- and writes, all-or-nothing,

- ``MODEL/metrics.json``: flat, keys documented in ``classifier_metrics``
  and, for k folds, ``evaluation_metrics``;
- ``MODEL/evaluation.parquet``: the evaluation table (score, label, class,
  weight, yield_weight, sample, event, fold per evaluated event);
- ``MODEL/plots/<stem>.<format>`` for every stem of ``plot_stems(classes)``.

Metrics and figures use the physical ``weight`` column (normalised to the
luminosity by the dataset stage); the significance uses ``yield_weight``
so that yields refer to the full luminosity.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hepmlp.data.store import read_info
from hepmlp.evaluate import metrics
from hepmlp.evaluate.classifier_metrics import ClassifierDetails, ScoredSplit, training_metrics
from hepmlp.evaluate.distribution_plots import ScorePanel, WeightedSample, plot_train_test, plot_train_test_panels
from hepmlp.evaluate.evaluation import Evaluation, evaluate_model
from hepmlp.evaluate.evaluation_metrics import SIGNIFICANCE_CUTS, evaluation_metrics  # noqa: F401
from hepmlp.evaluate.evaluation_metrics import score_metrics as split_score_metrics
from hepmlp.evaluate.history_plots import plot_loss_comparison, plot_loss_history
from hepmlp.evaluate.input_plots import plot_feature_ranking
from hepmlp.evaluate.roc_plots import plot_rejection, plot_roc
from hepmlp.evaluate.selection_plots import plot_confusion_matrix, plot_significance
from hepmlp.evaluate.scoring import (  # noqa: F401  (re-exported: the comparison and tests use them from here)
    WEIGHT_COLUMN,
    check_classes_present,
    check_model_against_dataset,
    read_frames,
    score_frames,
    yield_scale,
)
from hepmlp.output_values import jsonable
from hepmlp.outputs import atomic_outputs

METRICS_FILE = "metrics.json"
EVALUATION_FILE = "evaluation.parquet"
PLOTS_DIR = "plots"
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


def score_metrics(classes: Sequence[str], frames, scored, info: dict | None = None) -> tuple[dict, ClassifierDetails]:
    """The score-based metrics (no training keys) of scored train/test splits; ``info``: dataset.json."""
    return split_score_metrics(list(classes), scored["train"], scored["test"], yield_scale(frames, info))


def compute_metrics(model, info: dict, frames, scored) -> tuple[dict, ClassifierDetails]:
    """The flat metrics dict of a hepmlp model and the curves behind it (see ``classifier_metrics``)."""
    values, details = score_metrics(info["classes"], frames, scored, info)
    values.update(training_metrics(model.history, model.mlp.n_params))
    return values, details


def _class_samples(split: ScoredSplit, classes: Sequence[str], column: int | None) -> dict[str, WeightedSample]:
    return {name: WeightedSample(*split.select(split.labels == index, column)) for index, name in enumerate(classes)}


def _score_figures(plots: Path, classes, evaluation: Evaluation, details: ClassifierDetails, bins: np.ndarray,
                   formats) -> None:
    train, test = evaluation.train, evaluation.test
    test_label = "out-of-fold" if evaluation.kfold else "test"
    if len(classes) == 2:
        test_curve, train_curve = {"": details.roc_test[""]}, {"": details.roc_train[""]}
        plot_roc(test_curve, plots / "roc", reference_curves=train_curve, formats=formats,
                 **({"title": "every event, out-of-fold"} if evaluation.kfold else {}))
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
        plot_roc(roc_test, plots / "roc", reference_curves=roc_train, title=f"one vs rest ({test_label})",
                 formats=formats)
        plot_rejection(roc_test, plots / "roc_rejection", reference_curves=roc_train,
                       title=f"one vs rest ({test_label})", formats=formats)
        panels = [
            ScorePanel(_class_samples(test, classes, index), _class_samples(train, classes, index),
                       details.ks_pvalues[name], f"Score of class {name}")
            for index, name in enumerate(classes)
        ]
        plot_train_test_panels(panels, plots / "score_distribution", bins=bins, formats=formats)
        plot_confusion_matrix(details.confusion, classes, plots / "confusion_matrix", formats=formats)


def _ranking_figure(plots: Path, evaluation: Evaluation, formats) -> None:
    """Permutation importance of each feature on the evaluated events (``feature_ranking``)."""
    test = evaluation.test
    if len(evaluation.classes) == 2:
        importance = metrics.permutation_importance(
            evaluation.score, evaluation.X, test.labels == 1, test.weights, n_repeats=IMPORTANCE_REPEATS,
            seed=IMPORTANCE_SEED,
        )
        label = "AUC"
    else:
        importance = metrics.permutation_importance(
            evaluation.score, evaluation.X, test.labels, test.weights, metric=metrics.mean_one_vs_rest_auc,
            n_repeats=IMPORTANCE_REPEATS, seed=IMPORTANCE_SEED,
        )
        label = "Mean one-vs-rest AUC"
    plot_feature_ranking(evaluation.features, importance, plots / "feature_ranking", metric_label=label,
                         formats=formats)


def write_classifier_report(evaluation: Evaluation, values: dict, details: ClassifierDetails, plots: Path, *,
                            config: dict, luminosity: float | None = None) -> None:
    """Draw every figure of ``plot_stems`` into the folder ``plots``.

    ``loss_history``: one model's train and validation loss with its learning
    rate, or every fold model's losses in one figure.
    """
    formats, bins_count = plot_settings(config)
    classes = evaluation.classes
    plots.mkdir(parents=True, exist_ok=True)
    bins = np.linspace(0.0, 1.0, bins_count + 1)
    _score_figures(plots, classes, evaluation, details, bins, formats)
    if evaluation.kfold:
        plot_loss_comparison(evaluation.histories, plots / "loss_history", against="epoch",
                             loss_label="Cross-entropy loss", formats=formats)
    else:
        plot_loss_history(evaluation.histories[""], plots / "loss_history", best_epoch=values.get("best_epoch"),
                          loss_label="Cross-entropy loss", title=evaluation.name, formats=formats)
    if details.significance is not None:
        luminosity = (config.get("classification") or {}).get("luminosity") or luminosity
        xlabel = "Cut on classifier output" if len(classes) == 2 else "Cut on the signal score"
        plot_significance(details.significance, plots / "significance", luminosity=luminosity, xlabel=xlabel,
                          formats=formats)
    _ranking_figure(plots, evaluation, formats)


def evaluate_classifier(config: dict, model_dir: str | os.PathLike, dataset_dir: str | os.PathLike, *,
                        progress: bool = True) -> dict:
    """Write ``model_dir/metrics.json``, ``model_dir/evaluation.parquet`` and ``model_dir/plots/``; return the metrics."""
    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    evaluation = evaluate_model(model_dir, dataset_dir)
    if progress:
        what = "every event out-of-fold" if evaluation.kfold else "the test split"
        print(f"evaluate-classifier {evaluation.name}: scored {len(evaluation.table)} events ({what})",
              file=sys.stderr)
    values, details = evaluation_metrics(evaluation)
    values = jsonable(values)
    info = read_info(dataset_dir)
    paths = (model_dir / METRICS_FILE, model_dir / EVALUATION_FILE, model_dir / PLOTS_DIR)
    with atomic_outputs(*paths) as (metrics_tmp, table_tmp, plots_tmp):
        write_classifier_report(evaluation, values, details, plots_tmp, config=config,
                                luminosity=info.get("luminosity"))
        evaluation.table.to_parquet(table_tmp, index=False)
        metrics_tmp.write_text(json.dumps(values, indent=2, allow_nan=False) + "\n")
    if progress:
        keys = ("auc_test", "auc_train", "auc_test_macro", "auc_folds_mean", "auc_folds_std")
        shown = {key: values[key] for key in keys if values.get(key) is not None}
        print(f"evaluate-classifier {evaluation.name}: " + ", ".join(f"{k} = {v:.4f}" for k, v in shown.items()),
              file=sys.stderr)
    return values
