"""A parametrised detector: Pythia's particles in, NanoAOD-like objects out.

Every parameter is a field of ``DetectorParameters`` with a documented
default; ``generate.events.detector`` in the config overrides any of them.
The model, applied to all events of a batch at once with NumPy:

Leptons (electrons and muons)
    Candidates are final-state e and mu.  With ``prompt_leptons_only`` (the
    default) only prompt ones are kept: following ``mother1`` through copies
    of the lepton (radiation recoils) and through taus, the first other
    ancestor must not be a hadron (W, Z, photon splitting: kept; B, D, pi
    decays: dropped).  Each lepton is reconstructed with probability
    ``<flavour>_efficiency``, its pT is smeared with a Gaussian of relative
    width ``<flavour>_momentum_resolution`` (eta, phi unchanged) and it must
    have smeared pT > ``lepton_pt_min`` and |eta| < ``lepton_eta_max``.
    Relative isolation is ``iso = sum pT(visible final-state particles
    other than the lepton, Delta R < isolation_cone) / pT(lepton)``; the
    selected leptons have ``iso < isolation_max``.  Charge = -sign(PDG id).

Jets
    Anti-kT, R = ``jet_radius``, from visible final-state particles (not
    neutrinos) with |eta| < ``calorimeter_eta_max``, without the selected
    leptons (see ``hepmlp.generate.jets``).  The jet four-vector is scaled
    by 1 + sigma N(0, 1), sigma/E = a/sqrt(E) (+) c (``jet_resolution_*``);
    jets need smeared pT > ``jet_pt_min`` and |eta| < ``jet_eta_max``.
    b-tagging: a jet inside |eta| < ``btag_eta_max`` is tagged with
    probability ``btag_efficiency`` (b jet), ``btag_mistag_c`` (c jet) or
    ``btag_mistag_light``.

Missing transverse momentum
    p_T^miss = -(sum of visible particles within the calorimeter, with the
    selected leptons and the jets above jet_pt_min / 2 replaced by their
    smeared momenta) + (N(0, s), N(0, s)) with s = ``met_resolution`` *
    sqrt(sum E_T of the visible particles) per component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import awkward as ak
import numpy as np

from hepmlp.errors import UserError
from hepmlp.generate.jets import cluster_jets, ghost_momenta, jet_energy_resolution
from hepmlp.generate.particles import (
    ParticleBatch,
    azimuth,
    delta_phi,
    heavy_flavour,
    is_neutrino,
    pair_indices,
    pseudorapidity,
)

ELECTRON, MUON, TAU = 11, 13, 15
MAX_COPY_DEPTH = 64  # radiation copies of one lepton; far above what Pythia makes


@dataclass(frozen=True)
class DetectorParameters:
    """Detector parameters (GeV, relative widths, probabilities); see module docstring.

    Defaults are ATLAS/CMS-like round numbers; the config file lists most of them.
    """

    lepton_pt_min: float = 10.0  # GeV, on the smeared pT
    lepton_eta_max: float = 2.5  # tracker coverage
    muon_efficiency: float = 0.95
    electron_efficiency: float = 0.90
    muon_momentum_resolution: float = 0.01  # sigma(pT)/pT
    electron_momentum_resolution: float = 0.02
    prompt_leptons_only: bool = True  # drop leptons from hadron decays (truth)
    isolation_cone: float = 0.3  # Delta R
    isolation_max: float = 0.15  # cut on the relative isolation of selected leptons
    calorimeter_eta_max: float = 4.9  # particles further forward are lost (forward calorimeter edge)
    jet_radius: float = 0.4
    jet_pt_min: float = 20.0  # GeV, on the smeared pT
    jet_eta_max: float = 4.7
    jet_resolution_stochastic: float = 1.0  # a in sigma/E = a/sqrt(E/GeV) (+) c
    jet_resolution_constant: float = 0.05  # c
    btag_efficiency: float = 0.70
    btag_mistag_c: float = 0.10
    btag_mistag_light: float = 0.01
    btag_eta_max: float = 2.5  # b-tagging needs tracks
    met_resolution: float = 0.05  # GeV^1/2: sigma per component = met_resolution * sqrt(sum ET / GeV)

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, *, where: str = "generate.events.detector"):
        """Defaults overridden by ``section``; unknown keys or bad values raise UserError."""
        section = dict(section or {})
        valid = [field.name for field in fields(cls)]
        unknown = sorted(set(section) - set(valid))
        if unknown:
            raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
        values = {}
        for name, value in section.items():
            if name == "prompt_leptons_only":
                if not isinstance(value, bool):
                    raise UserError(f"{where}.{name}: must be true or false, got {value!r}")
                values[name] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                raise UserError(f"{where}.{name}: must be a finite number, got {value!r}")
            if value < 0 or (name in _PROBABILITIES and value > 1):
                allowed = "between 0 and 1" if name in _PROBABILITIES else "non-negative"
                raise UserError(f"{where}.{name}: must be {allowed}, got {value!r}")
            values[name] = float(value)
        if values.get("jet_radius", 1.0) == 0 or values.get("isolation_cone", 1.0) == 0:
            raise UserError(f"{where}: jet_radius and isolation_cone must be positive")
        return cls(**values)


_PROBABILITIES = {"muon_efficiency", "electron_efficiency", "btag_efficiency", "btag_mistag_c", "btag_mistag_light"}


def prompt_lepton_mask(batch: ParticleBatch, candidates: np.ndarray) -> np.ndarray:
    """(len(candidates),) True where the lepton does not come from a hadron decay.

    ``candidates`` are global particle indices.  Walk up ``mother1`` while the
    mother is a copy of the lepton (same PDG id) or a tau; the next ancestor
    decides (a hadron, |id| >= 100, makes the lepton non-prompt).
    """
    start = batch.offsets[batch.event_index[candidates]]
    current = candidates.copy()
    for _ in range(MAX_COPY_DEPTH):
        mother = start + batch.mother1[current]
        mother_id = batch.pdg_id[mother]
        step_up = (batch.mother1[current] > 0) & ((mother_id == batch.pdg_id[candidates]) | (np.abs(mother_id) == TAU))
        if not step_up.any():
            break
        current = np.where(step_up, mother, current)
    ancestor = start + batch.mother1[current]
    return np.abs(batch.pdg_id[ancestor]) < 100


def _jagged(event: np.ndarray, n_events: int, sort_key: np.ndarray, columns: dict[str, np.ndarray]) -> ak.Array:
    """Jagged record array (n_events, var) of objects, each event sorted by decreasing ``sort_key``."""
    order = np.lexsort((-sort_key, event))
    counts = np.bincount(event, minlength=n_events)
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(values[order])) for values in columns.values()],
        list(columns),
        length=len(order),
    )
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))


def simulate_detector(
    batch: ParticleBatch, rng: np.random.Generator, parameters: DetectorParameters | None = None
) -> dict[str, Any]:
    """Reconstructed objects of every event of ``batch``.

    Returns ``{"Electron", "Muon", "Lepton", "Jet"}`` as jagged Awkward
    record arrays of length n_events (fields pt, eta, phi, charge, iso
    [+ pdgId for Lepton]; pt, eta, phi, mass, btag for Jet), each event
    pT-ordered, and ``"MET_pt"``, ``"MET_phi"`` as (n_events,) arrays.
    """
    p = parameters or DetectorParameters()
    n_events = batch.n_events
    event_index = batch.event_index
    pt = np.hypot(batch.px, batch.py)
    eta = pseudorapidity(batch.px, batch.py, batch.pz)
    phi = azimuth(batch.px, batch.py)
    final = batch.status > 0
    visible = final & ~is_neutrino(batch.pdg_id) & (np.abs(eta) < p.calorimeter_eta_max)
    visible_index = np.flatnonzero(visible)
    visible_offsets = np.searchsorted(visible_index, batch.offsets)

    # --- leptons ------------------------------------------------------------------
    flavour_abs = np.abs(batch.pdg_id)
    candidates = np.flatnonzero(final & ((flavour_abs == ELECTRON) | (flavour_abs == MUON)))
    if p.prompt_leptons_only:
        candidates = candidates[prompt_lepton_mask(batch, candidates)]
    is_muon = flavour_abs[candidates] == MUON
    resolution = np.where(is_muon, p.muon_momentum_resolution, p.electron_momentum_resolution)
    efficiency = np.where(is_muon, p.muon_efficiency, p.electron_efficiency)
    smeared_pt = pt[candidates] * np.maximum(1.0 + resolution * rng.standard_normal(len(candidates)), 0.0)
    found = rng.random(len(candidates)) < efficiency
    accepted = found & (smeared_pt > p.lepton_pt_min) & (np.abs(eta[candidates]) < p.lepton_eta_max)
    candidates, smeared_pt = candidates[accepted], smeared_pt[accepted]

    lepton_event = event_index[candidates]
    pair_lepton, pair_visible = pair_indices(lepton_event, visible_offsets)
    other = visible_index[pair_visible]
    near = (other != candidates[pair_lepton]) & (
        np.hypot(eta[other] - eta[candidates[pair_lepton]], delta_phi(phi[other], phi[candidates[pair_lepton]]))
        < p.isolation_cone
    )
    cone_sum = np.bincount(pair_lepton, weights=np.where(near, pt[other], 0.0), minlength=len(candidates))
    isolation = cone_sum / smeared_pt
    isolated = isolation < p.isolation_max
    selected, smeared_pt, isolation = candidates[isolated], smeared_pt[isolated], isolation[isolated]
    lepton_event = event_index[selected]
    pdg_id = batch.pdg_id[selected]
    lepton_columns = {
        "pt": smeared_pt.astype(np.float32),
        "eta": eta[selected].astype(np.float32),
        "phi": phi[selected].astype(np.float32),
        "charge": (-np.sign(pdg_id)).astype(np.int32),
        "iso": isolation.astype(np.float32),
    }
    objects: dict[str, Any] = {}
    for name, code in (("Electron", ELECTRON), ("Muon", MUON)):
        mask = np.abs(pdg_id) == code
        columns = {key: values[mask] for key, values in lepton_columns.items()}
        objects[name] = _jagged(lepton_event[mask], n_events, smeared_pt[mask], columns)
    lepton_columns["pdgId"] = pdg_id.astype(np.int32)
    objects["Lepton"] = _jagged(lepton_event, n_events, smeared_pt, lepton_columns)

    # --- jets ---------------------------------------------------------------------
    ghost_flavour = heavy_flavour(batch.pdg_id)
    is_ghost = (ghost_flavour > 0) & ~final & (pt > 0)
    jet_input = visible | is_ghost
    jet_input[selected] = False
    inputs = np.flatnonzero(jet_input)
    px, py, pz, energy = (batch.px[inputs], batch.py[inputs], batch.pz[inputs], batch.energy[inputs])
    ghosts = is_ghost[inputs]
    px[ghosts], py[ghosts], pz[ghosts], energy[ghosts] = ghost_momenta(px[ghosts], py[ghosts], pz[ghosts])
    jets = cluster_jets(
        px, py, pz, energy, ghost_flavour[inputs], np.searchsorted(inputs, batch.offsets),
        radius=p.jet_radius, pt_min=0.5 * p.jet_pt_min,
    )  # fmt: skip
    sigma = jet_energy_resolution(
        jets.energy, stochastic=p.jet_resolution_stochastic, constant=p.jet_resolution_constant
    )
    scale = np.maximum(1.0 + sigma * rng.standard_normal(len(sigma)), 0.0)
    jet_px, jet_py, jet_pz, jet_energy = jets.px * scale, jets.py * scale, jets.pz * scale, jets.energy * scale
    jet_pt = np.hypot(jet_px, jet_py)
    jet_eta = pseudorapidity(jet_px, jet_py, jet_pz)
    tag_probability = np.select(
        [jets.flavour == 2, jets.flavour == 1], [p.btag_efficiency, p.btag_mistag_c], p.btag_mistag_light
    )
    tagged = (rng.random(len(jet_pt)) < tag_probability) & (np.abs(jet_eta) < p.btag_eta_max)
    keep = (jet_pt > p.jet_pt_min) & (np.abs(jet_eta) < p.jet_eta_max)
    mass = np.sqrt(np.maximum(jet_energy**2 - jet_px**2 - jet_py**2 - jet_pz**2, 0.0))
    objects["Jet"] = _jagged(
        jets.event[keep],
        n_events,
        jet_pt[keep],
        {
            "pt": jet_pt[keep].astype(np.float32),
            "eta": jet_eta[keep].astype(np.float32),
            "phi": azimuth(jet_px[keep], jet_py[keep]).astype(np.float32),
            "mass": mass[keep].astype(np.float32),
            "btag": tagged[keep],
        },
    )

    # --- missing transverse momentum ----------------------------------------------------
    visible_event = event_index[visible_index]
    sum_px = np.bincount(visible_event, weights=batch.px[visible_index], minlength=n_events)
    sum_py = np.bincount(visible_event, weights=batch.py[visible_index], minlength=n_events)
    sum_et = np.bincount(visible_event, weights=pt[visible_index], minlength=n_events)
    lepton_shift = smeared_pt / pt[selected] - 1.0
    sum_px += np.bincount(lepton_event, weights=batch.px[selected] * lepton_shift, minlength=n_events)
    sum_py += np.bincount(lepton_event, weights=batch.py[selected] * lepton_shift, minlength=n_events)
    sum_px += np.bincount(jets.event, weights=jet_px - jets.px, minlength=n_events)
    sum_py += np.bincount(jets.event, weights=jet_py - jets.py, minlength=n_events)
    noise = p.met_resolution * np.sqrt(sum_et)
    met_x = -sum_px + noise * rng.standard_normal(n_events)
    met_y = -sum_py + noise * rng.standard_normal(n_events)
    objects["MET_pt"] = np.hypot(met_x, met_y).astype(np.float32)
    objects["MET_phi"] = np.arctan2(met_y, met_x).astype(np.float32)
    return objects
