"""``hepmlp generate events`` and ``hepmlp generate calorimeter``.

    hepmlp generate events --config C --process NAME --chunk I --output data/events/NAME_I.root [--events N]
    hepmlp generate calorimeter --config C --chunk I --output data/calorimeter/pion_I.root [--events N]

Both read only the config's ``generate`` section; ``--events`` overrides the
configured number of events per chunk (tests and CI make tiny files with it).
Progress (events, events/s) goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hepmlp.errors import UserError


def load_generate_section(args: argparse.Namespace) -> dict[str, Any]:
    """The ``generate`` section of ``--settings`` or of the validated ``--config`` (``hepmlp.stage_config``)."""
    from hepmlp.stage_config import config_from_arguments

    section = config_from_arguments(args).get("generate") or {}
    if not isinstance(section, dict):
        raise UserError("the generate section must be a mapping")
    return section


def run_events(args: argparse.Namespace) -> None:
    from hepmlp.generate.event_files import generate_events_chunk

    summary = generate_events_chunk(
        load_generate_section(args),
        process=args.process,
        chunk=args.chunk,
        output=args.output,
        n_events=args.events,
        progress=True,
    )
    print(
        f"generate events {summary.process} chunk {summary.chunk}: wrote {summary.n_events} events to "
        f"{args.output} in {summary.seconds:.1f} s ({summary.n_events / summary.seconds:.0f} events/s); "
        f"sigmaGen = {summary.cross_section_pb:.4g} +- {summary.cross_section_error_pb:.2g} pb",
        file=sys.stderr,
    )


def run_calorimeter(args: argparse.Namespace) -> None:
    from hepmlp.generate.calorimeter_files import generate_calorimeter_chunk

    generate_calorimeter_chunk(
        load_generate_section(args), chunk=args.chunk, output=args.output, n_events=args.events, progress=True
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``generate events`` and ``generate calorimeter``."""
    from hepmlp.stage_config import add_config_arguments

    generate = subparsers.add_parser(
        "generate", help="generate the default data (Pythia 8 events, calorimeter test beam)"
    )
    kinds = generate.add_subparsers(dest="kind", required=True, metavar="KIND")

    events = kinds.add_parser("events", help="one chunk of Pythia 8 events through the detector model")
    add_config_arguments(events)
    events.add_argument("--process", required=True, help="a name under generate.events.processes")
    events.add_argument("--chunk", type=int, required=True, help="chunk index (0, 1, ...); seeds derive from it")
    events.add_argument("--output", required=True, help="ROOT file to write (Events and Runs trees)")
    events.add_argument("--events", type=int, default=None, help="events to generate (default: events_per_chunk)")
    events.set_defaults(func=run_events)

    calorimeter = kinds.add_parser("calorimeter", help="one chunk of calorimeter test-beam events")
    add_config_arguments(calorimeter)
    calorimeter.add_argument("--chunk", type=int, required=True, help="chunk index (0, 1, ...); seeds derive from it")
    calorimeter.add_argument("--output", required=True, help="ROOT file to write (Calo tree)")
    calorimeter.add_argument(
        "--events", type=int, default=None, help="events to generate (default: calorimeter.events)"
    )
    calorimeter.set_defaults(func=run_calorimeter)
