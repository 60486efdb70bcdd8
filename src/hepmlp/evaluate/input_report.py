"""``hepmlp plot-inputs``: the input features of the classification dataset.

Writes, all-or-nothing, ``OUTDIR/plots/input_features.<format>`` (each
feature's distribution per class, normalised, with the physical event
weights) and ``OUTDIR/plots/correlations.<format>`` (the weighted correlation
matrix per class), from the training split.  They depend on the dataset only,
so they are drawn once, not per model.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hepmlp.data.store import feature_matrix, read_info, read_split
from hepmlp.errors import UserError
from hepmlp.evaluate import metrics
from hepmlp.evaluate.classifier_report import WEIGHT_COLUMN, plot_settings
from hepmlp.evaluate.input_plots import plot_correlation_matrices, plot_feature_distributions
from hepmlp.outputs import atomic_outputs

PLOT_STEMS = ("input_features", "correlations")


def plot_inputs(config: dict, dataset_dir: str | os.PathLike, outdir: str | os.PathLike, *,
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
    train = read_split(dataset_dir, "train")
    X = feature_matrix(train, features)
    labels = train["label"].to_numpy()
    weights = train[WEIGHT_COLUMN].to_numpy()
    by_class = {name: (X[labels == index], weights[labels == index]) for index, name in enumerate(info["classes"])}
    formats, bins_count = plot_settings(config)
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
