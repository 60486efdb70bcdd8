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
    from hepmlp.stage_config import add_config_arguments

    parser = subparsers.add_parser(
        "dataset",
        help="read the ROOT ntuples into train/validation/test parquet files",
        description=(
            "Read the samples of the config with uproot, evaluate the feature, selection and weight "
            "expressions, normalise and balance the weights, split, and write "
            "OUTDIR/{train,validation,test}.parquet and OUTDIR/dataset.json."
        ),
    )
    add_config_arguments(parser)
    parser.add_argument("--task", choices=TASKS, default="classification", help="which dataset to build")
    parser.add_argument("--outdir", required=True, help="folder for the parquet files and dataset.json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from hepmlp.config import dataset_spec
    from hepmlp.data.dataset import build_dataset
    from hepmlp.stage_config import config_from_arguments

    info = build_dataset(dataset_spec(config_from_arguments(args), args.task), args.outdir)
    counts = info["split"]["counts"]
    if "per_fold" in counts:
        summary = f"{counts['events']} events in {len(counts['per_fold'])} folds: " + " / ".join(
            map(str, counts["per_fold"]))
    else:
        summary = ", ".join(f"{split} {counts[split]}" for split in ("train", "validation", "test")) + " events"
    print(f"dataset: wrote {args.outdir} ({summary})", file=sys.stderr, flush=True)
