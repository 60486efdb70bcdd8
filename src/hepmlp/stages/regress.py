"""Calorimeter calibration: ``hepmlp train-regressor`` and ``hepmlp evaluate-regressor``.

``train-regressor`` fits one ``regression.models`` entry: an MLP with an
identity output and the (weighted) MSE loss, on the dataset's standardised
features and ``training_weight``, stopping on the validation split.  The
learning target is the dataset's ``label``: ``E_true / E_raw`` for
``regression.target: ratio`` (a correction factor near 1, common practice),
``E_true`` for ``energy``.  With ``ratio`` a shower with ``E_raw`` near 0
(a pion punching through, or noise) gives a huge or negative factor, and the
MSE chases those few events; the stage warns when far-out targets carry most
of the variance (on the default test beam they do: use ``energy`` there).
The target is standardised for training, ``(t - m) / s`` with the weighted
mean and standard deviation of the training split, and the affine map is then
folded into the output layer (``W_L <- s W_L``, ``b_L <- s b_L + m``), so the
saved network predicts the learning target itself (``apply`` and
``load_trained(...).score`` need nothing else) and ``history.csv`` holds the
MSE in the target's units (dimensionless for ``ratio``, GeV^2 for
``energy``).  Files: ``model.npz``, ``model.json``, ``history.csv``
(``hepmlp.io.model_files.save_trained``).  A constant target is an error.

``evaluate-regressor`` compares on the test split the raw EM-scale sum, a
linear per-layer calibration, the MLP and scikit-learn's ``MLPRegressor``
(``hepmlp.evaluate.calibration``; for ``ratio`` a prediction is turned back
into energy by ``x E_raw``), and writes, all or nothing,

* ``metrics.json`` (flat; ``{method}`` is raw, linear, mlp, sklearn): the
  per-method keys of ``hepmlp.evaluate.regression_metrics`` (``{method}_a``,
  ``_b``, ``_c``, ``{method}_resolution_{E}GeV``, ``{method}_response_{E}GeV``
  for E = 5, 20, 50, 150, ...), the comparison with the linear calibration
  and scikit-learn (``regression_metrics.comparison_metrics``), and
  ``mse_test`` / ``sklearn_mse_test``: the weighted test MSE of the hepmlp MLP
  and of sklearn in the learning target's units (dimensionless for ``ratio``,
  GeV^2 for ``energy``); ``train_seconds`` (hepmlp training, from
  ``model.json``) and ``sklearn_train_seconds``; ``linear_weight_{feature}``;
  ``n_test_events``; ``target``;
* ``response_bins.csv``: every method's binned response and resolution
  (plain and robust, with uncertainties), one row per method and bin;
* ``plots/``: ``response``, ``resolution``, ``calibrated_vs_true``,
  ``ratio_distributions``, ``loss_history`` in each of ``plots.formats``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from hepmlp.data.store import feature_matrix, read_info, read_split, standardise
from hepmlp.errors import UserError
from hepmlp.evaluate import calibration
from hepmlp.outputs import atomic_outputs
from hepmlp.stages.classify import add_mem_mb_option
from hepmlp.specs import ModelSpec

TAIL_SIGMAS = 10.0
TAIL_SHARE_WARNING = 0.5
PLOT_STEMS = ("response", "resolution", "calibrated_vs_true", "ratio_distributions", "loss_history")


# --------------------------------------------------------------------------- data
@dataclasses.dataclass
class RegressionSplit:
    """One split of a regression dataset: raw features (n, d) and per-event arrays (n,)."""

    X: np.ndarray
    target: np.ndarray
    truth: np.ndarray
    raw: np.ndarray
    weight: np.ndarray
    training_weight: np.ndarray


def read_regression_info(dataset_dir) -> dict:
    """``dataset.json`` of a regression dataset, checked for the keys this stage needs."""
    info = read_info(dataset_dir)
    if info.get("task") != "regression":
        raise UserError(
            f"{Path(dataset_dir) / 'dataset.json'} is a {info.get('task')!r} dataset; build it with "
            "hepmlp dataset --task regression"
        )
    if info.get("target") not in calibration.TARGETS:
        raise UserError(
            f"{Path(dataset_dir) / 'dataset.json'} has target {info.get('target')!r}; valid: "
            f"{', '.join(calibration.TARGETS)} (regression.target); rebuild the dataset"
        )
    return info


def read_regression_split(dataset_dir, split: str, info: dict) -> RegressionSplit:
    """Read ``split`` and check that the target, truth and raw columns are there and finite."""
    frame = read_split(dataset_dir, split)
    path = Path(dataset_dir) / f"{split}.parquet"
    missing = [name for name in ("label", "truth", "raw", "weight") if name not in frame.columns]
    if missing:
        raise UserError(
            f"{path} has no column(s) {', '.join(missing)}; rebuild it with hepmlp dataset --task regression"
        )
    if len(frame) == 0:
        raise UserError(f"{path} holds no events; check regression.samples and the split fractions")
    arrays = {name: frame[name].to_numpy(dtype=np.float64) for name in ("label", "truth", "raw", "weight")}
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)):
            raise UserError(
                f"{path}: column {name!r} has {np.count_nonzero(~np.isfinite(values))} non-finite value(s); "
                "check regression.truth / regression.raw (E_raw = 0 makes the ratio infinite)"
            )
    training_weight = (
        frame["training_weight"].to_numpy(dtype=np.float64) if "training_weight" in frame.columns else arrays["weight"]
    )
    return RegressionSplit(
        X=feature_matrix(frame, info["features"]),
        target=arrays["label"],
        truth=arrays["truth"],
        raw=arrays["raw"],
        weight=arrays["weight"],
        training_weight=training_weight,
    )


def target_scale(split: RegressionSplit, *, where: str, info: dict) -> tuple[float, float]:
    """Weighted mean and std of the training target; a constant target is a ``UserError``."""
    mean, std = calibration.weighted_mean_std(split.target, split.training_weight)
    if not std > 1e-12 * max(abs(mean), 1.0):
        raise UserError(
            f"the regression target ({info.get('target')}: 'label' in {where}, from regression.truth "
            f"{info.get('truth')!r} and regression.raw {info.get('raw')!r}) is constant ({mean:g}) over all "
            f"{len(split.target)} training events: there is nothing to learn; check the truth/raw expressions "
            "and that the input files hold a range of energies"
        )
    return mean, std


def warn_about_target_tails(split: RegressionSplit, info: dict) -> float:
    """Print a warning when a few far-out events carry most of the target's variance; return their share.

    Far out: more than ``TAIL_SIGMAS`` robust standard deviations (1.4826 MAD)
    from the median.  The MSE chases such events; with ``target: ratio`` they
    are showers with E_raw near 0 (punch-through, noise), where E_true/E_raw
    explodes.
    """
    target = split.target
    median = float(np.median(target))
    robust_sigma = 1.482602218505602 * float(np.median(np.abs(target - median)))
    squares = (target - median) ** 2
    if robust_sigma <= 0 or squares.sum() <= 0:
        return 0.0
    far = np.abs(target - median) > TAIL_SIGMAS * robust_sigma
    share = float(squares[far].sum() / squares.sum())
    if share > TAIL_SHARE_WARNING:
        hint = (" (E_raw near 0 makes E_true/E_raw explode: consider regression.target: energy)"
                if info.get("target") == "ratio" else "")
        n_far = np.count_nonzero(far)
        print(f"train-regressor: warning: {n_far} training events ({100 * n_far / target.size:.2g}%) more than "
              f"{TAIL_SIGMAS:g} robust standard deviations from the median target carry {100 * share:.0f}% of its "
              f"variance; the MSE fit will chase them{hint}", file=sys.stderr)
    return share


# --------------------------------------------------------------------------- training
def fold_target_scale(mlp, mean: float, std: float):
    """The network that outputs ``std * f(x) + mean``: the last layer's W and b rescaled."""
    from hepmlp.nn import MLP

    arrays = {name: np.array(value, copy=True) for name, value in mlp.to_arrays().items()}
    last = len(arrays) // 2 - 1
    arrays[f"W{last}"] *= std
    arrays[f"b{last}"] = arrays[f"b{last}"] * std + mean
    return MLP.from_arrays(mlp.architecture(), arrays)


def train_regression_model(
    spec: ModelSpec, info: dict, train: RegressionSplit, validation: RegressionSplit | None, *,
    where: str = "the training split", progress: bool = False, mem_mb: int | None = None,
):
    """Train on transformed features and standardised target; return ``(mlp, history_dict, transforms)``.

    The features go through the model's ``transform`` chain (default
    ``[standardise]``, the dataset's standardisation), fitted on the training
    events with their training weights.  The returned ``mlp`` predicts the
    learning target (the target's standardisation is folded in);
    ``history_dict`` is ``History.as_dict()`` with the losses in the target's
    units (multiplied by ``std^2``).  The network's memory estimate is checked
    first (``memory_check``; ``mem_mb`` is the job's memory).
    """
    from hepmlp.nn import build_model, fit_from_config
    from hepmlp.stages.memory_check import check_training_memory
    from hepmlp.stages.progress import print_epoch, training_errors
    from hepmlp.transforms import fit_chain, parse_chain

    mean, std = target_scale(train, where=where, info=info)
    warn_about_target_tails(train, info)
    features = list(info["features"])
    specs = parse_chain(list(spec.transform), features=features, classes=(),
                        key=f"regression.models.{spec.name}.transform")
    stats = info["standardisation"]
    transforms = fit_chain(specs, train.X, train.training_weight, features=features,
                           standardisation=(stats["mean"], stats["std"]))
    X_train = transforms.apply(train.X)
    y_train = (train.target - mean) / std
    validation_data = None
    if validation is not None and len(validation.target):
        validation_data = (
            transforms.apply(validation.X),
            (validation.target - mean) / std,
            validation.training_weight,
        )
    check_training_memory(spec, key=f"regression.models.{spec.name}", rule="train_regressor",
                          n_inputs=X_train.shape[1], n_outputs=1,
                          n_train=X_train.shape[0], n_validation=0 if validation_data is None else len(validation.target),
                          mem_mb=mem_mb)
    model = build_model(spec, X_train.shape[1], output="identity", n_outputs=1)
    with training_errors(where):
        history = fit_from_config(
            model, spec, X_train, y_train, train.training_weight, loss="mse",
            validation=validation_data, progress=print_epoch if progress else None,
        )
    record = dict(history.as_dict())
    for key in ("train_loss", "validation_loss"):
        if record.get(key) is not None:
            record[key] = [None if value is None else float(value) * std**2 for value in record[key]]
    return fold_target_scale(model, mean, std), record, transforms


def run_train(args: argparse.Namespace) -> None:
    from hepmlp.config import configured_model
    from hepmlp.io.model_files import save_trained
    from hepmlp.stage_config import config_from_arguments

    spec = configured_model(config_from_arguments(args), "regression", args.model)
    info = read_regression_info(args.dataset)
    train = read_regression_split(args.dataset, "train", info)
    validation = read_regression_split(args.dataset, "validation", info)
    print(f"train-regressor {args.model}: {len(train.target)} training, {len(validation.target)} validation events, "
          f"target {info['target']}", file=sys.stderr)
    mlp, history, transforms = train_regression_model(
        spec, info, train, validation, where=f"{Path(args.dataset) / 'train.parquet'}", progress=True,
        mem_mb=args.mem_mb,
    )
    save_trained(args.outdir, mlp, info=info, model_config=spec.as_config(), loss="mse", history=history,
                 transforms=transforms)
    print(f"train-regressor {args.model}: wrote {args.outdir}", file=sys.stderr)


# --------------------------------------------------------------------------- evaluation
def calibrate_all(trained, info: dict, spec: ModelSpec, train: RegressionSplit, test: RegressionSplit) -> dict:
    """Calibrated test energies (n,) per method, plus the linear weights, sklearn model and predictions."""
    target = info["target"]
    layers = calibration.layer_features(info["features"], info["expressions"])
    if not layers:
        raise UserError(
            "the linear calibration needs per-layer features (expressions E_ECAL<n> / E_HCAL<n>), but "
            f"regression.features has none ({', '.join(info['features'])}); add the layer branches as features"
        )
    columns = [info["features"].index(name) for name in layers]
    coefficients = calibration.fit_linear_calibration(train.X[:, columns], train.truth, train.training_weight)

    mean, std = calibration.weighted_mean_std(train.target, train.training_weight)
    stats = info["standardisation"]
    print("evaluate-regressor: fitting the sklearn MLPRegressor baseline", file=sys.stderr)
    start = time.perf_counter()
    regressor = calibration.fit_sklearn_regressor(
        spec, standardise(train.X, stats["mean"], stats["std"]), (train.target - mean) / std,
        train.training_weight,
    )
    sklearn_seconds = time.perf_counter() - start
    mlp_prediction = np.asarray(trained.score(test.X), dtype=np.float64)
    sklearn_prediction = regressor.predict(standardise(test.X, stats["mean"], stats["std"])) * std + mean
    return {
        "energies": {
            "raw": test.raw,
            "linear": calibration.apply_linear_calibration(test.X[:, columns], coefficients),
            "mlp": calibration.energy_from_target(mlp_prediction, test.raw, target),
            "sklearn": calibration.energy_from_target(sklearn_prediction, test.raw, target),
        },
        "predictions": {"mlp": mlp_prediction, "sklearn": sklearn_prediction},
        "linear_weights": dict(zip(layers, coefficients.tolist())),
        "sklearn_loss": 2 * np.asarray(regressor.loss_curve_) * std**2 if hasattr(regressor, "loss_curve_") else None,
        "sklearn_seconds": sklearn_seconds,
    }


def run_evaluate(args: argparse.Namespace) -> None:
    from hepmlp.config import model_spec, plot_spec
    from hepmlp.evaluate import plots_regression, regression_metrics  # matplotlib, scipy: only here
    from hepmlp.io.model_files import load_trained
    from hepmlp.output_values import jsonable
    from hepmlp.stage_config import config_from_arguments

    plots = plot_spec(config_from_arguments(args).get("plots"))
    formats, n_hist_bins = plots.formats, plots.bins
    model_dir = Path(args.model_dir)
    trained = load_trained(model_dir)
    if trained.task != "regression":
        raise UserError(f"{model_dir} holds a {trained.task!r} model; train it with hepmlp train-regressor")
    info = read_regression_info(args.dataset)
    if list(trained.features) != list(info["features"]):
        raise UserError(f"{model_dir} was trained on features {trained.features}, but {args.dataset} has "
                        f"{info['features']}; retrain the model on this dataset")
    train = read_regression_split(args.dataset, "train", info)
    test = read_regression_split(args.dataset, "test", info)
    if not np.all(test.truth > 0):
        raise UserError(
            f"{Path(args.dataset) / 'test.parquet'}: column 'truth' has {np.count_nonzero(test.truth <= 0)} "
            f"value(s) <= 0, but the response E_calib/E_true needs positive true energies; check "
            f"regression.truth ({info.get('truth')!r})"
        )
    print(f"evaluate-regressor: {len(test.target)} test events", file=sys.stderr)
    spec = model_spec(trained.metadata.get("model_config") or {}, name=model_dir.name,
                      where=f"{model_dir / 'model.json'} model_config")
    results = calibrate_all(trained, info, spec, train, test)
    metrics, bins_by_method, fits = regression_metrics.calibration_metrics(test.truth, results["energies"], test.weight)
    mse = calibration.weighted_mse(test.target, results["predictions"]["mlp"], test.weight)
    sklearn_mse = calibration.weighted_mse(test.target, results["predictions"]["sklearn"], test.weight)
    metrics.update(regression_metrics.comparison_metrics(bins_by_method, mse, sklearn_mse))
    metrics.update(
        {
            "mse_test": mse,
            "sklearn_mse_test": sklearn_mse,
            "train_seconds": (trained.metadata.get("history") or {}).get("train_seconds"),
            "sklearn_train_seconds": results["sklearn_seconds"],
            "n_test_events": len(test.target),
            "target": info["target"],
            **{f"linear_weight_{name}": weight for name, weight in results["linear_weights"].items()},
        }
    )
    metrics = jsonable(metrics)

    with atomic_outputs(model_dir / "metrics.json", model_dir / "response_bins.csv", model_dir / "plots") as (
        metrics_path, table_path, plot_dir,
    ):
        plot_dir.mkdir()
        plots_regression.plot_response(bins_by_method, plot_dir / "response", formats)
        plots_regression.plot_resolution(
            bins_by_method, fits, plot_dir / "resolution",
            fit_min_energy=regression_metrics.FIT_MIN_GEV, formats=formats,
        )
        plots_regression.plot_calibrated_vs_true(
            test.truth, results["energies"], plot_dir / "calibrated_vs_true", bins=n_hist_bins, formats=formats
        )
        plots_regression.plot_ratio_distributions(
            test.truth, results["energies"], [(0.9 * e, 1.1 * e) for e in regression_metrics.ENERGIES_GEV],
            plot_dir / "ratio_distributions", weights=test.weight, bins=n_hist_bins, formats=formats,
        )
        plots_regression.plot_loss_history(
            trained.history, plot_dir / "loss_history", sklearn_loss=results["sklearn_loss"],
            units="GeV$^2$" if info["target"] == "energy" else "", formats=formats,
        )
        regression_metrics.bins_table(bins_by_method).to_csv(table_path, index=False)
        metrics_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    print(f"evaluate-regressor: MLP resolution at 20 GeV {metrics['mlp_resolution_20GeV']}, "
          f"mse_test {mse:.4g} (sklearn {sklearn_mse:.4g}); wrote {model_dir / 'metrics.json'}", file=sys.stderr)


def register(subparsers) -> None:
    """Add ``train-regressor`` and ``evaluate-regressor``."""
    from hepmlp.stage_config import add_config_arguments

    train = subparsers.add_parser("train-regressor", help="train a calorimeter-calibration MLP (MSE loss)")
    add_config_arguments(train)
    train.add_argument("--model", required=True, help="a name in regression.models")
    train.add_argument("--dataset", required=True, help="regression dataset folder (results/regression/dataset)")
    train.add_argument("--outdir", required=True, help="model folder to write (results/regression/NAME)")
    add_mem_mb_option(train)
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser("evaluate-regressor", help="response, resolution and plots of a calibration")
    add_config_arguments(evaluate)
    evaluate.add_argument("--model-dir", required=True, help="a folder written by train-regressor")
    evaluate.add_argument("--dataset", required=True, help="the regression dataset the model was trained on")
    evaluate.set_defaults(func=run_evaluate)
