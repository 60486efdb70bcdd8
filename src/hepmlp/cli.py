"""The ``hepmlp`` command line.

Each stage lives in its own module, which provides ``register(subparsers)``
that adds its sub-command and sets ``func`` on the parser.  This file only
collects them and turns a ``UserError`` into a one-line message and exit
status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hepmlp import __version__
from hepmlp.errors import UserError

# Modules that each add one or more sub-commands.
COMMAND_MODULES = (
    "hepmlp.generate.commands",
    "hepmlp.data.commands",
    "hepmlp.stages.classify",
    "hepmlp.stages.evaluate",
    "hepmlp.stages.regress",
    "hepmlp.io.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hepmlp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hepmlp {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue  # stage not written yet
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except UserError as error:
        print(f"hepmlp {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
