"""Pythia 8 events through the detector model into ROOT files (small samples)."""

from __future__ import annotations

import copy
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepmlp.cli import main as hepmlp_main
from hepmlp.errors import UserError
from hepmlp.generate.event_files import generate_events_chunk

REPO = Path(__file__).resolve().parents[1]
N_EVENTS = 300  # per process: enough for the physics checks below, ~2 s each

EXPECTED_EVENTS_TYPES = {
    "nElectron": "int32_t",
    "Electron_pt": "float[]",
    "Electron_eta": "float[]",
    "Electron_phi": "float[]",
    "Electron_charge": "int32_t[]",
    "Electron_iso": "float[]",
    "nMuon": "int32_t",
    "Muon_pt": "float[]",
    "Muon_eta": "float[]",
    "Muon_phi": "float[]",
    "Muon_charge": "int32_t[]",
    "Muon_iso": "float[]",
    "nLepton": "int32_t",
    "Lepton_pt": "float[]",
    "Lepton_eta": "float[]",
    "Lepton_phi": "float[]",
    "Lepton_charge": "int32_t[]",
    "Lepton_iso": "float[]",
    "Lepton_pdgId": "int32_t[]",
    "nJet": "int32_t",
    "Jet_pt": "float[]",
    "Jet_eta": "float[]",
    "Jet_phi": "float[]",
    "Jet_mass": "float[]",
    "Jet_btag": "bool[]",
    "MET_pt": "float",
    "MET_phi": "float",
    "genWeight": "float",
    "event": "int64_t",
}
EXPECTED_RUNS_TYPES = {
    "sigmaGen": "double",
    "sigmaGenErr": "double",
    "genEventCount": "int64_t",
    "genEventSumw": "double",
}


@pytest.fixture(scope="module")
def generate_section() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())["generate"]


@pytest.fixture(scope="module")
def samples(generate_section, tmp_path_factory) -> dict[str, Path]:
    """hww, ww and ttbar, chunk 0, N_EVENTS each, generated once for the module."""
    folder = tmp_path_factory.mktemp("events")
    files = {}
    for process in ("hww", "ww", "ttbar"):
        files[process] = folder / f"{process}_0.root"
        generate_events_chunk(generate_section, process=process, chunk=0, output=files[process], n_events=N_EVENTS)
    return files


def read_events(path: Path) -> ak.Array:
    with uproot.open(path) as file:
        return file["Events"].arrays()


def dilepton_observables(events: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """m_ll and Delta phi_ll of the two leading leptons, for events with >= 2 leptons."""
    two = events[events.nLepton >= 2]
    pt, eta, phi = two.Lepton_pt, two.Lepton_eta, two.Lepton_phi
    dphi = np.abs(np.arctan2(np.sin(phi[:, 0] - phi[:, 1]), np.cos(phi[:, 0] - phi[:, 1])))
    mll = np.sqrt(2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(dphi)))
    return ak.to_numpy(mll), ak.to_numpy(dphi)


def test_trees_branches_and_types(samples):
    for process, path in samples.items():
        with uproot.open(path) as file:
            assert {key.split(";")[0] for key in file.keys()} == {"Events", "Runs"}
            events, runs = file["Events"], file["Runs"]
            assert isinstance(events, uproot.TTree) and isinstance(runs, uproot.TTree)
            assert events.typenames() == EXPECTED_EVENTS_TYPES, process
            assert runs.typenames() == EXPECTED_RUNS_TYPES
            assert events.num_entries == N_EVENTS and runs.num_entries == 1
            run = runs.arrays(library="np")
            weights = events["genWeight"].array(library="np")
            assert run["genEventCount"][0] == N_EVENTS
            assert run["genEventSumw"][0] == pytest.approx(weights.sum())
            assert 0 < run["sigmaGenErr"][0] < run["sigmaGen"][0]
            assert np.array_equal(events["event"].array(library="np"), np.arange(N_EVENTS))


def test_object_collections_are_consistent(samples, generate_section):
    detector = generate_section["events"]["detector"]
    events = ak.concatenate([read_events(path) for path in samples.values()])
    assert ak.all(events.nLepton == events.nElectron + events.nMuon)
    assert ak.all(ak.num(events.Lepton_pt) == events.nLepton)
    for collection in ("Lepton", "Muon", "Electron", "Jet"):
        pt = events[f"{collection}_pt"]
        assert ak.all(pt[:, :-1] >= pt[:, 1:]), f"{collection} not pT-ordered"
    assert set(np.unique(ak.to_numpy(ak.flatten(np.abs(events.Lepton_pdgId))))) == {11, 13}
    assert ak.all(events.Lepton_charge == -np.sign(events.Lepton_pdgId))
    assert ak.all(events.Lepton_pt > detector["lepton_pt_min"])
    assert ak.all(np.abs(events.Lepton_eta) < detector["lepton_eta_max"])
    assert ak.all((events.Lepton_iso >= 0) & (events.Lepton_iso < 0.15))
    assert ak.all(events.Jet_pt > detector["jet_pt_min"])
    assert ak.all(np.abs(events.Jet_eta) < detector["jet_eta_max"])
    assert ak.all(events.MET_pt >= 0)


def test_signal_has_lower_mll_and_smaller_dphi_than_ww(samples):
    mll_signal, dphi_signal = dilepton_observables(read_events(samples["hww"]))
    mll_ww, dphi_ww = dilepton_observables(read_events(samples["ww"]))
    assert min(len(mll_signal), len(mll_ww)) > 60
    assert np.median(mll_signal) < 0.7 * np.median(mll_ww)
    assert np.median(dphi_signal) < np.median(dphi_ww) - 0.5


def test_ttbar_has_more_b_tags(samples):
    n_btag = {process: ak.mean(ak.sum(read_events(path).Jet_btag, axis=1)) for process, path in samples.items()}
    assert n_btag["ttbar"] > 0.7
    assert n_btag["ttbar"] > 5 * max(n_btag["ww"], n_btag["hww"])
    assert ak.mean(read_events(samples["ttbar"]).nJet) > 2 * ak.mean(read_events(samples["ww"]).nJet)


def test_same_seed_same_arrays_different_seed_different(samples, generate_section, tmp_path):
    again = tmp_path / "ww_again.root"
    generate_events_chunk(generate_section, process="ww", chunk=0, output=again, n_events=N_EVENTS)
    first, second = read_events(samples["ww"]), read_events(again)
    for field in first.fields:
        assert ak.all(first[field] == second[field]), field

    other_seed = copy.deepcopy(generate_section)
    other_seed["seed"] += 1
    changed = tmp_path / "ww_seed.root"
    generate_events_chunk(other_seed, process="ww", chunk=0, output=changed, n_events=50)
    assert not np.array_equal(read_events(changed).MET_pt.to_numpy(), first.MET_pt[:50].to_numpy())


def test_other_chunk_gives_other_events_and_numbers(generate_section, samples, tmp_path):
    output = tmp_path / "ww_1.root"
    generate_events_chunk(generate_section, process="ww", chunk=1, output=output, n_events=50)
    events = read_events(output)
    assert events.event.to_numpy()[0] == 1_000_000_000
    assert not np.array_equal(events.MET_pt.to_numpy(), read_events(samples["ww"]).MET_pt[:50].to_numpy())


def broken_config(generate_section: dict, settings: list[str]) -> dict:
    config = copy.deepcopy(generate_section)
    config["events"]["processes"]["broken"] = settings
    return config


def test_unknown_pythia_setting_names_process_and_setting(generate_section, tmp_path):
    config = broken_config(generate_section, ["WeakDoubleBoson:ffbar2WW = on", "WeakDoubleBoson:ffbar2WWW = on"])
    output = tmp_path / "broken.root"
    with pytest.raises(UserError) as caught:
        generate_events_chunk(config, process="broken", chunk=0, output=output, n_events=10)
    message = str(caught.value)
    assert "generate.events.processes.broken" in message
    assert "WeakDoubleBoson:ffbar2WWW = on" in message
    assert "input string not found" in message  # Pythia's own words
    assert list(tmp_path.iterdir()) == []


def test_failed_pythia_init_is_a_user_error(generate_section, tmp_path):
    config = broken_config(generate_section, ["24:onMode = off"])  # no process switched on
    with pytest.raises(UserError, match=r"processes\.broken: Pythia failed to initialise \(.*no process switched on"):
        generate_events_chunk(config, process="broken", chunk=0, output=tmp_path / "x.root", n_events=10)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n_events", [0, -5])
def test_non_positive_event_count(generate_section, tmp_path, n_events):
    with pytest.raises(UserError, match=r"number of events to generate .*must be a positive integer"):
        generate_events_chunk(generate_section, process="ww", chunk=0, output=tmp_path / "x.root", n_events=n_events)
    config = copy.deepcopy(generate_section)
    config["events"]["events_per_chunk"] = n_events
    # the section goes through the config boundary: the schema's message
    with pytest.raises(UserError, match=rf"config key generate\.events\.events_per_chunk: {n_events} is less than "
                                        r"the minimum of 1"):
        generate_events_chunk(config, process="ww", chunk=0, output=tmp_path / "x.root")
    assert list(tmp_path.iterdir()) == []


def test_unknown_process_lists_the_configured_ones(generate_section, tmp_path):
    with pytest.raises(UserError, match=r"unknown process 'zz': generate\.events\.processes defines hww, ww, ttbar"):
        generate_events_chunk(generate_section, process="zz", chunk=0, output=tmp_path / "x.root", n_events=10)


def test_command_line(tmp_path, capsys):
    output = tmp_path / "data" / "events" / "ww_3.root"
    config = str(REPO / "config" / "config.yaml")
    arguments = ["generate", "events", "--config", config, "--process", "ww", "--chunk", "3", "--output", str(output)]
    assert hepmlp_main([*arguments, "--events", "20"]) == 0
    assert "events/s" in capsys.readouterr().err
    with uproot.open(output) as file:
        assert file["Events"].num_entries == 20
    assert hepmlp_main([*arguments[:-1], str(tmp_path / "zero.root"), "--events", "0"]) == 1
    assert "must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "zero.root").exists()
