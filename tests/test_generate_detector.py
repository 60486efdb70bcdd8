"""The detector model on hand-made events (no Pythia): isolation, ghosts, b-tags, MET, seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hepmlp.errors import UserError
from hepmlp.generate.detector import DetectorParameters, prompt_lepton_mask, simulate_detector
from hepmlp.generate.particles import ParticleBatch, delta_phi, heavy_flavour, pair_indices
from hepmlp.generate.seeds import PYTHIA_SEED_MAX, numpy_generator, pythia_seed

# A detector without any randomness: perfect efficiency and resolution.
IDEAL = DetectorParameters(
    muon_efficiency=1.0,
    electron_efficiency=1.0,
    muon_momentum_resolution=0.0,
    electron_momentum_resolution=0.0,
    jet_resolution_stochastic=0.0,
    jet_resolution_constant=0.0,
    btag_efficiency=1.0,
    btag_mistag_c=0.0,
    btag_mistag_light=0.0,
    met_resolution=0.0,
)


def particle(pdg_id, status, mother1, pt, eta, phi, mass=0.0):
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return (pdg_id, status, mother1, px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2))


def make_batch(*events):
    """Events are lists of particle tuples; entry 0 (the system) is added in front of each."""
    rows, offsets = [], [0]
    for event in events:
        rows.append((90, -11, 0, 0.0, 0.0, 0.0, 13000.0))
        rows.extend(event)
        offsets.append(len(rows))
    columns = list(zip(*rows))
    return ParticleBatch(
        pdg_id=np.array(columns[0], dtype=np.int32),
        status=np.array(columns[1], dtype=np.int32),
        mother1=np.array(columns[2], dtype=np.int32),
        px=np.array(columns[3], dtype=float),
        py=np.array(columns[4], dtype=float),
        pz=np.array(columns[5], dtype=float),
        energy=np.array(columns[6], dtype=float),
        offsets=np.array(offsets, dtype=np.int64),
    )


def test_heavy_flavour_codes():
    codes = [511, -521, 541, 5122, -5332, 553, 411, 443, 4122, 100443, 211, 2212, 3122, 22, 5, 5101, 90]
    expected = [2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert heavy_flavour(np.array(codes)).tolist() == expected


def test_pair_indices_pairs_objects_with_their_own_event():
    objects, particles = pair_indices(np.array([0, 0, 2]), np.array([0, 3, 5, 9]))
    assert objects.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert particles.tolist() == [0, 1, 2, 0, 1, 2, 5, 6, 7, 8]


def test_prompt_leptons_follow_copies_and_reject_hadron_decays():
    batch = make_batch(
        [
            particle(24, -22, 0, 40.0, 0.0, 0.0),  # 1: W
            particle(13, -23, 1, 30.0, 0.1, 0.1),  # 2: muon from the W
            particle(13, 1, 2, 29.0, 0.1, 0.1),  # 3: its copy after radiation (final)
            particle(511, -91, 0, 20.0, 1.0, 2.0),  # 4: B0
            particle(-11, 1, 4, 8.0, 1.0, 2.0),  # 5: positron from the B decay
            particle(-15, -91, 4, 9.0, 1.0, 2.0),  # 6: tau from the B decay
            particle(-13, 1, 6, 5.0, 1.0, 2.0),  # 7: muon from that tau
            particle(15, -23, 1, 20.0, 0.0, 0.0),  # 8: tau from the W
            particle(11, 1, 8, 10.0, 0.0, 0.0),  # 9: electron from that tau
        ]
    )
    assert prompt_lepton_mask(batch, np.array([3, 5, 7, 9])).tolist() == [True, False, False, True]


def test_isolation_cut_and_lepton_collections():
    isolated_muon = particle(13, 1, 0, 50.0, 0.5, 0.0)
    electron = particle(-11, 1, 0, 30.0, -1.0, 2.5)
    close_pion = particle(211, 1, 0, 10.0, 0.6, 0.1)  # Delta R = 0.14 from the second muon
    second_muon = particle(-13, 1, 0, 40.0, 0.5, 0.0)
    batch = make_batch([isolated_muon, electron], [second_muon, close_pion])
    objects = simulate_detector(batch, np.random.default_rng(0), IDEAL)
    assert objects["Muon"].pt.tolist() == [[pytest.approx(50.0)], []]  # 10/40 = 0.25 > 0.15: rejected
    assert objects["Muon"].iso.tolist() == [[0.0], []]
    assert objects["Electron"].charge.tolist() == [[1], []]
    assert objects["Lepton"].pdgId.tolist() == [[13, -11], []]  # pT-ordered union
    assert objects["Lepton"].charge.tolist() == [[-1, 1], []]
    looser = dataclasses.replace(IDEAL, isolation_max=0.3)
    objects = simulate_detector(batch, np.random.default_rng(0), looser)
    assert objects["Muon"].iso.tolist()[1] == [pytest.approx(0.25)]


def test_isolation_cone_wraps_around_phi_equals_pi():
    muon = particle(13, 1, 0, 40.0, 0.5, np.pi - 0.05)
    pion = particle(211, 1, 0, 10.0, 0.5, -np.pi + 0.05)  # Delta phi = 0.1 across the +-pi seam
    far_pion = particle(211, 1, 0, 10.0, 0.5, 0.0)  # Delta phi = pi - 0.05: outside the cone
    objects = simulate_detector(make_batch([muon, pion], [muon, far_pion]), np.random.default_rng(0),
                                dataclasses.replace(IDEAL, isolation_max=1.0))
    assert objects["Muon"].iso.tolist() == [[pytest.approx(0.25)], [0.0]]
    assert delta_phi(np.array([np.pi - 0.05]), np.array([-np.pi + 0.05])) == pytest.approx(-0.1)


def test_ghost_matched_b_jet_is_tagged_and_selected_leptons_are_not_jets():
    b_jet = [particle(211, 1, 0, 15.0, 0.2 + 0.02 * k, 1.0) for k in range(3)]
    light_jet = [particle(211, 1, 0, 15.0, -1.5 + 0.02 * k, -2.0) for k in range(3)]
    b_hadron = particle(521, -91, 0, 40.0, 0.22, 1.0, mass=5.3)
    muon = particle(13, 1, 0, 60.0, 2.0, 3.0)
    batch = make_batch([*b_jet, *light_jet, b_hadron, muon])
    objects = simulate_detector(batch, np.random.default_rng(1), IDEAL)
    jets = objects["Jet"]
    assert len(jets.pt[0]) == 2  # the muon was selected, so it makes no jet
    assert jets.pt[0].tolist() == pytest.approx([45.0, 45.0], rel=1e-3)
    tagged = dict(zip((jets.eta[0].to_numpy() > 0).tolist(), jets.btag[0].tolist()))
    assert tagged == {True: True, False: False}  # the jet at eta 0.2 holds the B hadron
    # MET balances the visible momentum exactly with resolution switched off.
    visible = np.array([p[3:5] for p in [*b_jet, *light_jet, muon]]).sum(axis=0)
    assert objects["MET_pt"][0] == pytest.approx(np.hypot(*visible), rel=1e-5)
    assert objects["MET_phi"][0] == pytest.approx(np.arctan2(-visible[1], -visible[0]), abs=1e-5)


def test_neutrinos_make_missing_momentum():
    batch = make_batch([particle(211, 1, 0, 50.0, 0.0, 0.0), particle(12, 1, 0, 50.0, 0.0, np.pi)])
    objects = simulate_detector(batch, np.random.default_rng(2), IDEAL)
    assert objects["MET_pt"][0] == pytest.approx(50.0, rel=1e-5)
    assert abs(objects["MET_phi"][0]) == pytest.approx(np.pi, abs=1e-5)


def test_detector_parameters_from_config():
    assert DetectorParameters.from_config(None) == DetectorParameters()
    defaults = dataclasses.asdict(DetectorParameters())
    assert DetectorParameters.from_config(defaults) == DetectorParameters()  # every default is a valid value
    assert DetectorParameters.from_config({"jet_pt_min": 25}).jet_pt_min == 25.0
    with pytest.raises(UserError, match=r"events\.detector: unknown key\(s\) jet_ptmin; valid keys: .*jet_pt_min"):
        DetectorParameters.from_config({"jet_ptmin": 25})
    with pytest.raises(UserError, match=r"muon_efficiency: must be between 0 and 1"):
        DetectorParameters.from_config({"muon_efficiency": 1.5})
    with pytest.raises(UserError, match=r"met_resolution: must be a finite number"):
        DetectorParameters.from_config({"met_resolution": "big"})


def test_seeds_are_deterministic_distinct_and_in_pythia_range():
    seeds = {pythia_seed(20261127, process, chunk) for process in ("hww", "ww", "ttbar") for chunk in range(50)}
    assert len(seeds) == 150
    assert all(1 <= seed <= PYTHIA_SEED_MAX for seed in seeds)
    assert pythia_seed(1, "ww", 0) == pythia_seed(1, "ww", 0) != pythia_seed(2, "ww", 0)
    first = numpy_generator(1, "ww", 0).random(5)
    assert np.array_equal(first, numpy_generator(1, "ww", 0).random(5))
    assert not np.array_equal(first, numpy_generator(1, "ww", 1).random(5))
