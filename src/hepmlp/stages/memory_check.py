"""Refuse to train a network that cannot fit in memory, before allocating it.

The estimate is ``hepmlp.nn.memory.training_bytes``.  What is available:

- under Snakemake, the job's ``mem_mb`` (the rule passes ``--mem-mb
  {resources.mem_mb}``; megabytes of 10⁶ bytes, as Snakemake counts them),
  less what this process already holds (its resident set: the data, the
  libraries);
- otherwise ``MemAvailable`` of ``/proc/meminfo`` (the machine's memory that
  can be had without swapping), or the physical memory where that file is
  missing.

Too much is a ``UserError`` that gives the estimate per part, what is
available and where that number comes from, and the config key to change.
"""

from __future__ import annotations

import os
from pathlib import Path

from hepmlp.errors import UserError
from hepmlp.nn.memory import format_bytes, training_bytes
from hepmlp.specs import ModelSpec

_FIXES = {
    "parameters": "fewer units in {key}.hidden",
    "optimizer state": "fewer units in {key}.hidden, or optimizer gd (no state)",
    "work buffers of one batch": "a smaller {key}.training.batch_size (null is the whole training set)",
    "Hessian (newton)": "fewer units in {key}.hidden, or an optimizer other than newton",
}


def _meminfo_kib(path: Path, field: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == field:
                return int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return None


def resident_bytes() -> int:
    """This process's resident set size (``VmRSS``), 0 where it cannot be read."""
    kib = _meminfo_kib(Path("/proc/self/status"), "VmRSS")
    return 0 if kib is None else kib * 1024


def available_memory(mem_mb: int | None = None) -> tuple[int, str]:
    """``(bytes available to training, where that number comes from)``."""
    if mem_mb is not None:
        held = resident_bytes()
        return (int(mem_mb) * 10**6 - held,
                f"the job's mem_mb = {mem_mb} less the {format_bytes(held)} this process already holds")
    kib = _meminfo_kib(Path("/proc/meminfo"), "MemAvailable")
    if kib is not None:
        return kib * 1024, "MemAvailable of this machine"
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "the machine's physical memory"


def check_training_memory(spec: ModelSpec, *, key: str, rule: str, n_inputs: int, n_outputs: int,
                          n_train: int, n_validation: int, mem_mb: int | None = None,
                          available: tuple[int, str] | None = None) -> dict[str, int]:
    """The estimate per part; ``UserError`` when it exceeds what is available.

    ``key``: the model's config key (``classification.models.adam``);
    ``rule``: the Snakemake rule whose ``mem_mb`` bounds the job;
    ``available``: ``(bytes, source)`` instead of asking ``available_memory(mem_mb)``.
    """
    training = spec.training
    layer_sizes = (n_inputs, *spec.hidden, n_outputs)
    parts = training_bytes(
        layer_sizes, n_train=n_train, n_validation=n_validation,
        batch_size=training.batch_size,
        optimizer=spec.optimizer.name,
        dtype=training.dtype,
        keep_best=training.patience is not None and n_validation > 0,
    )
    needed = sum(parts.values())
    limit, source = available if available is not None else available_memory(mem_mb)
    if needed <= limit:
        return parts
    largest = max(parts, key=parts.__getitem__)
    breakdown = ", ".join(f"{part} {format_bytes(size)}" for part, size in parts.items() if size)
    more = (f"or give the job more memory (snakemake --set-resources {rule}:mem_mb=...)"
            if mem_mb is not None else "or run it on a machine with more memory")
    raise UserError(
        f"training {key} (layers {list(layer_sizes)}, {n_train} events) needs an estimated "
        f"{format_bytes(needed)} ({breakdown}), but only {format_bytes(max(limit, 0))} are available "
        f"({source}); the largest part is the {largest}: use {_FIXES[largest].format(key=key)}, {more}"
    )
