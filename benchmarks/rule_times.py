"""Wall time and CPU time per rule of a workflow run, from Snakemake's benchmark files.

Every rule writes ``benchmarks/results/<rule>_<wildcards>.tsv`` (Snakemake's
``benchmark:`` directive: wall seconds ``s``, ``cpu_time``, ``max_rss`` in MB,
``mean_load``).  This groups the files by rule (the rule names of
``workflow/rules/*.smk``) and prints, per rule, the number of jobs, the summed
and the largest wall time, the summed CPU time and the largest memory.  The
summed wall time over-counts jobs that ran in parallel; the run's own elapsed
time is what ``snakemake`` prints at the end (or ``time snakemake ...``).

    python benchmarks/rule_times.py [--results benchmarks/results] [--workflow workflow/rules]
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path


def rule_names(rules_dir: Path) -> list[str]:
    """The rules defined in ``rules_dir/*.smk``, longest first (so prefixes match the right one)."""
    names = set()
    for path in rules_dir.glob("*.smk"):
        names.update(re.findall(r"^rule (\w+):", path.read_text(), flags=re.MULTILINE))
    return sorted(names, key=len, reverse=True)


def benchmark_rule(stem: str, benchmark_names: list[tuple[str, str]]) -> str:
    """The rule of a benchmark file stem such as ``train_classifier_adam_fold_0``."""
    for prefix, rule in benchmark_names:
        if stem == prefix or stem.startswith(prefix + "_"):
            return rule
    return stem


def summarise(results: Path, rules_dir: Path) -> list[dict]:
    rules = rule_names(rules_dir)
    # benchmark files are named after the rule, except where the rule file says otherwise
    aliases = {"plots": "optimizer_study"}
    prefixes = sorted(((aliases.get(rule, rule), rule) for rule in rules), key=lambda item: -len(item[0]))
    table: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "wall": 0.0, "max_wall": 0.0, "cpu": 0.0, "rss": 0.0})
    for path in sorted(results.rglob("*.tsv")):  # scan points and scans write into sub-folders
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        stem = path.relative_to(results).with_suffix("").as_posix()
        if stem.startswith("scans/"):
            rule = "summarise_scan" if stem.endswith("/summarise") else "evaluate_scan_point"
        else:
            rule = benchmark_rule(stem, prefixes)
        entry = table[rule]
        wall = float(row["s"])
        entry["jobs"] += 1
        entry["wall"] += wall
        entry["max_wall"] = max(entry["max_wall"], wall)
        entry["cpu"] += float(row.get("cpu_time") or 0.0)
        entry["rss"] = max(entry["rss"], float(row.get("max_rss") or 0.0))
    return [{"rule": rule, **values} for rule, values in sorted(table.items(), key=lambda item: -item[1]["wall"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workflow", type=Path, default=Path("workflow/rules"))
    args = parser.parse_args()
    rows = summarise(args.results, args.workflow)
    print(f"{'rule':24} {'jobs':>4} {'wall sum [s]':>12} {'wall max [s]':>12} {'cpu sum [s]':>11} {'max RSS [MB]':>12}")
    for row in rows:
        print(f"{row['rule']:24} {row['jobs']:4d} {row['wall']:12.1f} {row['max_wall']:12.1f} {row['cpu']:11.1f} "
              f"{row['rss']:12.0f}")
    print(f"{'total':24} {sum(r['jobs'] for r in rows):4d} {sum(r['wall'] for r in rows):12.1f} "
          f"{'':12} {sum(r['cpu'] for r in rows):11.1f}")


if __name__ == "__main__":
    main()
