"""Cost of the physics result inside ``hepmlp evaluate-classifier``.

For each model of a finished run (default: every model folder of
``results/classification`` with a ``metrics.json``: one model, or k fold
models), in one process:

- ``evaluation``: ``evaluate_classifier`` as the rule runs it, all figures
  and files included (k folds: every event's out-of-fold score);
- ``physics``: the part the physics result adds (``physics_metrics``):
  template binning and histograms, the pyhf workspace, pyhf's expected
  significance and CLs limits, and the Poisson bootstrap of the ROC and of
  Z_A, split into its three pieces;

and prints a table with the model's AUC with its interval, Z_A, pyhf's Z and
the expected limit on μ.  Target (issue 14): the physics result stays a
small part of an evaluation job.  The table's timings are medians over
``--repeats`` in a warm process; the line before it times the first
``physics_metrics`` call of this fresh process (pyhf's import and first
fits included), as each evaluation job pays it.

    /work/venv/bin/python benchmarks/bench_physics.py [--run .] [--repeats 3] [--model adam ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from hepmlp.config import evaluation_spec, load_config
from hepmlp.data.store import read_info
from hepmlp.evaluate import bootstrap, significance
from hepmlp.evaluate.classifier_metrics import BACKGROUND_EFFICIENCY_POINTS
from hepmlp.evaluate.classifier_report import evaluate_classifier
from hepmlp.evaluate.evaluation import evaluate_model
from hepmlp.evaluate.physics import BAND_GRID
from hepmlp.evaluate.physics_report import physics_metrics, physics_table
from hepmlp.evaluate.templates import bin_index, build_templates, template_edges


def median_seconds(function, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (this process, all threads) of ``function()``."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=".", help="folder of a finished run (with results/)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", action="append", help="model name (default: all)")
    parser.add_argument("--config", default=None, help="the run's config (default: RUN/config/config.yaml)")
    args = parser.parse_args()
    run = Path(args.run)
    config = load_config(args.config or run / "config" / "config.yaml")
    dataset = run / "results" / "dataset"
    info = read_info(dataset)
    stage_spec = evaluation_spec(config)
    settings = stage_spec.physics
    classification = run / "results" / "classification"
    names = args.model or sorted(p.parent.name for p in classification.glob("*/metrics.json")
                                 if p.parent.name != "comparison")
    print(f"{info['split']['method']} split, {settings.resamples} resamples, {args.repeats} repeats")
    first = evaluate_model(classification / names[0], dataset)
    wall, cpu = median_seconds(lambda: physics_metrics(settings, first, name=names[0]), 1)
    print(f"first physics_metrics call in a fresh process ({names[0]}, pyhf import included): "
          f"{wall:.2f} s wall / {cpu:.2f} s CPU")
    header = ("model", "events", "AUC [95% CI]", "Z_A", "pyhf Z", "mu95 [-1s, +1s]", "eval s", "physics s",
              "binning s", "pyhf s", "bootstrap s")
    print("seconds as wall / CPU")
    print(" | ".join(header))
    for name in names:
        folder = classification / name
        evaluation = evaluate_model(folder, dataset)
        v = evaluate_classifier(stage_spec, folder, dataset, progress=False)
        whole = median_seconds(lambda: evaluate_classifier(stage_spec, folder, dataset, progress=False), args.repeats)
        physics = median_seconds(lambda: physics_metrics(settings, evaluation, name=name), args.repeats)
        scores, is_signal, weights, yields, samples = physics_table(evaluation)

        def binning():
            edges = template_edges(scores, is_signal, yields, binning=settings.binning, bins=settings.bins,
                                   min_background_events=settings.min_background_events)
            return build_templates(scores, is_signal, yields, samples, edges)

        templates = binning()
        workspace = significance.workspace(templates, normalisation_uncertainty=settings.normalisation_uncertainty,
                                      mu_max=significance.suggested_mu_max(templates))

        def resample():
            counts = bootstrap.poisson_counts(scores.size, resamples=settings.resamples, seed=settings.seed)
            bootstrap.roc_replicates(scores, is_signal, weights, counts,
                                     targets=np.array(list(BACKGROUND_EFFICIENCY_POINTS.values())), grid=BAND_GRID)
            bins = bin_index(scores, templates.edges)
            bootstrap.asimov_replicates(bins, is_signal, yields, counts, templates.n_bins)
            bootstrap.asimov_replicates(bins, is_signal, yields, counts, templates.n_bins, with_mc_uncertainty=True)

        times = [median_seconds(f, args.repeats) for f in (binning, lambda: significance.pyhf_results(workspace),
                                                            resample)]
        auc = f"{v['auc_test']:.4f} [{v['auc_test_low']:.4f}, {v['auc_test_high']:.4f}]"
        limit = (f"{v['upper_limit_mu']:.4f} "
                 f"[{v['upper_limit_mu_minus1sigma']:.4f}, {v['upper_limit_mu_plus1sigma']:.4f}]")
        print(" | ".join([name, str(scores.size), auc, f"{v['significance_asimov']:.2f}",
                          f"{v['significance_pyhf']:.2f}", limit,
                          *(f"{w:.2f} / {c:.2f}" for w, c in (whole, physics)),
                          *(f"{w:.3f} / {c:.3f}" for w, c in times)]))


if __name__ == "__main__":
    main()
