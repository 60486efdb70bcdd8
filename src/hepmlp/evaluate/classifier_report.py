"""``hepmlp evaluate-classifier``: metrics.json and every figure of one trained classifier.

Evaluates the model folder (one model, or k fold models) with
``hepmlp.evaluate.evaluation.evaluate_model`` -- on the test split, or on
every event's out-of-fold score -- and writes, all-or-nothing,

- ``MODEL/metrics.json``: flat, keys documented in ``classifier_metrics``
  and, for k folds, ``evaluation_metrics``, and, for the physics result,
  ``physics``;
- ``MODEL/evaluation.parquet``: the evaluation table (score, label, class,
  weight, yield_weight, sample, event, fold per evaluated event);
- ``MODEL/plots/<stem>.<format>`` for every stem of ``plot_stems(classes)``;
- where a class is the signal (binary, or a class named ``signal``):
  ``MODEL/templates.root`` (TH1D per sample and the sums,
  ``hepmlp.io.template_files``) and ``MODEL/workspace.json`` (pyhf).

Metrics and figures use the physical ``weight`` column (normalised to the
luminosity by the dataset stage); the significance, the templates and the
pyhf workspace use ``yield_weight`` so that yields refer to the full
luminosity (with k folds every event is evaluated and ``yield_weight`` =
``weight``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hepmlp.data.store import read_info
from hepmlp.evaluate import metrics
from hepmlp.evaluate.classifier_metrics import ClassifierDetails, ScoredSplit
from hepmlp.evaluate.distribution_plots import ScorePanel, WeightedSample, plot_train_test, plot_train_test_panels
from hepmlp.evaluate.evaluation import Evaluation, evaluate_model
from hepmlp.evaluate.evaluation_metrics import evaluation_metrics
from hepmlp.evaluate.history_plots import plot_loss_comparison, plot_loss_history
from hepmlp.evaluate.input_plots import plot_feature_ranking
from hepmlp.evaluate.physics import PhysicsResult
from hepmlp.evaluate.physics_report import SIGNAL_CLASS, has_signal, physics_metrics, physics_summary
from hepmlp.evaluate.roc_plots import plot_rejection, plot_roc
from hepmlp.evaluate.selection_plots import plot_confusion_matrix, plot_significance
from hepmlp.evaluate.template_plots import plot_templates
from hepmlp.io.template_files import write_templates, write_workspace
from hepmlp.output_values import jsonable
from hepmlp.outputs import atomic_outputs
from hepmlp.specs import EvaluationSpec

METRICS_FILE = "metrics.json"
EVALUATION_FILE = "evaluation.parquet"
PLOTS_DIR = "plots"
TEMPLATES_FILE = "templates.root"
WORKSPACE_FILE = "workspace.json"
IMPORTANCE_REPEATS = 3
IMPORTANCE_SEED = 1
COMMON_STEMS = ("roc", "roc_rejection", "score_distribution", "loss_history", "feature_ranking")


def plot_stems(classes: Sequence[str]) -> list[str]:
    """The figure names (without extension) ``evaluate-classifier`` writes into ``plots/``.

    Binary: the common figures + ``significance`` and ``templates``.
    Multi-class: the common figures + ``confusion_matrix``, + ``significance``
    and ``templates`` when a class is named ``signal``.
    """
    stems = list(COMMON_STEMS)
    if len(classes) != 2:
        stems.append("confusion_matrix")
    if has_signal(classes):
        stems += ["significance", "templates"]
    return stems




def _class_samples(split: ScoredSplit, classes: Sequence[str], column: int | None) -> dict[str, WeightedSample]:
    return {name: WeightedSample(*split.select(split.labels == index, column)) for index, name in enumerate(classes)}


def _band_label(physics: PhysicsResult | None) -> str:
    return f"{physics.values['bootstrap_level']:.0%} CL bootstrap" if physics else ""


def _score_figures(plots: Path, classes, evaluation: Evaluation, details: ClassifierDetails, bins: np.ndarray,
                   formats, physics: PhysicsResult | None = None) -> None:
    train, test = evaluation.train, evaluation.test
    test_label = "out-of-fold" if evaluation.kfold else "test"
    # with k folds the reference curve scores each event with a fold model that trained on it
    suffixes = {"main_suffix": test_label, "reference_suffix": "in-fold" if evaluation.kfold else "train"}
    band_label = _band_label(physics)
    if len(classes) == 2:
        test_curve, train_curve = {"": details.roc_test[""]}, {"": details.roc_train[""]}
        bands = {"": physics.roc_band} if physics else None
        plot_roc(test_curve, plots / "roc", reference_curves=train_curve, formats=formats, bands=bands, **suffixes,
                 band_label=band_label, **({"title": "every event, out-of-fold"} if evaluation.kfold else {}))
        plot_rejection(test_curve, plots / "roc_rejection", reference_curves=train_curve, formats=formats,
                       bands=bands, band_label=band_label, **suffixes)
        pvalues = details.ks_pvalues[""]
        plot_train_test(
            _class_samples(test, classes, None), _class_samples(train, classes, None), plots / "score_distribution",
            bins=bins, ks_pvalues={classes[1]: pvalues["signal"], classes[0]: pvalues["background"]},
            formats=formats,
        )
    else:
        roc_test = {name: details.roc_test[name] for name in classes}
        roc_train = {name: details.roc_train[name] for name in classes}
        bands = {SIGNAL_CLASS: physics.roc_band} if physics else None
        plot_roc(roc_test, plots / "roc", reference_curves=roc_train, title=f"one vs rest ({test_label})",
                 formats=formats, **suffixes, bands=bands, band_label=band_label)
        plot_rejection(roc_test, plots / "roc_rejection", reference_curves=roc_train,
                       title=f"one vs rest ({test_label})", formats=formats, bands=bands, band_label=band_label,
                       **suffixes)
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
                            spec: EvaluationSpec, physics: PhysicsResult | None = None) -> None:
    """Draw every figure of ``plot_stems`` into the folder ``plots``.

    ``loss_history``: one model's train and validation loss with its learning
    rate, or every fold model's losses in one figure.  ``templates``: the
    stacked templates of ``physics`` (where a class is the signal).
    """
    formats, bins_count = spec.plots.formats, spec.plots.bins
    classes = evaluation.classes
    plots.mkdir(parents=True, exist_ok=True)
    bins = np.linspace(0.0, 1.0, bins_count + 1)
    _score_figures(plots, classes, evaluation, details, bins, formats, physics)
    luminosity = spec.luminosity
    if physics is not None:
        plot_templates(physics.templates, plots / "templates", luminosity=luminosity,
                       summary=physics_summary(physics.values), formats=formats)
    if evaluation.kfold:
        plot_loss_comparison(evaluation.histories, plots / "loss_history", against="epoch",
                             loss_label="Cross-entropy loss", formats=formats)
    else:
        plot_loss_history(evaluation.histories[""], plots / "loss_history", best_epoch=values.get("best_epoch"),
                          loss_label="Cross-entropy loss", title=evaluation.name, formats=formats)
    if details.significance is not None:
        xlabel = "Cut on classifier output" if len(classes) == 2 else "Cut on the signal score"
        plot_significance(details.significance, plots / "significance", luminosity=luminosity, xlabel=xlabel,
                          formats=formats)
    _ranking_figure(plots, evaluation, formats)


def evaluate_classifier(spec: EvaluationSpec, model_dir: str | os.PathLike, dataset_dir: str | os.PathLike, *,
                        progress: bool = True) -> dict:
    """Write ``model_dir/metrics.json``, ``model_dir/evaluation.parquet`` and ``model_dir/plots/``; return the metrics."""
    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    evaluation = evaluate_model(model_dir, dataset_dir)
    if progress:
        what = "every event out-of-fold" if evaluation.kfold else "the test split"
        print(f"evaluate-classifier {evaluation.name}: scored {len(evaluation.table)} events ({what})",
              file=sys.stderr)
    values, details = evaluation_metrics(evaluation)
    start = time.perf_counter()
    physics = physics_metrics(spec.physics, evaluation, name=str(model_dir))
    if physics is not None:
        values.update(physics.values)
        if progress:
            print(f"evaluate-classifier {evaluation.name}: templates, pyhf and bootstrap took "
                  f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
    values = jsonable(values)
    outputs = [model_dir / METRICS_FILE, model_dir / EVALUATION_FILE, model_dir / PLOTS_DIR]
    if physics is not None:
        outputs += [model_dir / TEMPLATES_FILE, model_dir / WORKSPACE_FILE]
    with atomic_outputs(*outputs) as temporaries:
        metrics_tmp, table_tmp, plots_tmp = temporaries[:3]
        write_classifier_report(evaluation, values, details, plots_tmp, spec=spec, physics=physics)
        evaluation.table.to_parquet(table_tmp, index=False)
        if physics is not None:
            write_templates(temporaries[3], physics.templates, title=evaluation.name)
            write_workspace(temporaries[4], physics.workspace)
        metrics_tmp.write_text(json.dumps(values, indent=2, allow_nan=False) + "\n")
    if progress:
        keys = ("auc_test", "auc_train", "auc_test_macro", "auc_folds_mean", "auc_folds_std", "significance_asimov",
                "significance_pyhf", "upper_limit_mu")
        shown = {key: values[key] for key in keys if values.get(key) is not None}
        print(f"evaluate-classifier {evaluation.name}: " + ", ".join(f"{k} = {v:.4f}" for k, v in shown.items()),
              file=sys.stderr)
    return values
