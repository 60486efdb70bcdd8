"""Sub-commands that use trained models: ``hepmlp apply`` and ``hepmlp export-onnx``."""

from __future__ import annotations

import argparse
import sys

DEFAULT_TREE = "Events"  # = hepmlp.io.score_trees.DEFAULT_TREE (not imported: uproot loads slowly)
DEFAULT_OUTPUT_TREE = "Scores"


def parse_step_size(text: str | int) -> str | int:
    """Sizes such as ``"20 MB"`` stay strings; a plain integer is a number of bytes (as for ``reading.step_size``)."""
    text = str(text).strip()
    return int(text) if text.isdigit() else text


def _step_size(args: argparse.Namespace) -> str | int:
    """--step-size, else reading.step_size of --settings / --config, else the schema's default."""
    from hepmlp.config import reading_spec
    from hepmlp.stage_config import config_from_arguments

    if args.step_size is not None:
        return parse_step_size(args.step_size)
    given = args.config is not None or args.settings is not None
    reading = config_from_arguments(args).get("reading") if given else None
    return parse_step_size(reading_spec(reading).step_size)


def run_apply(args: argparse.Namespace) -> None:
    from hepmlp.io.score_trees import apply_models

    apply_models(
        args.model,
        args.input,
        output=args.output,
        tree=args.tree,
        output_tree=args.output_tree,
        copy_branches=args.copy_branches,
        step_size=_step_size(args),
        folds=args.folds,
        progress=True,
    )


def run_export_onnx(args: argparse.Namespace) -> None:
    from hepmlp.io.onnx_export import export_onnx

    path = export_onnx(args.model, args.output)
    print(f"export-onnx: wrote {path}", file=sys.stderr)


def register(subparsers) -> None:
    from hepmlp.config import schema_default
    from hepmlp.stage_config import add_config_arguments

    apply = subparsers.add_parser(
        "apply",
        help="score ROOT ntuples with trained models; write a friend tree",
        description=(
            "Evaluate each model's own feature expressions on every entry of the input chain and "
            "write a TTree, entry-aligned with the input (usable as a ROOT friend tree), holding "
            "'event', 'fold' (the fold whose model scored the entry, -1 for none or the mean) and "
            "score_<model> (score_<model>_<class> for multi-class)."
        ),
    )
    apply.add_argument("--model", action="append", required=True, metavar="DIR",
                       help="trained model folder; repeat for several models")
    apply.add_argument("--input", nargs="+", required=True, metavar="FILE",
                       help="input ROOT files (globs allowed), read as one chain in this order")
    apply.add_argument("--tree", default=DEFAULT_TREE, help=f"input TTree name (default {DEFAULT_TREE})")
    apply.add_argument("--output", required=True, metavar="OUT.root", help="output ROOT file")
    apply.add_argument("--output-tree", default=DEFAULT_OUTPUT_TREE,
                       help=f"output TTree name (default {DEFAULT_OUTPUT_TREE})")
    apply.add_argument("--copy-branches", nargs="+", default=[], metavar="BRANCH",
                       help="input branches to copy into the output next to the scores")
    apply.add_argument("--step-size", default=None,
                       help=f"bytes read per chunk ('20 MB', '200 kB'); default "
                            f"reading.step_size from --settings or --config, else {schema_default('reading', 'step_size')}")
    apply.add_argument("--folds", choices=("rule", "mean"), default="rule",
                       help="k-fold models: 'rule' (default) scores each entry with the fold model of its fold "
                            "(split.fold_by mod k), which never trained on it; 'mean' takes the mean of the k "
                            "fold models, for events that took no part in training (collision data)")
    add_config_arguments(apply, required=False)   # only reading.step_size is used
    apply.set_defaults(func=run_apply)

    export = subparsers.add_parser(
        "export-onnx",
        help="export a trained model to ONNX (input transforms included)",
        description="Write the model as an ONNX graph: float32 raw features [N, n_features] in, score [N, n_outputs] out.",
    )
    export.add_argument("--model", required=True, metavar="DIR", help="trained model folder")
    export.add_argument("--output", required=True, metavar="model.onnx", help="output ONNX file")
    export.add_argument("--config", default=None, help="analyst config (not needed; accepted for uniformity)")
    export.set_defaults(func=run_export_onnx)
