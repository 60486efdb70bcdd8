"""Speed of hepmlp's MLP against scikit-learn's MLPClassifier, in one process.

Settings (issue 2): 20 inputs, 200k events, hidden (64, 64), sigmoid units,
mini-batch 256, Nesterov momentum 0.9, float32, no regularisation.

Prints
1. the epoch time of hepmlp and of sklearn (one ``fit`` of ``--epochs``
   epochs, divided by the epochs), fastest of ``--rounds`` alternating runs,
   and their ratio (target: hepmlp ≤ 0.6 × sklearn);
2. hepmlp's training throughput at batch 8192, in FLOP/s counting
   6 × n_params FLOPs per event (forward 2, backward 4), against the
   float32 matrix-multiply FLOP/s of this machine measured here
   (target: ≥ 30 %).

Run with the same BLAS thread count for both libraries, e.g.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/bench_mlp_vs_sklearn.py

(``--threads N`` also limits BLAS with threadpoolctl.)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from hepmlp.nn import MLP, fit

N_INPUTS = 20
HIDDEN = (64, 64)


def make_data(n_events: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A non-linear two-class problem in 20 dimensions, float32."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_events, N_INPUTS)).astype(np.float32)
    score = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.5 * X[:, 3] ** 2 - 0.5
    y = (score + 0.3 * rng.normal(size=n_events) > 0).astype(np.float32)
    return X, y


def hepmlp_epoch_seconds(X, y, *, batch_size: int, epochs: int) -> tuple[list[float], float]:
    """Seconds per epoch and the last epoch's training loss."""
    model = MLP(N_INPUTS, HIDDEN, activation="sigmoid", output="sigmoid", seed=0, dtype="float32")
    history = fit(model, X, y, loss="cross_entropy", optimizer="nesterov", learning_rate=0.01,
                  epochs=epochs, batch_size=batch_size, tol=None, seed=0,
                  optimizer_options={"momentum": 0.9})
    assert model.params.dtype == np.float32
    return history.seconds, history.train_loss[-1]


def sklearn_epoch_seconds(X, y, *, batch_size: int, epochs: int) -> tuple[list[float], float]:
    """Seconds per epoch (one fit of ``epochs`` epochs) and the last epoch's training loss."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(hidden_layer_sizes=HIDDEN, activation="logistic", solver="sgd",
                               alpha=0.0, batch_size=batch_size, learning_rate_init=0.01,
                               momentum=0.9, nesterovs_momentum=True, max_iter=epochs,
                               shuffle=True, random_state=0, tol=0.0,
                               n_iter_no_change=epochs + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        started = time.perf_counter()
        classifier.fit(X, y)
        total = time.perf_counter() - started
    assert classifier.coefs_[0].dtype == np.float32 and classifier.n_iter_ == epochs
    return [total / epochs] * epochs, float(classifier.loss_curve_[-1])


def matmul_flops(size: int = 2048, repeats: int = 5) -> float:
    """float32 matrix-multiply FLOP/s: 2 n³ per (n × n)·(n × n) product, best of ``repeats``."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(size, size)).astype(np.float32)
    b = rng.normal(size=(size, size)).astype(np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate hepmlp and sklearn this many times; keep the fastest "
                             "epoch of each (robust against other load on the machine)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads for both")
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads):
        X, y = make_data(args.events)
        n_params = MLP(N_INPUTS, HIDDEN).n_params
        ours = theirs = big = np.inf
        peak = 0.0
        for _ in range(args.rounds):
            seconds, our_loss = hepmlp_epoch_seconds(X, y, batch_size=256, epochs=args.epochs)
            ours = min(ours, *seconds)
            seconds, their_loss = sklearn_epoch_seconds(X, y, batch_size=256, epochs=args.epochs)
            theirs = min(theirs, *seconds)
            peak = max(peak, matmul_flops())
            big = min(big, *hepmlp_epoch_seconds(X, y, batch_size=8192, epochs=args.epochs)[0])
        print(f"{args.events} events, {N_INPUTS} inputs, hidden {HIDDEN}, sigmoid, float32, "
              f"nesterov 0.9, batch 256, {n_params} parameters, BLAS threads {args.threads or 'default'}, "
              f"fastest of {args.rounds} rounds")
        print(f"epoch time  hepmlp {ours:.3f} s   sklearn {theirs:.3f} s   "
              f"ratio {ours / theirs:.2f} (target <= 0.60)")
        print(f"train loss after {args.epochs} epochs  hepmlp {our_loss:.4f}   sklearn {their_loss:.4f}")
        events_per_second = args.events / big
        achieved = 6 * n_params * events_per_second
        print(f"batch 8192  {big:.3f} s/epoch  {events_per_second:,.0f} events/s  "
              f"{achieved / 1e9:.1f} GFLOP/s (6 x params per event)")
        print(f"float32 matmul {peak / 1e9:.1f} GFLOP/s   fraction {achieved / peak:.0%} "
              f"(target >= 30%)")


if __name__ == "__main__":
    main()
