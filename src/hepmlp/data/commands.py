"""The ``hepmlp dataset`` command: build the training dataset from the config.

    hepmlp dataset --config config/config.yaml --task classification --outdir results/dataset
    hepmlp dataset --config config/config.yaml --task regression --outdir results/regression/dataset
"""

from __future__ import annotations

import argparse
import sys

TASKS = ("classification", "regression")


def register(subparsers) -> None:
    """Add the ``dataset`` sub-command."""
    parser = subparsers.add_parser(
        "dataset",
        help="read the ROOT ntuples into train/validation/test parquet files",
        description=(
            "Read the samples of the config with uproot, evaluate the feature, selection and weight "
            "expressions, normalise and balance the weights, split, and write "
            "OUTDIR/{train,validation,test}.parquet and OUTDIR/dataset.json."
        ),
    )
    parser.add_argument("--config", required=True, help="the analyst config (YAML)")
    parser.add_argument("--task", choices=TASKS, default="classification", help="which dataset to build")
    parser.add_argument("--outdir", required=True, help="folder for the parquet files and dataset.json")
    parser.set_defaults(func=run)


def load_config(path: str) -> dict:
    """``hepmlp.config.load_config`` (validates and fills defaults)."""
    from hepmlp.config import load_config as load_and_validate

    return load_and_validate(path)


def run(args: argparse.Namespace) -> None:
    from hepmlp.data.dataset import build_classification_dataset, build_regression_dataset

    config = load_config(args.config)
    build = build_classification_dataset if args.task == "classification" else build_regression_dataset
    info = build(config, args.outdir)
    counts = info["split"]["counts"]
    if "per_fold" in counts:
        summary = f"{counts['events']} events in {len(counts['per_fold'])} folds: " + " / ".join(
            map(str, counts["per_fold"]))
    else:
        summary = ", ".join(f"{split} {counts[split]}" for split in ("train", "validation", "test")) + " events"
    print(f"dataset: wrote {args.outdir} ({summary})", file=sys.stderr, flush=True)
