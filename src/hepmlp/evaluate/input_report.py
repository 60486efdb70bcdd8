"""``hepmlp plot-inputs``: the input features of the classification dataset.

Writes, all-or-nothing, ``OUTDIR/plots/input_features.<format>`` (each
feature's distribution per class, normalised, with the physical event
weights) and ``OUTDIR/plots/correlations.<format>`` (the weighted correlation
matrix per class), from the training split (every event of a kfold dataset).  They depend on the dataset only,
so they are drawn once, not per model.

With ``--model DIR`` (``plot_transformed_inputs``), the figures of one
model's input transforms instead: its transformed inputs per class and the
correlation matrices before and after the transforms, per class.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from hepmlp.data.folds import fold_training_sets
from hepmlp.data.store import feature_matrix, read_events, read_info
from hepmlp.errors import UserError
from hepmlp.evaluate import metrics
from hepmlp.evaluate.scoring import WEIGHT_COLUMN
from hepmlp.evaluate.input_plots import plot_correlation_matrices, plot_feature_distributions
from hepmlp.outputs import atomic_outputs
from hepmlp.specs import PlotSpec

PLOT_STEMS = ("input_features", "correlations")


def plot_inputs(plot_spec: PlotSpec, dataset_dir: str | os.PathLike, outdir: str | os.PathLike, *,
                progress: bool = True) -> Path:
    """Draw the input figures of ``dataset_dir`` into ``outdir/plots``; return the folder."""
    dataset_dir, outdir = Path(dataset_dir), Path(outdir)
    info = read_info(dataset_dir)
    if not info.get("classes"):
        raise UserError(
            f"{dataset_dir} is a {info.get('task', 'regression')} dataset without classes; "
            "plot-inputs draws the classification dataset (e.g. --dataset results/dataset)"
        )
    features = list(info["features"])
    events = read_events(dataset_dir, info)
    train = events[events["split"].to_numpy() == 0]  # the training split; a kfold dataset: every event
    X = feature_matrix(train, features)
    labels = train["label"].to_numpy()
    weights = train[WEIGHT_COLUMN].to_numpy()
    by_class = {name: (X[labels == index], weights[labels == index]) for index, name in enumerate(info["classes"])}
    formats, bins_count = plot_spec.formats, plot_spec.bins
    with atomic_outputs(outdir / "plots") as (plots,):
        plots.mkdir(parents=True)
        plot_feature_distributions(features, by_class, plots / "input_features", expressions=info["expressions"],
                                   n_bins=bins_count, formats=formats)
        matrices = {name: metrics.weighted_correlation(X_c, w_c) for name, (X_c, w_c) in by_class.items()
                    if len(X_c) > 1}
        plot_correlation_matrices(features, matrices, plots / "correlations", formats=formats)
    if progress:
        print(f"plot-inputs: {len(features)} features, {len(X)} training events -> {outdir / 'plots'}",
              file=sys.stderr)
    return outdir / "plots"


TRANSFORMED_STEMS = ("transformed_inputs", "correlations_transformed")


def transformed_names(features: list[str], chain_names: list[str]) -> list[str]:
    """Names of the network's inputs after a chain: ``component k`` once ``pca`` has mixed them,
    else ``T(feature)``."""
    if "pca" in chain_names:
        return [f"component {k + 1}" for k in range(len(features))]
    return [f"T({name})" for name in features]


def plot_transformed_inputs(plot_spec: PlotSpec, dataset_dir: str | os.PathLike, model_dir: str | os.PathLike,
                            outdir: str | os.PathLike, *, progress: bool = True) -> Path:
    """A model's inputs after its transforms, from the training split, into ``outdir/plots``.

    For the k fold models of a kfold classifier: fold model 0 and its own
    training events (each fold model fits its transforms on its own).

    ``transformed_inputs.<format>``: each transformed input per class
    (physical weights, normalised), what the network sees;
    ``correlations_transformed.<format>``: per class, the correlation matrix
    of the raw features next to that of the transformed inputs.
    """
    from hepmlp.io.fold_models import fold_dir, is_folded
    from hepmlp.io.model_files import load_trained

    dataset_dir, outdir = Path(dataset_dir), Path(outdir)
    folded = is_folded(model_dir)
    model = load_trained(fold_dir(model_dir, 0) if folded else model_dir)
    info = read_info(dataset_dir)
    if list(info.get("features") or []) != model.features:
        raise UserError(f"{model_dir} was trained on features {', '.join(model.features)}, but {dataset_dir} "
                        f"holds {', '.join(info.get('features') or [])}; pass the model's own dataset")
    if folded:
        train, _, _ = fold_training_sets(read_events(dataset_dir, info), info, 0)
    else:
        train = read_events(dataset_dir, info).query("split == 0")
    X = feature_matrix(train, model.features)
    Y = model.transforms.apply(X)
    labels = train["label"].to_numpy()
    weights = train[WEIGHT_COLUMN].to_numpy()
    chain = ", ".join(model.transforms.names)
    name = f"{Path(model_dir).resolve().name} fold 0" if folded else model.name
    names = transformed_names(model.features, model.transforms.names)
    by_class = {name: (Y[labels == index], weights[labels == index]) for index, name in enumerate(model.classes)}
    formats, bins_count = plot_spec.formats, plot_spec.bins
    matrices, ticks = {}, {}
    for index, class_name in enumerate(model.classes):
        rows = labels == index
        if np.count_nonzero(rows) > 1:
            matrices[f"{class_name}\nraw features"] = metrics.weighted_correlation(X[rows], weights[rows])
            after = f"{class_name}\nafter {chain}"
            matrices[after] = metrics.weighted_correlation(Y[rows], weights[rows])
            ticks[after] = names
    with atomic_outputs(outdir / "plots") as (plots,):
        plots.mkdir(parents=True)
        plot_feature_distributions(names, by_class, plots / "transformed_inputs", n_bins=bins_count,
                                   formats=formats, axis_labels=names,
                                   title=f"{name}: the network's inputs T(x) after {chain} (training split)")
        plot_correlation_matrices(model.features, matrices, plots / "correlations_transformed", formats=formats,
                                  tick_labels=ticks, title="{}", max_columns=2)
    if progress:
        print(f"plot-inputs: {name} inputs after {chain}, {len(X)} training events -> {outdir / 'plots'}",
              file=sys.stderr)
    return outdir / "plots"
