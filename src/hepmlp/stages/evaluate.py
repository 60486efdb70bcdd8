"""Evaluation commands: ``evaluate-classifier``, ``compare-models``, ``optimizer-study``.

Only command-line wiring lives here; the work is in ``hepmlp.evaluate``:

- ``hepmlp evaluate-classifier --config C | --settings JSON --model-dir DIR --dataset D``
  -> ``DIR/metrics.json``, ``DIR/evaluation.parquet`` and ``DIR/plots/``
  (``classifier_report``; one model, or the k fold models in ``DIR/fold_*/``);
- ``hepmlp compare-models --config C --dataset D --models DIR [DIR ...]
  --outdir OUT [--scans CHOICE ...]`` -> ``OUT/metrics.csv``, ``OUT/metrics.md``, ``OUT/plots/``
  (``comparison``);
- ``hepmlp optimizer-study --config C --outdir OUT`` -> ``OUT/steps.json``,
  ``OUT/steps.csv``, ``OUT/plots/`` (``optimizer_study``);
- ``hepmlp plot-inputs --config C --dataset D --outdir OUT [--model DIR]`` ->
  ``OUT/plots/`` (``input_report``; with ``--model``, that model's inputs
  after its transforms).
"""

from __future__ import annotations

import argparse


def stage_config(args: argparse.Namespace) -> dict:
    """The config of ``--settings`` (the keys the stage reads) or ``--config`` (``hepmlp.stage_config``)."""
    from hepmlp.stage_config import config_from_arguments

    return config_from_arguments(args)


def run_evaluate_classifier(args: argparse.Namespace) -> None:
    from hepmlp.evaluate.classifier_report import evaluate_classifier

    from hepmlp.config import evaluation_spec

    evaluate_classifier(evaluation_spec(stage_config(args)), args.model_dir, args.dataset, progress=True)


def run_compare_models(args: argparse.Namespace) -> None:
    from hepmlp.evaluate.comparison import compare_models

    from hepmlp.config import comparison_spec

    compare_models(comparison_spec(stage_config(args)), args.dataset, args.models, args.outdir,
                   scans=args.scans, progress=True)


def run_optimizer_study(args: argparse.Namespace) -> None:
    from hepmlp.config import plot_spec
    from hepmlp.evaluate.optimizer_study import run_optimizer_study as study

    study(args.outdir, formats=plot_spec(stage_config(args)["plots"]).formats, progress=True)


def run_plot_inputs(args: argparse.Namespace) -> None:
    from hepmlp.evaluate.input_report import plot_inputs, plot_transformed_inputs

    from hepmlp.config import plot_spec

    plots = plot_spec(stage_config(args)["plots"])
    if args.model is not None:
        plot_transformed_inputs(plots, args.dataset, args.model, args.outdir, progress=True)
    else:
        plot_inputs(plots, args.dataset, args.outdir, progress=True)


def register(subparsers) -> None:
    """Add ``evaluate-classifier``, ``compare-models``, ``optimizer-study`` and ``plot-inputs``."""
    from hepmlp.stage_config import add_config_arguments

    parser = subparsers.add_parser(
        "evaluate-classifier",
        help="metrics.json and figures of one trained classifier",
        description="Score the train and test splits with a trained classifier -- or, for the k fold "
        "models in MODEL_DIR/fold_*/, every event with the fold model that never trained on it -- and write "
        "MODEL_DIR/metrics.json, MODEL_DIR/evaluation.parquet (the per-event evaluation table) and "
        "MODEL_DIR/plots/ (ROC, output distributions with KS test, loss history, significance, inputs, "
        "feature ranking; per-fold AUC and KS in metrics.json).",
    )
    add_config_arguments(parser)
    parser.add_argument("--model-dir", required=True, help="model folder, e.g. results/classification/NAME")
    parser.add_argument("--dataset", default="results/dataset", help="dataset folder (default results/dataset)")
    parser.set_defaults(func=run_evaluate_classifier)

    parser = subparsers.add_parser(
        "compare-models",
        help="all classifiers and the scikit-learn baselines side by side",
        description="Evaluate every model folder and the configured baselines (trained here on the same "
        "split) and write OUTDIR/metrics.csv, OUTDIR/metrics.md and OUTDIR/plots/.",
    )
    add_config_arguments(parser)
    parser.add_argument("--dataset", default="results/dataset", help="dataset folder (default results/dataset)")
    parser.add_argument("--models", required=True, nargs="+", metavar="DIR", help="model folders to compare")
    parser.add_argument("--scans", nargs="*", default=[], metavar="FILE",
                        help="choice.json of each scan (summarise-scan): its chosen point joins under the scan's name")
    parser.add_argument("--outdir", required=True, help="output folder, e.g. results/classification/comparison")
    parser.set_defaults(func=run_compare_models)

    parser = subparsers.add_parser(
        "optimizer-study",
        help="the lecture's optimizer figures (step sizes, paths, schedules)",
        description="Run gd, momentum, Nesterov and Newton on quadratics with hepmlp.optim.minimize and "
        "write OUTDIR/steps.json, OUTDIR/steps.csv and OUTDIR/plots/.",
    )
    add_config_arguments(parser)
    parser.add_argument("--outdir", required=True, help="output folder, e.g. results/optimizers")
    parser.set_defaults(func=run_optimizer_study)

    parser = subparsers.add_parser(
        "plot-inputs",
        help="input feature distributions and correlations per class",
        description="Draw each input feature's distribution per class and the per-class correlation "
        "matrices of the dataset's training split into OUTDIR/plots/.",
    )
    add_config_arguments(parser)
    parser.add_argument("--dataset", default="results/dataset", help="dataset folder (default results/dataset)")
    parser.add_argument("--outdir", required=True, help="output folder, e.g. results/inputs")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="draw this trained model's inputs after its transforms (and the correlations "
                             "before and after) instead, e.g. --outdir results/inputs/MODEL")
    parser.set_defaults(func=run_plot_inputs)
