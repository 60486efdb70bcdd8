"""``hepmlp summarise-scan``: the table, the choice and the figures of one scan.

Reads every point's ``point.json`` (``hepmlp evaluate-scan-point``) and
writes, all-or-nothing, into ``OUTDIR`` (``results/scans/{scan}``):

- ``scan.csv``: one row per point, in the config's order: ``point``, one
  column per scanned key (the value as in the point's name), then
  ``validation_loss``, ``auc_validation``, ``epochs``, ``best_epoch``,
  ``train_seconds``, ``n_params`` and ``chosen``;
- ``scan.md``: the same table in Markdown, with the chosen point;
- ``choice.json``: the chosen point (``hepmlp.scans.choose_point``: the
  lowest validation loss; nothing from the test split is read), its model
  folder, parameters and model entry; ``compare-models`` takes it;
- ``plots/validation_loss_vs_<key>``: the validation loss against each
  scanned key, and ``plots/validation_loss_heatmap`` for a grid over two keys.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hepmlp.errors import UserError
from hepmlp.outputs import atomic_outputs
from hepmlp.scans import CRITERION, choose_point, expand_scans, format_value, key_labels

RESULT_COLUMNS = ("validation_loss", "auc_validation", "epochs", "best_epoch", "train_seconds", "n_params")


def read_points(scan: str, point_files: Sequence[str | os.PathLike], order: Sequence[str]) -> list[dict]:
    """The ``point.json`` records of ``scan``, in ``order``; ``UserError`` if they are not its points."""
    records = {}
    for path in map(Path, point_files):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise UserError(f"{path} is not a readable point record ({error}); rerun evaluate-scan-point") from None
        if record.get("scan") != scan:
            raise UserError(f"{path} belongs to scan {record.get('scan')!r}, not {scan!r}")
        record["model_dir"] = str(path.parent)
        records[record["point"]] = record
    if set(records) != set(order):
        missing, extra = sorted(set(order) - set(records)), sorted(set(records) - set(order))
        raise UserError(f"the point records of scan {scan!r} do not match its points in the config "
                        f"(missing: {', '.join(missing) or 'none'}; not in the config: {', '.join(extra) or 'none'}); "
                        "rerun the workflow so that every point is trained and evaluated")
    return [records[name] for name in order]


def scan_table(records: Sequence[dict], keys: Sequence[str], chosen: str) -> pd.DataFrame:
    """One row per point: its name, its value of each key, the results and whether it was chosen."""
    rows = []
    for record in records:
        row = {"point": record["point"]}
        row.update({key: format_value(record["parameters"][key]) for key in keys})
        row.update({column: record.get(column) for column in RESULT_COLUMNS})
        row["chosen"] = record["point"] == chosen
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("epochs", "best_epoch", "n_params"):
        table[column] = table[column].astype("Int64")
    return table


def choice_sentence(scan: str, choice: dict) -> str:
    auc = choice.get("auc_validation")
    auc_text = "" if auc is None else f", validation AUC {auc:.4f}"
    return (f"Chosen on the validation loss: **{choice['point']}** (validation loss "
            f"{choice[CRITERION]:.5f}{auc_text}); it joins the model comparison as `{scan}`.")


def _figures(plots: Path, scan: str, definition: dict, records: list[dict], keys: list[str], chosen: int,
             formats) -> None:
    from hepmlp.evaluate.scan_plots import (
        loss_grid,
        plot_heat_map,
        plot_loss_against_key,
    )

    labels = key_labels(keys)
    losses = [record.get(CRITERION) for record in records]
    for key in keys:
        values = [record["parameters"][key] for record in records]
        plot_loss_against_key(values, losses, chosen, plots / f"validation_loss_vs_{labels[key]}", key=key,
                              label=format_value, title=f"scan {scan}: {len(records)} points", formats=formats)
    if "grid" in definition and len(keys) == 2:
        row_key, column_key = keys
        rows, columns = definition["grid"][row_key], definition["grid"][column_key]
        grid = loss_grid(rows, columns, records, row_key, column_key, format_value)
        best = records[chosen]["parameters"]
        cell = ([format_value(v) for v in rows].index(format_value(best[row_key])),
                [format_value(v) for v in columns].index(format_value(best[column_key])))
        plot_heat_map(grid, [format_value(v) for v in rows], [format_value(v) for v in columns], cell,
                      plots / "validation_loss_heatmap", row_key=row_key, column_key=column_key,
                      title=f"scan {scan}: validation loss", formats=formats)


def summarise_scan(config: dict, scan: str, point_files: Sequence[str | os.PathLike], outdir: str | os.PathLike, *,
                   progress: bool = True) -> dict:
    """Write the scan's table, choice and figures into ``outdir``; return the chosen point's record."""
    from hepmlp.config import plot_spec
    from hepmlp.evaluate.comparison import markdown_table

    scans = expand_scans(config)
    if scan not in scans:
        raise UserError(f"scan {scan!r} is not in classification.scans (configured: {', '.join(scans) or 'none'})")
    points = scans[scan]
    definition = config["classification"]["scans"][scan]
    keys = list(points[0].parameters)
    records = read_points(scan, point_files, [point.point for point in points])
    choice = dict(choose_point(records))
    choice["criterion"] = CRITERION
    table = scan_table(records, keys, choice["point"])
    formats = plot_spec(config.get("plots")).formats
    outdir = Path(outdir)
    paths = (outdir / "scan.csv", outdir / "scan.md", outdir / "choice.json", outdir / "plots")
    with atomic_outputs(*paths) as (csv_tmp, markdown_tmp, choice_tmp, plots_tmp):
        table.to_csv(csv_tmp, index=False)
        markdown_tmp.write_text(f"# Scan {scan} ({len(records)} points)\n\n" + choice_sentence(scan, choice)
                                + "\n\n" + markdown_table(table.assign(chosen=table["chosen"].map({True: "yes", False: ""})),
                                                              table.columns) + "\n")
        choice_tmp.write_text(json.dumps(choice, indent=2) + "\n")
        plots_tmp.mkdir()
        _figures(plots_tmp, scan, definition, records, keys, [r["point"] for r in records].index(choice["point"]),
                 formats)
    if progress:
        print(f"summarise-scan {scan}: " + choice_sentence(scan, choice).replace("**", ""), file=sys.stderr)
    return choice
