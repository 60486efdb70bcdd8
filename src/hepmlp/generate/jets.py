"""Anti-kT jets with ghost-matched heavy-flavour labels, clustered with fastjet.

All events of a batch are clustered in one call of fastjet's Awkward
interface (``fastjet.ClusterSequence`` on a jagged array of four-vectors),
which loops over events in C++.

Ghost association (Cacciari, Salam, Soyez, JHEP 0804:005; the standard
"ghost B hadron" labelling): every B and C hadron of the event record is
added to the clustering input with its direction kept and its momentum
scaled down to pT = 1e-10 GeV.  Such a ghost changes no jet, but it ends up
in exactly one of them; a jet holding a B-hadron ghost is a b jet, else one
holding a C-hadron ghost is a c jet, else a light jet.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

GHOST_PT = 1e-10  # GeV


@dataclass(frozen=True)
class ClusteredJets:
    """Jets of a batch, flat over all events (n_jets,), in fastjet's order."""

    event: np.ndarray  # (n_jets,) int64 event index within the batch
    px: np.ndarray  # (n_jets,) float64 GeV
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    flavour: np.ndarray  # (n_jets,) int8: 2 = b (B-hadron ghost), 1 = c, 0 = light


def ghost_momenta(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Massless four-vectors along (px, py, pz) with pT = GHOST_PT.

    Returns (px, py, pz, E), each of the input shape; a hadron along the beam
    (pT = 0) has no direction in (eta, phi) and must be dropped beforehand.
    """
    scale = GHOST_PT / np.hypot(px, py)
    gx, gy, gz = px * scale, py * scale, pz * scale
    return gx, gy, gz, np.sqrt(gx**2 + gy**2 + gz**2)


def cluster_jets(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    energy: np.ndarray,
    flavour: np.ndarray,
    offsets: np.ndarray,
    *,
    radius: float,
    pt_min: float,
) -> ClusteredJets:
    """Cluster anti-kT jets with ``radius`` per event and keep those with pT > ``pt_min``.

    Inputs are flat arrays (n_inputs,) over all events with event ``k`` owning
    ``offsets[k]:offsets[k + 1]`` (shape (n_events + 1,)).  ``flavour``
    (n_inputs,) labels ghosts (2 = B hadron, 1 = C hadron, 0 = real
    particle); a jet's flavour is the largest label among its constituents.
    """
    n_events = len(offsets) - 1
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(a, dtype=np.float64)) for a in (px, py, pz, energy)],
        ["px", "py", "pz", "E"],
    )
    events = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets.astype(np.int64)), record))
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, float(radius))
    sequence = fastjet.ClusterSequence(events, definition)
    jets = sequence.inclusive_jets(min_pt=float(pt_min))
    constituents = sequence.constituent_index(min_pt=float(pt_min))

    jets_per_event = ak.to_numpy(ak.num(jets, axis=1))
    jet_event = np.repeat(np.arange(n_events), jets_per_event)
    constituents_per_jet = ak.to_numpy(ak.flatten(ak.num(constituents, axis=2), axis=None))
    local_index = ak.to_numpy(ak.flatten(constituents, axis=None)).astype(np.int64)
    constituent_event = np.repeat(jet_event, constituents_per_jet)
    constituent_flavour = flavour[offsets[constituent_event] + local_index]
    if len(constituents_per_jet):
        jet_starts = np.cumsum(constituents_per_jet) - constituents_per_jet
        jet_flavour = np.maximum.reduceat(constituent_flavour, jet_starts).astype(np.int8)
    else:
        jet_flavour = np.zeros(0, dtype=np.int8)

    def flat(field: str) -> np.ndarray:
        return ak.to_numpy(ak.flatten(jets[field], axis=1)).astype(np.float64)

    return ClusteredJets(
        event=jet_event,
        px=flat("px"),
        py=flat("py"),
        pz=flat("pz"),
        energy=flat("E"),
        flavour=jet_flavour,
    )


def jet_energy_resolution(energy: np.ndarray, *, stochastic: float, constant: float) -> np.ndarray:
    """Relative resolution sigma_E / E = a / sqrt(E) (+) c, added in quadrature."""
    return np.sqrt(stochastic**2 / np.maximum(energy, 1e-9) + constant**2)
