"""``hepmlp compare-models``: every hepmlp model and the baselines side by side.

Writes, all-or-nothing, into ``OUTDIR``:

- ``metrics.csv``: one row per classifier (hepmlp models, then the
  baselines) with ``model``, ``kind`` (``hepmlp`` or ``baseline``),
  ``description`` and the ``metrics.json`` keys (``classifier_metrics``);
- ``metrics.md``: the main columns as a Markdown table, plus the best hepmlp
  model's test AUC and its difference to the scikit-learn MLP's;
- where a class is the signal, every row also holds the physics keys
  (``hepmlp.evaluate.physics``) and the paired-bootstrap columns against the
  model with the highest pyhf significance (``hepmlp.evaluate.ranking``);
  both tables are then ordered by ``rank`` (pyhf significance, best first).
  With k folds all classifiers are evaluated on the same events in the same
  order (every event, out-of-fold), so their bootstrap resamples pair up;
- ``plots/``: ``roc`` and ``roc_rejection`` (all models and baselines, test
  set; one panel per class, one vs rest, for multi-class), ``loss_per_epoch``
  and ``loss_per_second`` (hepmlp models; the baselines have no comparable
  per-epoch loss).

Each scan's chosen point (``choice.json`` of ``summarise-scan``: the lowest
validation loss) joins as a hepmlp model named after its scan.

The baselines (``classification.baselines`` in the config) are trained here
on the same standardised train split with the same training weights (kfold:
k times, on each fold model's training and validation events); the
scikit-learn MLP copies the hidden layers and activation of the best hepmlp
model (highest test AUC; mean one-vs-rest AUC for multi-class).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.data.folds import fold_training_sets
from hepmlp.data.store import feature_matrix, is_kfold_dataset, read_events, read_info, standardise
from hepmlp.errors import UserError
from hepmlp.evaluate.baselines import TrainingData, train_baseline
from hepmlp.evaluate.classifier_metrics import mean_auc
from hepmlp.evaluate.evaluation import Evaluation, evaluate_model, fold_evaluation, split_evaluation
from hepmlp.evaluate.evaluation_metrics import evaluation_metrics
from hepmlp.evaluate.scoring import read_frames
from hepmlp.evaluate.history_plots import plot_loss_comparison
from hepmlp.evaluate.physics_report import physics_metrics
from hepmlp.evaluate.ranking import paired_comparison
from hepmlp.evaluate.roc_plots import plot_rejection, plot_roc, plot_roc_panels
from hepmlp.output_values import jsonable
from hepmlp.outputs import atomic_outputs
from hepmlp.specs import ComparisonSpec

TRAINING_WEIGHT_COLUMN = "training_weight"
PLOT_STEMS = ("roc", "roc_rejection", "loss_per_epoch", "loss_per_second")
MARKDOWN_COLUMNS = ("rank", "model", "kind", "significance_pyhf", "upper_limit_mu", "significance_asimov",
                    "significance_asimov_mcstat", "delta_significance_vs_best", "auc_test", "delta_auc_vs_best",
                    "auc_folds_mean", "auc_folds_std", "auc_train", "auc_test_macro", "accuracy_test",
                    "eff_signal_at_bkg_1pct", "eff_signal_at_bkg_10pct", "eff_signal_at_bkg_30pct",
                    "ks_pvalue_signal", "ks_pvalue_background", "max_significance", "epochs",
                    "train_seconds", "n_params")
# a column shown as "value [low, high]" when the table holds NAME_low and NAME_high; "*" marks a difference
# whose interval excludes 0
DIFFERS_COLUMNS = {"delta_auc_vs_best": "auc_differs_from_best",
                   "delta_significance_vs_best": "significance_differs_from_best"}


def _training_data(frame: pd.DataFrame, info: dict) -> TrainingData:
    if TRAINING_WEIGHT_COLUMN not in frame.columns:
        raise UserError(f"the dataset lacks the '{TRAINING_WEIGHT_COLUMN}' column; rebuild the dataset")
    X = standardise(feature_matrix(frame, list(info["features"])), info["standardisation"]["mean"],
                    info["standardisation"]["std"])
    return TrainingData(X, frame["label"].to_numpy(dtype=np.int64),
                        frame[TRAINING_WEIGHT_COLUMN].to_numpy(dtype=np.float64))


def _standardised_scorer(score, standardisation: dict):
    mean, std = standardisation["mean"], standardisation["std"]
    return lambda X_raw: score(standardise(X_raw, mean, std))


def _markdown_cell(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


def _cell(row: pd.Series, column: str) -> str:
    text = _markdown_cell(row[column])
    low, high = f"{column}_low", f"{column}_high"
    if low in row.index and high in row.index and pd.notna(row[low]) and pd.notna(row[high]):
        text += f" [{_markdown_cell(row[low])}, {_markdown_cell(row[high])}]"
    flag = DIFFERS_COLUMNS.get(column)
    if flag in row.index and pd.notna(row[flag]) and bool(row[flag]):
        text += " *"
    return text


def markdown_table(table: pd.DataFrame, columns: Sequence[str]) -> str:
    """A GitHub-flavoured Markdown table of ``columns`` (those present) of ``table``.

    A column with ``_low`` and ``_high`` companions is shown as ``value [low, high]``.
    """
    columns = [column for column in columns if column in table.columns and table[column].notna().any()]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_cell(row, column) for column in columns) + " |")
    return "\n".join(lines) + "\n"


def ranking_summary(table: pd.DataFrame, *, where: str = "test events") -> str:
    """The sentences on the ranking by pyhf significance and on which differences are significant."""
    if "rank" not in table.columns:
        return ""
    best = table.loc[table["rank"].idxmin()]
    level = float(best["bootstrap_level"])
    text = (f"Ranked by pyhf's expected discovery significance: best **{best['model']}**, "
            f"Z = {best['significance_pyhf']:.2f}, expected 95 % CL limit μ < {best['upper_limit_mu']:.3g}. "
            f"Intervals are {level:.0%} CL from {int(best['bootstrap_resamples'])} Poisson bootstrap resamples "
            f"of the {where}; Δ columns are paired differences to the best model on the same resamples "
            f"(Δ significance: the Asimov significance with the MC statistical error of each bin, "
            f"significance_asimov_mcstat, a fit-free stand-in for pyhf's), marked * where the interval excludes 0.")
    for key, label in (("auc_differs_from_best", "AUC"), ("significance_differs_from_best", "significance")):
        flags = table[key].astype(bool)
        differs = list(table.loc[flags, "model"])
        same = [model for model in table.loc[~flags, "model"] if model != best["model"]]
        text += (f" {label}: significantly below the best: {', '.join(differs) or 'none'}; "
                 f"compatible with it: {', '.join(same) or 'none'}.")
    return text


def best_model_summary(table: pd.DataFrame, ranking_column: str, *, where: str = "test set") -> str:
    """The sentence comparing the best hepmlp model with the scikit-learn MLP (``where``: the scored events)."""
    hepmlp_rows = table[table["kind"] == "hepmlp"]
    best = hepmlp_rows.loc[hepmlp_rows[ranking_column].idxmax()]
    text = f"Best hepmlp model: **{best['model']}**, {ranking_column} ({where}) = {best[ranking_column]:.4f}."
    reference = table[table["model"] == "sklearn_mlp"]
    if len(reference):
        reference_auc = float(reference[ranking_column].iloc[0])
        text += (f" scikit-learn MLP (same architecture): {reference_auc:.4f}; difference "
                 f"{best[ranking_column] - reference_auc:+.4f}.")
    return text


def _comparison_figures(plots: Path, classes: list[str], curves: dict, baselines: set[str], histories: dict,
                        formats, *, where: str = "test set") -> None:
    if len(classes) == 2:
        test_curves = {name: details.roc_test[""] for name, details in curves.items()}
        plot_roc(test_curves, plots / "roc", dashed=baselines, title=f"{where} (baselines dashed)", formats=formats)
        plot_rejection(test_curves, plots / "roc_rejection", dashed=baselines, title=f"{where} (baselines dashed)",
                       formats=formats)
    else:
        panels = {f"{cls} vs rest ({where})": {name: d.roc_test[cls] for name, d in curves.items()}
                  for cls in classes}
        plot_roc_panels(panels, plots / "roc", dashed=baselines, formats=formats)
        plot_roc_panels(panels, plots / "roc_rejection", kind="rejection", dashed=baselines, formats=formats)
    plot_loss_comparison(histories, plots / "loss_per_epoch", against="epoch", loss_label="Cross-entropy loss",
                         formats=formats)
    plot_loss_comparison(histories, plots / "loss_per_second", against="seconds", loss_label="Cross-entropy loss",
                         formats=formats)


def scan_choices(choice_files: Sequence[str | os.PathLike]) -> list[tuple[str, Path, str]]:
    """``(scan name, model folder, point)`` of each ``choice.json`` written by ``summarise-scan``."""
    choices = []
    for path in map(Path, choice_files):
        try:
            choice = json.loads(path.read_text())
            choices.append((choice["scan"], Path(choice["model_dir"]), choice["point"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path} is not a scan choice written by summarise-scan ({error}); rerun it") from None
    return choices


def _baseline_evaluation(name: str, info: dict, frames: dict | None, events: pd.DataFrame | None, *,
                         hidden, activation: str, seed: int) -> tuple[Evaluation, list]:
    """A baseline trained like the hepmlp models: on the train split, or once per fold on the same folds."""
    classes = list(info["classes"])
    n_outputs = 1 if len(classes) == 2 else len(classes)
    if events is None:
        train_data, validation_data = _training_data(frames["train"], info), _training_data(frames["validation"], info)
        result = train_baseline(name, train_data, validation_data, hidden=hidden, activation=activation, seed=seed)
        scorer = _standardised_scorer(result.score, info["standardisation"])
        return split_evaluation(name, info, frames, scorer, n_outputs=n_outputs), [result]
    results, scorers = [], []
    for fold in range(int(info["split"]["folds"])):
        train, validation, standardisation = fold_training_sets(events, info, fold)
        fold_info = {**info, "standardisation": standardisation}
        result = train_baseline(name, _training_data(train, fold_info), _training_data(validation, fold_info),
                                hidden=hidden, activation=activation, seed=seed)
        results.append(result)
        scorers.append(_standardised_scorer(result.score, standardisation))
    return fold_evaluation(name, info, events, scorers), results


def compare_models(spec: ComparisonSpec, dataset_dir: str | os.PathLike, model_dirs: Sequence[str | os.PathLike],
                   outdir: str | os.PathLike, *, scans: Sequence[str | os.PathLike] = (),
                   progress: bool = True) -> pd.DataFrame:
    """Evaluate ``model_dirs``, each scan's chosen point (``scans``: ``choice.json`` files) and the
    configured baselines; write the comparison into ``outdir``.

    With a kfold dataset every classifier is evaluated on every event's
    out-of-fold score, and each baseline is trained k times, on the folds of
    the hepmlp models.
    """
    if not model_dirs and not scans:
        raise UserError("compare-models needs at least one --models folder")
    dataset_dir, outdir = Path(dataset_dir), Path(outdir)
    info = read_info(dataset_dir)
    classes = list(info["classes"])
    kfold = is_kfold_dataset(info)
    frames = None if kfold else read_frames(dataset_dir)
    events = read_events(dataset_dir, info) if kfold else None
    rows, curves, histories, architectures, replicates = [], {}, {}, {}, {}
    named = [(None, Path(model_dir), None) for model_dir in model_dirs] + scan_choices(scans)
    for name, model_dir, point in named:
        evaluation = evaluate_model(model_dir, dataset_dir)
        name = name or evaluation.name
        values, details = evaluation_metrics(evaluation)
        physics = physics_metrics(spec.physics, evaluation, name=str(model_dir))
        if physics is not None:
            values.update(physics.values)
            replicates[name] = physics.replicates
        metadata = _first_metadata(model_dir)
        optimizer = (metadata.get("model_config") or {}).get("optimizer") or {}
        architecture = metadata["architecture"]
        description = (f"hepmlp {optimizer.get('name', '?')}, hidden {tuple(architecture['hidden'])} "
                       f"{architecture['activation']}" + (f"; scan point {point}" if point else ""))
        rows.append({"model": name, "kind": "hepmlp", "description": description, **values})
        curves[name] = details
        for label, history in evaluation.histories.items():
            histories[name if not label else f"{name} {label}"] = history
        training = (metadata.get("model_config") or {}).get("training") or {}
        architectures[name] = (architecture["hidden"], architecture["activation"], int(training.get("seed", 0)))
        if progress:
            print(f"compare-models: {name}: AUC {mean_auc(values, classes):.4f}", file=sys.stderr)
    best = max(rows, key=lambda row: mean_auc(row, classes))["model"]
    hidden, activation, seed = architectures[best]
    for name in spec.baselines:
        evaluation, results = _baseline_evaluation(name, info, frames, events, hidden=hidden,
                                                   activation=activation, seed=seed)
        values, details = evaluation_metrics(evaluation, training=False)
        physics = physics_metrics(spec.physics, evaluation, name=f"baseline {name}")
        if physics is not None:
            values.update(physics.values)
            replicates[name] = physics.replicates
        losses = [result.final_train_loss for result in results if result.final_train_loss is not None]
        values.update({"epochs": int(sum(result.epochs for result in results)),
                       "train_seconds": float(sum(result.seconds for result in results)),
                       "final_train_loss": float(np.mean(losses)) if losses else None,
                       "final_validation_loss": None, "n_params": results[0].n_params})
        rows.append({"model": name, "kind": "baseline", "description": results[0].description, **values})
        curves[name] = details
        if progress:
            print(f"compare-models: baseline {name}: AUC {mean_auc(values, classes):.4f} "
                  f"({values['train_seconds']:.1f} s, {values['epochs']} iterations, {len(results)} fits)",
                  file=sys.stderr)
    if replicates:
        by_model = {row["model"]: row for row in rows}
        for model_name, extra in paired_comparison(by_model, replicates, level=rows[0]["bootstrap_level"]).items():
            by_model[model_name].update(extra)
        rows.sort(key=lambda row: row["rank"])
    table = pd.DataFrame([jsonable(row) for row in rows])
    for column in ("epochs", "best_epoch", "n_params", "folds", "rank", "template_bins", "bootstrap_resamples"):
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    ranking_column = "auc_test" if len(classes) == 2 else "auc_test_macro"
    formats = spec.formats
    where = "every event, out-of-fold" if kfold else "test set"
    events_text = "events (every event, out-of-fold)" if kfold else "test events"
    paths = (outdir / "metrics.csv", outdir / "metrics.md", outdir / "plots")
    with atomic_outputs(*paths) as (csv_tmp, markdown_tmp, plots_tmp):
        table.to_csv(csv_tmp, index=False)
        markdown_tmp.write_text(
            f"# Classifier comparison ({where})\n\n" + markdown_table(table, MARKDOWN_COLUMNS)
            + "\n" + best_model_summary(table, ranking_column, where=where) + "\n"
            + ("\n" + ranking_summary(table, where=events_text) + "\n" if "rank" in table.columns else "")
        )
        plots_tmp.mkdir()
        baseline_names = {row["model"] for row in rows if row["kind"] == "baseline"}
        _comparison_figures(plots_tmp, classes, curves, baseline_names, histories, formats, where=where)
    if progress:
        print("compare-models: " + best_model_summary(table, ranking_column, where=where), file=sys.stderr)
        if "rank" in table.columns:
            print("compare-models: " + ranking_summary(table, where=events_text), file=sys.stderr)
    return table


def _first_metadata(model_dir: Path) -> dict:
    """``model.json`` of the model folder, or of its fold 0."""
    from hepmlp.io.fold_models import fold_dir, is_folded

    path = (fold_dir(model_dir, 0) if is_folded(model_dir) else model_dir) / "model.json"
    return json.loads(path.read_text())
