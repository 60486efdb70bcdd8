"""The calorimeter test-beam simulation: physics behaviour, files, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import uproot

from hepmlp.cli import main as hepmlp_main
from hepmlp.errors import UserError
from hepmlp.generate.calorimeter import CalorimeterParameters, groom_em_fraction_mean, simulate_test_beam
from hepmlp.generate.calorimeter_files import generate_calorimeter_chunk

REPO = Path(__file__).resolve().parents[1]
ENERGY_BINS = np.geomspace(2.0, 300.0, 7)
LAYERS = ["E_ECAL1", "E_ECAL2", "E_ECAL3", "E_HCAL1", "E_HCAL2", "E_HCAL3", "E_HCAL4"]


@pytest.fixture(scope="module")
def beams() -> dict[str, dict[str, np.ndarray]]:
    """200k pions and 100k electrons with the default parameters."""
    rng = np.random.default_rng(7)
    pions = simulate_test_beam(rng, 200_000, CalorimeterParameters())
    electrons = simulate_test_beam(rng, 100_000, CalorimeterParameters(particle="electron"))
    return {"pion": pions, "electron": electrons}


def binned(columns: dict[str, np.ndarray]) -> list[np.ndarray]:
    """E_raw / E_true per energy bin (log-spaced over 2-300 GeV)."""
    ratio = columns["E_raw"] / columns["E_true"]
    index = np.digitize(columns["E_true"], ENERGY_BINS) - 1
    return [ratio[index == k] for k in range(len(ENERGY_BINS) - 1)]


def test_raw_pion_response_rises_with_energy(beams):
    response = np.array([r.mean() for r in binned(beams["pion"])])
    assert np.all(np.diff(response) > 0), response
    assert response[-1] - response[0] > 0.08  # non-linear: ~0.72 at 2-4 GeV, ~0.85 at 150-300 GeV
    assert response[-1] < 0.95  # non-compensating even at the highest energy


def test_resolution_improves_with_energy(beams):
    for particle in ("pion", "electron"):
        resolution = np.array([r.std() / r.mean() for r in binned(beams[particle])])
        assert np.all(np.diff(resolution) < 0), (particle, resolution)


def test_pions_respond_less_than_electrons(beams):
    pions, electrons = binned(beams["pion"]), binned(beams["electron"])
    for pion, electron in zip(pions, electrons):
        assert pion.mean() < electron.mean() - 0.05
    assert all(abs(e.mean() - 1.0) < 0.02 for e in electrons)  # electrons define the EM scale


def test_em_fraction_fluctuations_show_in_layer_fractions(beams):
    pions = beams["pion"]
    window = (pions["E_true"] > 50) & (pions["E_true"] < 100)
    ecal_fraction = sum(pions[name][window] for name in LAYERS[:3]) / pions["E_raw"][window]
    assert ecal_fraction.std() > 0.1
    # the layer pattern carries information on the response beyond E_raw itself
    X = np.column_stack([pions[name][window] / pions["E_raw"][window] for name in LAYERS])
    response = pions["E_raw"][window] / pions["E_true"][window]
    X = np.column_stack([np.ones(len(X)), X])
    coefficients, *_ = np.linalg.lstsq(X, response, rcond=None)
    explained = 1 - np.var(response - X @ coefficients) / np.var(response)
    assert explained > 0.1


def test_groom_mean_em_fraction():
    mean = groom_em_fraction_mean(np.array([1.0, 10.0, 100.0]), 1.0, 0.82)
    assert mean == pytest.approx([0.01, 1 - 10**-0.18, 1 - 100**-0.18])


def test_raw_energy_is_the_layer_sum(beams):
    pions = beams["pion"]
    total = sum(pions[name].astype(np.float64) for name in LAYERS)
    assert np.allclose(total, pions["E_raw"], rtol=1e-5, atol=1e-4)
    assert pions["E_true"].min() >= 2.0 and pions["E_true"].max() <= 300.0
    assert set(np.unique(pions["pdgId"])) == {211}
    assert set(np.unique(beams["electron"]["pdgId"])) == {11}


def test_layer_counts_follow_the_config():
    parameters = CalorimeterParameters.from_config({"ecal_layers_x0": [10, 15], "hcal_layers_lambda": [3, 3, 2]})
    columns = simulate_test_beam(np.random.default_rng(0), 100, parameters)
    assert list(columns) == ["E_true", "pdgId", "E_ECAL1", "E_ECAL2", "E_HCAL1", "E_HCAL2", "E_HCAL3", "E_raw"]


def test_file_branches_types_and_seeds(tmp_path):
    generate = {"seed": 11, "calorimeter": {"events": 5000, "energy_min": 5.0, "energy_max": 50.0}}
    first, again, other = tmp_path / "pion_0.root", tmp_path / "again.root", tmp_path / "pion_1.root"
    assert generate_calorimeter_chunk(generate, chunk=0, output=first) == 5000
    generate_calorimeter_chunk(generate, chunk=0, output=again)
    generate_calorimeter_chunk(generate, chunk=1, output=other, n_events=300)
    with uproot.open(first) as file:
        tree = file["Calo"]
        assert isinstance(tree, uproot.TTree)
        expected = {"E_true": "float", "pdgId": "int32_t", **{name: "float" for name in LAYERS}}
        assert tree.typenames() == {**expected, "E_raw": "float", "event": "int64_t"}
        arrays = tree.arrays(library="np")
    assert arrays["E_true"].min() >= 5.0 and arrays["E_true"].max() <= 50.0
    assert np.array_equal(arrays["event"], np.arange(5000))
    with uproot.open(again) as file:
        repeated = file["Calo"].arrays(library="np")
    assert all(np.array_equal(arrays[name], repeated[name]) for name in arrays)
    with uproot.open(other) as file:
        changed = file["Calo"].arrays(library="np")
    assert changed["event"][0] == 1_000_000_000
    assert not np.array_equal(changed["E_true"], arrays["E_true"][:300])


@pytest.mark.parametrize(
    ("section", "n_events", "message"),
    [
        ({"particle": "kaon"}, None,
         r"config key generate\.calorimeter\.particle: 'kaon' is not allowed; choose one of: pion, electron"),
        ({"energy_min": 50.0, "energy_max": 5.0}, None, r"need 0 < energy_min < energy_max"),
        ({"ecal_layers": [1, 2]}, None, r"unknown key\(s\) ecal_layers; valid keys: .*ecal_layers_x0"),
        ({"hcal_layers_lambda": []}, None, r"hcal_layers_lambda: must be a non-empty list"),
        ({"e_over_h": "big"}, None, r"e_over_h: must be a non-negative number"),
        ({}, 0, r"number of events to generate .*must be a positive integer"),
        ({"events": -3}, None, r"config key generate\.calorimeter\.events: -3 is less than the minimum of 1"),
    ],
)
def test_bad_input(tmp_path, section, n_events, message):
    with pytest.raises(UserError, match=message):
        generate_calorimeter_chunk({"calorimeter": section}, chunk=0, output=tmp_path / "x.root", n_events=n_events)
    assert list(tmp_path.iterdir()) == []


def test_command_line(tmp_path, capsys):
    output = tmp_path / "pion_0.root"
    config = str(REPO / "config" / "config.yaml")
    arguments = ["generate", "calorimeter", "--config", config, "--chunk", "0", "--output", str(output)]
    assert hepmlp_main([*arguments, "--events", "1000"]) == 0
    assert "events/s" in capsys.readouterr().err
    with uproot.open(output) as file:
        assert file["Calo"].num_entries == 1000


def test_every_default_can_be_written_into_the_config():
    defaults = dataclasses.asdict(CalorimeterParameters())
    section = {name: list(value) if isinstance(value, tuple) else value for name, value in defaults.items()}
    assert CalorimeterParameters.from_config(section) == CalorimeterParameters()
    assert CalorimeterParameters.from_config({"bock_d1": -0.05}).bock_d1 == -0.05


def test_parameters_are_a_frozen_dataclass_with_defaults():
    parameters = CalorimeterParameters()
    assert (parameters.n_ecal, parameters.n_hcal) == (3, 4)
    assert parameters.layer_names == LAYERS
    with pytest.raises(dataclasses.FrozenInstanceError):
        parameters.e_over_h = 1.0  # type: ignore[misc]
    depth_lambda, depth_x0 = parameters.boundaries()
    assert depth_lambda[-1] > 8 and depth_x0[3] == 25.0
