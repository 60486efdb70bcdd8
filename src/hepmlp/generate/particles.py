"""A batch of generated events as flat NumPy arrays, and helpers on them.

The detector model works on all particles of a batch of events at once.  A
``ParticleBatch`` stores the full event record of ``n_events`` events as flat
arrays of length ``n_particles`` (all events concatenated) plus ``offsets`` of
shape ``(n_events + 1,)``: event ``k`` owns particles
``offsets[k]:offsets[k + 1]``.  ``mother1`` is an index *inside* the event,
as in Pythia's record (0 = the event-as-a-whole entry, i.e. no mother).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

NEUTRINO_IDS = (12, 14, 16)


@dataclass(frozen=True)
class ParticleBatch:
    """Flat event records of a batch of events (see the module docstring)."""

    pdg_id: np.ndarray  # (n_particles,) int32, PDG code
    status: np.ndarray  # (n_particles,) int32, > 0 for final-state particles
    mother1: np.ndarray  # (n_particles,) int32, index within the event
    px: np.ndarray  # (n_particles,) float64, GeV
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    offsets: np.ndarray  # (n_events + 1,) int64

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @property
    def event_index(self) -> np.ndarray:
        """(n_particles,) the event each particle belongs to."""
        return np.repeat(np.arange(self.n_events), np.diff(self.offsets))

    @classmethod
    def from_pythia_batch(cls, particles: ak.Array) -> ParticleBatch:
        """Build from the ``prt`` field of ``pythia8mc.Pythia.nextBatch``."""
        counts = ak.to_numpy(ak.num(particles, axis=1))
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])

        def flat(array: ak.Array, dtype: type) -> np.ndarray:
            return np.ascontiguousarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=dtype)

        momentum = particles.p
        return cls(
            pdg_id=flat(particles.id, np.int32),
            status=flat(particles.status, np.int32),
            mother1=flat(particles.mother1, np.int32),
            px=flat(momentum.px, np.float64),
            py=flat(momentum.py, np.float64),
            pz=flat(momentum.pz, np.float64),
            energy=flat(momentum.e, np.float64),
            offsets=offsets,
        )


def transverse_momentum(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """pT = sqrt(px^2 + py^2)."""
    return np.hypot(px, py)


def pseudorapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """eta = asinh(pz / pT); +-1e10-ish for particles along the beam (pT = 0)."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    return np.where(pt > 0, eta, np.copysign(1e10, pz))


def azimuth(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """phi = atan2(py, px) in (-pi, pi]."""
    return np.arctan2(py, px)


def delta_phi(phi_a: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    """phi_a - phi_b wrapped into [-pi, pi)."""
    return (phi_a - phi_b + np.pi) % (2 * np.pi) - np.pi


def is_neutrino(pdg_id: np.ndarray) -> np.ndarray:
    return np.isin(np.abs(pdg_id), NEUTRINO_IDS)


def heavy_flavour(pdg_id: np.ndarray) -> np.ndarray:
    """Heavy-quark content of hadrons: 2 = contains a b quark, 1 = c (no b), 0 = other.

    A hadron code ends in the quark digits (PDG numbering scheme): mesons
    ``nq2 nq3 nJ`` and baryons ``nq1 nq2 nq3 nJ``, each ordered with the
    heaviest quark first, so a b quark shows in the thousands or hundreds
    digit.  Codes below 100 (quarks, leptons, bosons, Pythia's internal 81-99)
    and diquarks (four digits with ``nq3 == 0``) are not hadrons and get 0.
    """
    code = np.abs(pdg_id) % 10_000  # quark and spin digits only
    thousands = code // 1000
    hundreds = (code // 100) % 10
    tens = (code // 10) % 10
    hadron = (code >= 100) & ~((thousands > 0) & (tens == 0))
    has_b = (thousands == 5) | (hundreds == 5)
    has_c = (thousands == 4) | (hundreds == 4) | (tens == 4)
    flavour = np.where(has_b, 2, np.where(has_c, 1, 0))
    return np.where(hadron, flavour, 0).astype(np.int8)


def pair_indices(group_event: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (object, particle) pairs within the same event.

    ``group_event`` (n_objects,) gives each object's event; ``offsets`` are the
    particle offsets of the batch.  Returns ``(object_index, particle_index)``,
    both of shape (n_pairs,), where object ``i`` pairs with every particle of
    its event: n_pairs = sum_i count[event_i].
    """
    starts = offsets[group_event]
    counts = offsets[group_event + 1] - starts
    object_index = np.repeat(np.arange(len(group_event)), counts)
    pair_starts = np.cumsum(counts) - counts  # first pair of each object
    particle_index = np.arange(counts.sum()) - np.repeat(pair_starts - starts, counts)
    return object_index, particle_index
