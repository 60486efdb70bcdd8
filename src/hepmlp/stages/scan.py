"""Scan commands: ``evaluate-scan-point`` and ``summarise-scan``.

Only command-line wiring lives here; the work is in ``hepmlp.evaluate``:

- ``hepmlp evaluate-scan-point --config C --model SCAN/POINT --model-dir DIR --dataset D``
  -> ``DIR/point.json`` (``scan_point``: validation loss and AUC, parameters);
- ``hepmlp summarise-scan --config C --scan SCAN --points DIR/point.json ... --outdir OUT``
  -> ``OUT/scan.csv``, ``OUT/scan.md``, ``OUT/choice.json``, ``OUT/plots/`` (``scan_report``).
"""

from __future__ import annotations

import argparse


def run_evaluate_scan_point(args: argparse.Namespace) -> None:
    from hepmlp.evaluate.scan_point import evaluate_scan_point
    from hepmlp.stage_config import config_from_arguments

    evaluate_scan_point(config_from_arguments(args), args.model, args.model_dir, args.dataset, progress=True)


def run_summarise_scan(args: argparse.Namespace) -> None:
    from hepmlp.evaluate.scan_report import summarise_scan
    from hepmlp.stage_config import config_from_arguments

    summarise_scan(config_from_arguments(args), args.scan, args.points, args.outdir, progress=True)


def register(subparsers) -> None:
    """Add ``evaluate-scan-point`` and ``summarise-scan``."""
    from hepmlp.stage_config import add_config_arguments

    parser = subparsers.add_parser(
        "evaluate-scan-point",
        help="validation loss and AUC of one trained scan point",
        description="Score the validation split with the trained scan point SCAN/POINT and write "
        "MODEL_DIR/point.json (its parameters, validation loss, validation AUC, epochs, seconds).",
    )
    add_config_arguments(parser)
    parser.add_argument("--model", required=True, help="the point's model name, SCAN/POINT")
    parser.add_argument("--model-dir", required=True, help="its folder, e.g. results/classification/SCAN/POINT")
    parser.add_argument("--dataset", default="results/dataset", help="dataset folder (default results/dataset)")
    parser.set_defaults(func=run_evaluate_scan_point)

    parser = subparsers.add_parser(
        "summarise-scan",
        help="the table, the choice (lowest validation loss) and the figures of one scan",
        description="Read every point.json of scan SCAN, choose the point with the lowest validation loss and "
        "write OUTDIR/scan.csv, OUTDIR/scan.md, OUTDIR/choice.json and OUTDIR/plots/.",
    )
    add_config_arguments(parser)
    parser.add_argument("--scan", required=True, help="name of the scan in classification.scans")
    parser.add_argument("--points", required=True, nargs="+", metavar="FILE", help="the points' point.json files")
    parser.add_argument("--outdir", required=True, help="output folder, e.g. results/scans/SCAN")
    parser.set_defaults(func=run_summarise_scan)
