"""How much memory training a network takes, estimated before anything is allocated.

For layer sizes s_0 … s_L, P = Σ_l (s_l + 1) s_{l+1} parameters, b bytes per
value (8 for float64, 4 for float32), n training events and a batch of n_b
events (n_b = n for the full batch):

- parameters: the flat vector and its gradient, plus the best parameters kept
  for early stopping (``keep_best``): (2 + keep_best) P b, and the float64
  random numbers drawn for the largest weight matrix at initialisation;
- optimizer state: its ``state_vectors`` (gd none; momentum the velocity,
  P b; nesterov the velocity and the look-ahead gradient, 2 P b; adam both
  moments and a work vector, 3 P b); one that ``needs_hessian`` (newton) the
  search direction, P · 8;
- one batch's work buffers (``network._Workspace``): z, y and dL/dz of every
  layer and a scratch buffer per hidden layer,
  n_b (3 Σ_{l≥1} s_l + Σ_hidden s_l + 1) b; for mini-batches also the
  shuffled copy of the training set, n (s_0 + s_L + 1) b; and the validation
  loss, computed in chunks of at most ``INFERENCE_CHUNK`` events,
  2 min(n_val, chunk) Σ_{l≥1} s_l b;
- an optimizer that ``needs_hessian`` (newton): the exact Hessian in float64 (``hessian.py``): the matrix, its
  symmetrisation and its Cholesky factor, 3 P² · 8, plus the blocks of
  Hessian-vector products, (4 L + 4) max(``BLOCK_ELEMENTS``, n max_l s_l) · 8.

Pure arithmetic on sizes: nothing here allocates or asks the machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hepmlp.choices import check_choice
from hepmlp.optim.optimizers import OPTIMIZERS

from .hessian import BLOCK_ELEMENTS
from .network import INFERENCE_CHUNK

PARTS = ("parameters", "optimizer state", "work buffers of one batch", "Hessian (newton)")


def n_parameters(layer_sizes: Sequence[int]) -> int:
    """P = Σ_l (s_l + 1) s_{l+1}."""
    return sum((int(a) + 1) * int(b) for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def training_bytes(
    layer_sizes: Sequence[int],
    *,
    n_train: int,
    n_validation: int = 0,
    batch_size: int | None = None,
    optimizer: str = "gd",
    dtype: str = "float64",
    keep_best: bool = False,
) -> dict[str, int]:
    """Bytes of each part in ``PARTS`` (see the module docstring) for training this network.

    ``batch_size`` None is the full batch.  Python integers throughout, so a
    network of 10¹⁰ parameters gives its 10²⁰-byte Hessian, not an overflow.
    """
    rule = OPTIMIZERS[check_choice("optimizer", optimizer, OPTIMIZERS)]
    sizes = [int(size) for size in layer_sizes]
    value = int(np.dtype(dtype).itemsize)
    P = n_parameters(sizes)
    n_batch = n_train if batch_size is None else min(int(batch_size), n_train)
    outputs, hidden = sizes[1:], sizes[1:-1]
    largest_weights = max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    parameters = (2 + int(keep_best)) * P * value + 8 * largest_weights
    state = rule.state_vectors * P * value + (8 * P if rule.needs_hessian else 0)
    work = n_batch * (3 * sum(outputs) + sum(hidden) + 1) * value
    if batch_size is not None:
        work += n_train * (sizes[0] + sizes[-1] + 1) * value
    work += 2 * min(n_validation, INFERENCE_CHUNK) * sum(outputs) * value
    hessian = 0
    if rule.needs_hessian:
        n_layers = len(sizes) - 1
        hessian = 3 * P * P * 8 + (4 * n_layers + 4) * max(BLOCK_ELEMENTS, n_train * max(sizes)) * 8
    return dict(zip(PARTS, (parameters, state, work, hessian)))


def format_bytes(n_bytes: float) -> str:
    """``1536`` -> ``'1.5 KiB'``, in binary units up to EiB."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} EiB"
