"""A parametrised test-beam simulation of a longitudinally segmented sampling calorimeter.

Single particles (charged pions, or electrons) hit, along the axis, an ECAL of
``len(ecal_layers_x0)`` layers, a dead-material gap (cryostat, coil) and an
HCAL of ``len(hcal_layers_lambda)`` layers.  Depth runs in interaction lengths
lambda_I (hadronic profiles) and, through each region's X0-per-lambda_I ratio,
in radiation lengths X0 (electromagnetic profiles).  Everything is vectorised
over events; energies are in GeV, deposits at the electromagnetic scale
(an electron's full deposit reads its energy).

Pions (``simulate_pions``)
    1. The first inelastic interaction happens at depth t0 ~ Exp(1) lambda_I
       (PDG review "Passage of particles through matter": lambda_I is the
       mean free path).  Before it, the pion deposits
       ``mip_energy_per_lambda`` GeV per lambda_I (a minimum-ionising track);
       a pion that passes the whole calorimeter leaves only that.
    2. The electromagnetic fraction f_em of the shower (pi0 -> gamma gamma)
       fluctuates event by event: f_em ~ Beta(mu kappa, (1 - mu) kappa) with
       mean mu = 1 - (E / E0)^(k - 1) (Groom, NIM A 572 (2007) 633; E0 =
       ``groom_e0``, k = ``groom_k``) and kappa = ``em_fraction_concentration``
       (sd(f_em) = sqrt(mu (1 - mu) / (kappa + 1))).
    3. Non-compensation: the hadronic part is seen with h/e = 1/``e_over_h``,
       so the mean response 1 - (1 - h/e)(1 - mu) rises with energy.
    4. Longitudinal profile after t0 (Bock et al., NIM 186 (1981) 533):
       both parts follow Gamma-function shapes with a = a0 + a1 ln(E/GeV):
       the EM part in X0 with rate b = ``bock_b`` per X0, the hadronic part in
       lambda_I with rate d = d0 + d1 ln(E/GeV).  A layer receives the Gamma
       CDF difference across its boundaries (scipy ``gammainc``); what falls
       into the dead material is lost, what lies beyond the last layer leaks.
       The shape parameter fluctuates by a log-normal factor of width
       ``profile_fluctuation``.
Electrons (``simulate_electrons``)
    Start showering at the front face with the EM Gamma profile of Longo and
    Sestili (NIM 128 (1975) 283), PDG eq. (34.36): b = ``em_profile_b``,
    t_max = (a - 1)/b = ln(E / E_c) - 0.5, E_c = ``critical_energy``.
Every layer i then gets sampling fluctuations sigma = s_i sqrt(E_i)
(``ecal_sampling`` / ``hcal_sampling``, GeV^1/2) and Gaussian electronic
noise (``ecal_noise`` / ``hcal_noise``, GeV).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy.special import gammainc

from hepmlp.choices import check_choice
from hepmlp.errors import UserError

PARTICLES = {"pion": 211, "electron": 11}
# Bock's fit coefficients may be negative (the default d1 is); shape and rate are clipped at 0.2 and 0.1.
SIGNED_PARAMETERS = ("bock_a0", "bock_a1", "bock_d0", "bock_d1")


@dataclass(frozen=True)
class CalorimeterParameters:
    """Beam, geometry and shower parameters (defaults: an ATLAS-like barrel, see module docstring)."""

    particle: str = "pion"
    energy_min: float = 2.0  # GeV, log-uniform beam energies
    energy_max: float = 300.0
    ecal_layers_x0: tuple[float, ...] = (4.0, 16.0, 5.0)  # ECAL layer thicknesses in X0
    ecal_x0_per_lambda: float = 27.0  # lead/liquid-argon: lambda_I / X0 (PDG material tables)
    dead_material_lambda: float = 0.3  # gap between ECAL and HCAL, in lambda_I
    dead_material_x0_per_lambda: float = 8.0
    hcal_layers_lambda: tuple[float, ...] = (1.5, 2.0, 2.0, 1.7)  # HCAL layer thicknesses in lambda_I
    hcal_x0_per_lambda: float = 9.5  # iron/scintillator
    groom_e0: float = 1.0  # GeV
    groom_k: float = 0.82
    em_fraction_concentration: float = 12.0
    e_over_h: float = 1.35
    bock_a0: float = 0.6165  # Bock et al.: a = a0 + a1 ln E
    bock_a1: float = 0.3183
    bock_b: float = 0.2198  # per X0
    bock_d0: float = 0.9099  # per lambda_I: d = d0 + d1 ln E
    bock_d1: float = -0.0237
    em_profile_b: float = 0.5  # per X0 (PDG, for electrons)
    critical_energy: float = 0.0074  # GeV (lead)
    profile_fluctuation: float = 0.1
    mip_energy_per_lambda: float = 0.25  # GeV per lambda_I at the EM scale
    ecal_sampling: float = 0.10  # GeV^1/2
    hcal_sampling: float = 0.45
    ecal_noise: float = 0.02  # GeV per layer
    hcal_noise: float = 0.05

    @property
    def pdg_id(self) -> int:
        return PARTICLES[self.particle]

    @property
    def n_ecal(self) -> int:
        return len(self.ecal_layers_x0)

    @property
    def n_hcal(self) -> int:
        return len(self.hcal_layers_lambda)

    @property
    def layer_names(self) -> list[str]:
        """Read-out layers in depth order: E_ECAL1..N, E_HCAL1..M."""
        return [f"E_ECAL{i + 1}" for i in range(self.n_ecal)] + [f"E_HCAL{i + 1}" for i in range(self.n_hcal)]

    def boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """Depth of the L + 1 boundaries of ECAL layers, dead material, HCAL layers.

        Returns (in lambda_I, in X0), each of shape (n_ecal + 1 + n_hcal + 1,).
        """
        ecal_x0 = np.asarray(self.ecal_layers_x0, dtype=float)
        hcal_lambda = np.asarray(self.hcal_layers_lambda, dtype=float)
        dead_lambda = self.dead_material_lambda
        thickness_lambda = np.concatenate([ecal_x0 / self.ecal_x0_per_lambda, [dead_lambda], hcal_lambda])
        thickness_x0 = np.concatenate(
            [ecal_x0, [dead_lambda * self.dead_material_x0_per_lambda], hcal_lambda * self.hcal_x0_per_lambda]
        )
        return np.concatenate([[0.0], np.cumsum(thickness_lambda)]), np.concatenate([[0.0], np.cumsum(thickness_x0)])

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any] | None, *, where: str = "generate.calorimeter"
    ) -> CalorimeterParameters:
        """Defaults overridden by ``section`` (``events``/``chunks`` are job keys, ignored here)."""
        section = {k: v for k, v in dict(section or {}).items() if k not in ("events", "chunks")}
        valid = [field.name for field in fields(cls)]
        unknown = sorted(set(section) - set(valid))
        if unknown:
            raise UserError(
                f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: events, chunks, {', '.join(valid)}"
            )
        values: dict[str, Any] = {}
        for name, value in section.items():
            if name == "particle":
                values[name] = check_choice("particle", value, PARTICLES, where=f"{where}.particle", error=UserError)
            elif name in ("ecal_layers_x0", "hcal_layers_lambda"):
                if not isinstance(value, list | tuple) or not value or not all(_positive(v) for v in value):
                    raise UserError(f"{where}.{name}: must be a non-empty list of positive thicknesses, got {value!r}")
                values[name] = tuple(float(v) for v in value)
            elif name in SIGNED_PARAMETERS:
                if not _number(value):
                    raise UserError(f"{where}.{name}: must be a number, got {value!r}")
                values[name] = float(value)
            else:
                if not _number(value) or value < 0:
                    raise UserError(f"{where}.{name}: must be a non-negative number, got {value!r}")
                values[name] = float(value)
        parameters = cls(**values)
        if not 0 < parameters.energy_min < parameters.energy_max:
            raise UserError(
                f"{where}: need 0 < energy_min < energy_max, got {parameters.energy_min} and {parameters.energy_max}"
            )
        for name in ("ecal_x0_per_lambda", "hcal_x0_per_lambda", "groom_e0", "e_over_h", "bock_b", "em_profile_b",
                     "critical_energy", "em_fraction_concentration"):  # fmt: skip
            if getattr(parameters, name) <= 0:
                raise UserError(f"{where}.{name}: must be positive, got {getattr(parameters, name)}")
        return parameters


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def log_uniform_energies(rng: np.random.Generator, n: int, energy_min: float, energy_max: float) -> np.ndarray:
    """(n,) energies with ln E uniform on [ln energy_min, ln energy_max]."""
    return np.exp(rng.uniform(np.log(energy_min), np.log(energy_max), n))


def gamma_layer_fractions(
    depth_start: np.ndarray, boundaries: np.ndarray, shape: np.ndarray, rate: np.ndarray
) -> np.ndarray:
    """Fraction of a Gamma(shape, rate) profile starting at ``depth_start`` inside each layer.

    depth_start, shape, rate: (n,); boundaries: (L + 1,).  Returns (n, L):
    P(lo - t0 < T < hi - t0) with T ~ Gamma(shape, 1/rate), the regularised
    lower incomplete gamma function difference.
    """
    depth = np.maximum(boundaries[None, :] - depth_start[:, None], 0.0)
    cumulative = gammainc(shape[:, None], rate[:, None] * depth)
    return np.diff(cumulative, axis=1)


def groom_em_fraction_mean(energy: np.ndarray, e0: float, k: float) -> np.ndarray:
    """Groom's mean EM fraction <f_em> = 1 - (E/E0)^(k-1), clipped to [0.01, 0.99]."""
    return np.clip(1.0 - (np.maximum(energy, e0) / e0) ** (k - 1.0), 0.01, 0.99)


def _read_out(rng: np.random.Generator, deposits: np.ndarray, p: CalorimeterParameters) -> np.ndarray:
    """Drop the dead-material column and add sampling fluctuations and noise: (n, L) -> (n, N + M)."""
    visible = np.delete(deposits, p.n_ecal, axis=1)
    sampling = np.array([p.ecal_sampling] * p.n_ecal + [p.hcal_sampling] * p.n_hcal)
    noise = np.array([p.ecal_noise] * p.n_ecal + [p.hcal_noise] * p.n_hcal)
    width = sampling * np.sqrt(np.maximum(visible, 0.0))
    return visible + width * rng.standard_normal(visible.shape) + noise * rng.standard_normal(visible.shape)


def simulate_pions(rng: np.random.Generator, energy: np.ndarray, p: CalorimeterParameters) -> np.ndarray:
    """Per-layer read-out (n, n_ecal + n_hcal) of pions of ``energy`` (n,); see module docstring."""
    n = len(energy)
    bounds_lambda, bounds_x0 = p.boundaries()
    start = rng.exponential(1.0, n)  # first-interaction depth, lambda_I
    start_x0 = np.interp(start, bounds_lambda, bounds_x0, right=np.inf)
    track = np.clip(start[:, None] - bounds_lambda[None, :-1], 0.0, np.diff(bounds_lambda)[None, :])
    mip = p.mip_energy_per_lambda * track  # (n, L)
    shower = np.maximum(energy - mip.sum(axis=1), 0.0) * (start < bounds_lambda[-1])

    mean_em = groom_em_fraction_mean(energy, p.groom_e0, p.groom_k)
    kappa = p.em_fraction_concentration
    em_fraction = rng.beta(mean_em * kappa, (1.0 - mean_em) * kappa)

    log_energy = np.log(energy)
    shape = np.maximum(p.bock_a0 + p.bock_a1 * log_energy, 0.2) * rng.lognormal(0.0, p.profile_fluctuation, n)
    rate_hadronic = np.maximum(p.bock_d0 + p.bock_d1 * log_energy, 0.1)
    em_part = gamma_layer_fractions(np.minimum(start_x0, bounds_x0[-1]), bounds_x0, shape, np.full(n, p.bock_b))
    hadronic_part = gamma_layer_fractions(np.minimum(start, bounds_lambda[-1]), bounds_lambda, shape, rate_hadronic)
    deposits = shower[:, None] * (
        em_fraction[:, None] * em_part + ((1.0 - em_fraction) / p.e_over_h)[:, None] * hadronic_part
    )
    return _read_out(rng, deposits + mip, p)


def simulate_electrons(rng: np.random.Generator, energy: np.ndarray, p: CalorimeterParameters) -> np.ndarray:
    """Per-layer read-out (n, n_ecal + n_hcal) of electrons of ``energy`` (n,); see module docstring."""
    n = len(energy)
    _, bounds_x0 = p.boundaries()
    t_max = np.maximum(np.log(energy / p.critical_energy) - 0.5, 0.5)
    t_max = t_max * rng.lognormal(0.0, p.profile_fluctuation, n)
    shape = 1.0 + p.em_profile_b * t_max
    deposits = energy[:, None] * gamma_layer_fractions(np.zeros(n), bounds_x0, shape, np.full(n, p.em_profile_b))
    return _read_out(rng, deposits, p)


def simulate_test_beam(rng: np.random.Generator, n_events: int, p: CalorimeterParameters) -> dict[str, np.ndarray]:
    """``n_events`` test-beam events: {"E_true", "pdgId", E_ECAL1.., E_HCAL1.., "E_raw"} arrays (n,)."""
    energy = log_uniform_energies(rng, n_events, p.energy_min, p.energy_max)
    simulate = simulate_pions if p.particle == "pion" else simulate_electrons
    layers = simulate(rng, energy, p)
    columns: dict[str, np.ndarray] = {
        "E_true": energy.astype(np.float32),
        "pdgId": np.full(n_events, p.pdg_id, dtype=np.int32),
    }
    for name, values in zip(p.layer_names, layers.T):
        columns[name] = values.astype(np.float32)
    columns["E_raw"] = layers.sum(axis=1).astype(np.float32)
    return columns
