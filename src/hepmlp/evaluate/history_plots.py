"""Loss histories: one model with its learning rate, and several models side by side.

A history is the ``history.csv`` table of a model folder: columns ``epoch``,
``train_loss``, ``validation_loss``, ``learning_rate`` and ``seconds`` (the
wall time of each epoch).  Losses are drawn on a log scale when they span
more than a factor ``LOG_SCALE_RATIO``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hepmlp.choices import check_choice
from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure

LOG_SCALE_RATIO = 10.0


def _wants_log_scale(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > LOG_SCALE_RATIO)


def elapsed_seconds(history: pd.DataFrame) -> np.ndarray:
    """Wall-clock time at the end of each epoch: the running sum of ``seconds``."""
    return np.nancumsum(history["seconds"].to_numpy(dtype=np.float64))


def plot_loss_history(
    history: pd.DataFrame,
    stem: str | os.PathLike,
    *,
    best_epoch: int | None = None,
    loss_label: str = "Loss",
    title: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """Train and validation loss per epoch, the learning rate η on a second axis, the best epoch marked."""
    figure, ax = new_figure()
    epochs = history["epoch"].to_numpy()
    train = history["train_loss"].to_numpy(dtype=np.float64)
    validation = history["validation_loss"].to_numpy(dtype=np.float64)
    ax.plot(epochs, train, color=colour(0), marker="o", markersize=2.5, linewidth=1.6, label="train")
    if np.any(np.isfinite(validation)):
        ax.plot(epochs, validation, color=colour(1), marker="s", markersize=2.5, linewidth=1.6, label="validation")
    if _wants_log_scale(np.concatenate([train, validation])):
        ax.set_yscale("log")
    if best_epoch is not None:
        ax.axvline(best_epoch, color=colour(2), linestyle="--", linewidth=1.2, label=f"best epoch {best_epoch}")
    ax.set_xlabel("Epoch")
    ax.set_ylabel(loss_label)
    rates = history["learning_rate"].to_numpy(dtype=np.float64)
    handles, labels = ax.get_legend_handles_labels()
    if np.any(np.isfinite(rates)):
        rate_axis = ax.twinx()
        rate_axis.plot(epochs, rates, color="grey", linestyle=":", linewidth=1.5, label=r"learning rate $\eta$")
        if _wants_log_scale(rates):
            rate_axis.set_yscale("log")
        rate_axis.set_ylabel(r"Learning rate $\eta$", color="grey")
        rate_axis.tick_params(axis="y", colors="grey")
        more_handles, more_labels = rate_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, loc="upper right", fontsize="x-small", title=title, title_fontsize="x-small")
    return save_figure(figure, stem, formats)


def plot_loss_comparison(
    histories: Mapping[str, pd.DataFrame],
    stem: str | os.PathLike,
    *,
    against: str = "epoch",
    loss_label: str = "Loss",
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """Every model's validation loss (solid) and train loss (dashed) against ``epoch`` or ``seconds``."""
    check_choice("against", against, ("epoch", "seconds"))
    figure, ax = new_figure(width=9.0)
    pooled = []
    for index, (name, history) in enumerate(histories.items()):
        x = history["epoch"].to_numpy() if against == "epoch" else elapsed_seconds(history)
        line_colour = colour(index)
        train = history["train_loss"].to_numpy(dtype=np.float64)
        validation = history["validation_loss"].to_numpy(dtype=np.float64)
        ax.plot(x, train, color=line_colour, linestyle="--", linewidth=1.2, label=f"{name} train")
        if np.any(np.isfinite(validation)):
            ax.plot(x, validation, color=line_colour, linewidth=1.8, label=f"{name} validation")
        pooled.extend([train, validation])
    if pooled and _wants_log_scale(np.concatenate(pooled)):
        ax.set_yscale("log")
    if against == "seconds" and any(elapsed_seconds(h).max(initial=0) > 0 for h in histories.values()):
        ax.set_xscale("log")
    ax.set_xlabel("Epoch" if against == "epoch" else "Wall-clock training time [s]")
    ax.set_ylabel(loss_label)
    ax.legend(fontsize="xx-small", ncols=2, loc="upper right")
    return save_figure(figure, stem, formats)
