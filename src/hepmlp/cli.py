"""The ``hepmlp`` command line.

Each stage lives in its own module, which provides ``register(subparsers)``
that adds its sub-command(s) and sets ``func`` on the parser.  This file only
collects them, sets up the process (``hepmlp.allocator``) and turns a
``UserError`` into a one-line message and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hepmlp import __version__
from hepmlp.allocator import keep_freed_memory
from hepmlp.errors import UserError

# Sub-command -> the module that adds it.  Only the module of the command
# being run is imported, so a stage does not pay for the others' imports.
COMMAND_MODULES = {
    "generate": "hepmlp.generate.commands",
    "dataset": "hepmlp.data.commands",
    "train-classifier": "hepmlp.stages.classify",
    "evaluate-classifier": "hepmlp.stages.evaluate",
    "compare-models": "hepmlp.stages.evaluate",
    "optimizer-study": "hepmlp.stages.evaluate",
    "plot-inputs": "hepmlp.stages.evaluate",
    "evaluate-scan-point": "hepmlp.stages.scan",
    "summarise-scan": "hepmlp.stages.scan",
    "train-regressor": "hepmlp.stages.regress",
    "evaluate-regressor": "hepmlp.stages.regress",
    "apply": "hepmlp.io.commands",
    "export-onnx": "hepmlp.io.commands",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or only ``command``'s when it is a known one."""
    parser = argparse.ArgumentParser(prog="hepmlp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hepmlp {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in COMMAND_MODULES:
        modules = [COMMAND_MODULES[command]]
    else:
        modules = list(dict.fromkeys(COMMAND_MODULES.values()))
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command: exit status 0, 1 for a ``UserError``, 130 after Ctrl-C.

    Ctrl-C is caught from the first import on (building the parser imports the
    stage's module, which takes a while), so it never prints a traceback.
    """
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "COMMAND"
    try:
        parser = build_parser(argv[0] if argv else None)
        args = parser.parse_args(argv)
        command = args.command
        keep_freed_memory()
        args.func(args)
    except UserError as error:
        print(f"hepmlp {command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hepmlp {command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
