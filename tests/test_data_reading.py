"""Reading ROOT files: real files written by ROOT, chunking, and every bad-input error."""

from __future__ import annotations

import os

import awkward as ak
import numpy as np
import pytest
import uproot

from conftest import write_tree
from hepmlp.data import reading
from hepmlp.data.read_settings import MAX_THREADS, default_threads, use_isal_for_zlib
from hepmlp.data.reading import ExpressionReader, expand_files, iterate_expressions
from hepmlp.errors import UserError

HZZ_FILES = [
    "uproot-HZZ.root",
    "uproot-HZZ-lz4.root",
    "uproot-HZZ-lzma.root",
    "uproot-HZZ-zstd.root",
    "uproot-HZZ-uncompressed.root",
]
ZMUMU_FILES = ["uproot-Zmumu.root", "uproot-Zmumu-lz4.root", "uproot-Zmumu-lzma.root", "uproot-Zmumu-zstd.root"]
HZZ_FEATURES = {
    "mu1_pt": "sqrt(Muon_Px[0]**2 + Muon_Py[0]**2)",
    "mu2_pt": "sqrt(Muon_Px[1]**2 + Muon_Py[1]**2)",
    "n_muons": "count(Muon_Px)",
    "charge_sum": "sum(Muon_Charge)",
    "ht": "sum(sqrt(Jet_Px**2 + Jet_Py**2))",
    "max_jet_e": "max(Jet_E)",
    "min_jet_e": "min(Jet_E)",
    "n_good_jets": "sum(Jet_ID)",
    "met": "sqrt(MET_px**2 + MET_py**2)",
    "weight": "EventWeight",
    "trigger": "triggerIsoMu24",
}


def read_all(files, tree, expressions, **options) -> dict[str, np.ndarray]:
    chunks = list(iterate_expressions(files, tree, expressions, **options))
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in expressions}


# --- real files written by ROOT ------------------------------------------------


def test_five_compressions_give_identical_features(root_files):
    reference = read_all(root_files / HZZ_FILES[0], "events", HZZ_FEATURES)
    assert len(reference["met"]) == 2421
    for name in HZZ_FILES[1:]:
        other = read_all(root_files / name, "events", HZZ_FEATURES)
        for feature in HZZ_FEATURES:
            np.testing.assert_array_equal(other[feature], reference[feature], err_msg=f"{name}: {feature}")


def test_isal_inflates_zlib_baskets_to_the_same_arrays(root_files):
    """The reader switches uproot's zlib decompressor to ISA-L; the arrays are identical."""
    decompressor = uproot.compression._decompress_ZLIB
    path = root_files / HZZ_FILES[0]  # zlib
    try:
        decompressor.library = "zlib"
        with uproot.open(path) as file:
            reference = file["events"].arrays(library="np")
        assert use_isal_for_zlib() == "isal"
        assert decompressor.library == "isal"
        with uproot.open(path) as file:
            inflated = file["events"].arrays(library="np")
    finally:
        decompressor.library = "zlib"
    assert set(inflated) == set(reference)
    for name, values in reference.items():
        if values.dtype == object:
            for got, expected in zip(inflated[name], values):
                np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            np.testing.assert_array_equal(inflated[name], values, err_msg=name)


def test_zmumu_compressions_give_identical_features(root_files):
    features = {"mass": "M", "pt": "pt1 + pt2", "charge": "Q1 * Q2", "run": "Run"}
    reference = read_all(root_files / ZMUMU_FILES[0], "events", features)
    assert len(reference["mass"]) == 2304
    for name in ZMUMU_FILES[1:]:
        other = read_all(root_files / name, "events", features)
        for feature in features:
            np.testing.assert_array_equal(other[feature], reference[feature], err_msg=f"{name}: {feature}")


def test_jagged_expressions_on_hzz(root_files):
    path = root_files / "uproot-HZZ.root"
    result = read_all(path, "events", HZZ_FEATURES)
    events = uproot.open(path)["events"].arrays(library="ak")
    px, py = events["Muon_Px"], events["Muon_Py"]
    has_one, has_two = ak.num(px) > 0, ak.num(px) > 1
    leading = np.sqrt(ak.to_numpy(ak.fill_none(ak.firsts(px), 0.0)).astype(float) ** 2
                      + ak.to_numpy(ak.fill_none(ak.firsts(py), 0.0)).astype(float) ** 2)
    np.testing.assert_allclose(result["mu1_pt"], leading)
    assert np.all(result["mu2_pt"][~ak.to_numpy(has_two)] == 0.0)
    assert np.all(result["mu2_pt"][ak.to_numpy(has_two)] > 0.0)
    np.testing.assert_array_equal(result["n_muons"], ak.to_numpy(events["NMuon"]))
    np.testing.assert_array_equal(result["charge_sum"], ak.to_numpy(ak.sum(events["Muon_Charge"], axis=1)))
    jet_pt = np.sqrt(events["Jet_Px"] ** 2 + events["Jet_Py"] ** 2)
    np.testing.assert_allclose(result["ht"], ak.to_numpy(ak.sum(ak.values_astype(jet_pt, np.float64), axis=1)),
                               rtol=1e-6)
    maximum = ak.to_numpy(ak.fill_none(ak.max(events["Jet_E"], axis=1), 0.0))
    np.testing.assert_array_equal(result["max_jet_e"], maximum)
    np.testing.assert_array_equal(result["n_good_jets"], ak.to_numpy(ak.sum(events["Jet_ID"], axis=1)))
    np.testing.assert_array_equal(result["trigger"], ak.to_numpy(events["triggerIsoMu24"]).astype(float))
    assert bool(np.any(~ak.to_numpy(has_one)))  # some events without muons read as padding


def test_empty_tree_is_a_no_events_error(root_files):
    with pytest.raises(UserError, match="no events") as error:
        read_all(root_files / "uproot-empty.root", "tree", {"x": "x + y"})
    assert "uproot-empty.root" in str(error.value) and "'tree'" in str(error.value)


def test_string_branch_is_rejected(root_files):
    with pytest.raises(UserError, match="holds strings") as error:
        read_all(root_files / "uproot-Zmumu.root", "events", {"t": "Type"})
    assert "Type" in str(error.value)


INTEGER_TYPES = ["b", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"]


def test_sample_file_every_integer_type_and_fixed_arrays(root_files):
    path = root_files / "uproot-sample-6.20.04-zlib.root"
    expressions = {name: name for name in INTEGER_TYPES}
    expressions.update({f"a{name}_{i}": f"a{name}[{i}]" for name in INTEGER_TYPES for i in range(4)})
    expressions.update({f"sum_a{name}": f"sum(a{name})" for name in INTEGER_TYPES})
    expressions.update({f"A{name}_0": f"A{name}[0]" for name in INTEGER_TYPES})
    expressions.update({f"count_A{name}": f"count(A{name})" for name in INTEGER_TYPES})
    result = read_all(path, "sample", expressions)
    truth = uproot.open(path)["sample"].arrays(library="np")
    for name in INTEGER_TYPES:
        np.testing.assert_array_equal(result[name], truth[name].astype(np.float64), err_msg=name)
        fixed = truth[f"a{name}"].astype(np.float64)
        assert fixed.shape == (30, 3)
        for i in range(3):
            np.testing.assert_array_equal(result[f"a{name}_{i}"], fixed[:, i], err_msg=f"a{name}[{i}]")
        np.testing.assert_array_equal(result[f"a{name}_3"], np.zeros(30))  # beyond the fixed size: padding
        np.testing.assert_allclose(result[f"sum_a{name}"], fixed.sum(axis=1), rtol=1e-12)
        lists = truth[f"A{name}"]
        np.testing.assert_array_equal(result[f"count_A{name}"], [len(entry) for entry in lists])
        np.testing.assert_array_equal(
            result[f"A{name}_0"], [float(entry[0]) if len(entry) else 0.0 for entry in lists], err_msg=f"A{name}"
        )
    assert result["i1"].min() == -15 and result["u8"].max() == 29  # signed and unsigned values survive


# --- chunking, selection, progress ----------------------------------------------


@pytest.fixture
def small_tree(tmp_path):
    """Two files of a flat + jagged tree, 3000 and 2000 entries."""
    rng = np.random.default_rng(5)
    paths = []
    for index, n in enumerate((3000, 2000)):
        path = tmp_path / f"part_{index}.root"
        counts = rng.integers(0, 3, n)
        paths.append(write_tree(path, {"x": rng.normal(size=n), "n": counts.astype(np.int32),
                                       "obj": ak.unflatten(rng.random(counts.sum()).astype(np.float32), counts)}))
    return paths


def test_chunks_are_bounded_and_entry_aligned(small_tree):
    whole = read_all([str(path) for path in small_tree], "Events", {"x": "x", "c": "count(obj)"})
    chunks = list(iterate_expressions([str(path) for path in small_tree], "Events", {"x": "x"}, step_size="8 kB"))
    assert len(chunks) > 4
    assert max(len(chunk["x"]) for chunk in chunks) < 3000
    truth = np.concatenate([uproot.open(path)["Events"]["x"].array(library="np") for path in small_tree])
    np.testing.assert_array_equal(np.concatenate([chunk["x"] for chunk in chunks]), truth)
    np.testing.assert_array_equal(whole["x"], truth)


@pytest.mark.parametrize("threads", [2, 3])
def test_blocks_evaluated_in_parallel_match_one_pass(small_tree, monkeypatch, threads):
    """Chunks cut into blocks on the worker pool give the same rows, entries and counts as one pass."""
    files = [str(path) for path in small_tree]
    expressions = {"x": "x", "lead": "obj[0]", "total": "sum(obj)", "n": "count(obj) + n"}
    options = dict(selection="x > -0.5 and count(obj) >= 1", entry_column="entry")
    one_pass = ExpressionReader(files, "Events", expressions, threads=1, **options)
    expected = list(one_pass)
    monkeypatch.setattr(reading, "EVALUATION_BLOCK", 512)
    parallel = ExpressionReader(files, "Events", expressions, threads=threads, **options)
    blocks = list(parallel)
    assert len(blocks) > len(expected) >= 2  # the chunks were cut into blocks
    for name in [*expressions, "entry"]:
        np.testing.assert_array_equal(
            np.concatenate([chunk[name] for chunk in blocks]), np.concatenate([chunk[name] for chunk in expected])
        )
    assert one_pass.n_read == parallel.n_read == 5000
    assert one_pass.n_selected == parallel.n_selected == sum(len(chunk["x"]) for chunk in blocks)


@pytest.mark.parametrize("n_entries, threads", [(0, 2), (1, 4), (1000, 1), (131_072, 2), (500_000, 2), (10**6, 4)])
def test_blocks_cover_the_chunk(n_entries, threads):
    blocks = reading._blocks(n_entries, threads)
    assert blocks[0][0] == 0 and blocks[-1][1] == n_entries
    assert all(stop == start for (_, stop), (start, _) in zip(blocks, blocks[1:]))
    sizes = [stop - start for start, stop in blocks]
    assert max(sizes) <= reading.EVALUATION_BLOCK and max(sizes) - min(sizes) <= 1
    if n_entries >= threads * reading.EVALUATION_BLOCK // 4:
        assert len(blocks) >= threads


def test_glob_expansion_and_selection(small_tree, tmp_path):
    pattern = str(tmp_path / "part_*.root")
    assert expand_files(pattern) == [str(path) for path in small_tree]
    reader = ExpressionReader(pattern, "Events", {"x": "x"}, selection="count(obj) >= 1 and x > 0")
    selected = np.concatenate([chunk["x"] for chunk in reader])
    assert reader.n_read == 5000
    assert reader.n_selected == len(selected) and 0 < len(selected) < 5000
    assert np.all(selected > 0)
    assert reader.branches == ["obj", "x"]


def test_entry_column_counts_across_files(small_tree):
    reader = ExpressionReader(
        [str(path) for path in small_tree], "Events", {"x": "x"}, selection="x > 1", entry_column="entry"
    )
    chunks = list(reader)
    entries = np.concatenate([chunk["entry"] for chunk in chunks])
    truth = np.concatenate([uproot.open(path)["Events"]["x"].array(library="np") for path in small_tree])
    np.testing.assert_array_equal(entries, np.flatnonzero(truth > 1))


def test_constant_expression_reads_a_cheap_branch(small_tree):
    result = read_all(str(small_tree[0]), "Events", {"one": "1"})
    np.testing.assert_array_equal(result["one"], np.ones(3000))


def test_progress_goes_to_stderr(small_tree, capsys):
    read_all(str(small_tree[0]), "Events", {"x": "x"}, progress="mysample")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "mysample: 3000 events read" in captured.err and "events/s" in captured.err


@pytest.mark.parametrize("step_size", ["fifty", "-5 MB", 0, 1.5])
def test_bad_step_size(small_tree, step_size):
    with pytest.raises(UserError, match="step_size"):
        read_all(str(small_tree[0]), "Events", {"x": "x"}, step_size=step_size)


def test_integer_step_size_means_bytes(small_tree):
    chunks = list(iterate_expressions(str(small_tree[0]), "Events", {"x": "x"}, step_size=8000))
    assert len(chunks) > 2


# --- bad input -------------------------------------------------------------------


def test_missing_file_names_it(tmp_path, small_tree):
    missing = tmp_path / "part_7.root"
    with pytest.raises(UserError, match="does not exist") as error:
        read_all(str(missing), "Events", {"x": "x"})
    assert str(missing) in str(error.value)
    assert "part_0.root" in str(error.value)  # close matches in the folder


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(UserError, match="no file matches") as error:
        read_all(str(tmp_path / "nothing" / "*.root"), "Events", {"x": "x"})
    assert "does not exist" in str(error.value)


def test_missing_tree_lists_close_matches_and_keys(small_tree):
    with pytest.raises(UserError) as error:
        read_all(str(small_tree[0]), "events", {"x": "x"})
    message = str(error.value)
    assert "has no tree 'events'" in message and "did you mean 'Events'" in message
    assert "keys in the file: Events" in message


def test_missing_branch_lists_close_matches_and_names(small_tree):
    with pytest.raises(UserError) as error:
        read_all(str(small_tree[0]), "Events", {"a": "Obj[0] + x"})
    message = str(error.value)
    assert "has no branch 'Obj'" in message and "did you mean 'obj'" in message
    assert "its branches: x, n, nobj, obj" in message
    assert str(small_tree[0]) in message


def test_not_a_root_file(tmp_path):
    path = tmp_path / "notes.root"
    path.write_text("these are not the events you are looking for\n")
    with pytest.raises(UserError, match="not a readable ROOT file") as error:
        read_all(str(path), "Events", {"x": "x"})
    assert str(path) in str(error.value)


def test_empty_file(tmp_path):
    path = tmp_path / "zero.root"
    path.write_bytes(b"")
    with pytest.raises(UserError, match="not a readable ROOT file"):
        read_all(str(path), "Events", {"x": "x"})


def test_truncated_file(tmp_path, root_files):
    data = (root_files / "uproot-HZZ.root").read_bytes()
    path = tmp_path / "truncated.root"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt, truncated") as error:
        read_all(str(path), "events", {"x": "MET_px"})
    assert str(path) in str(error.value)


def test_corrupt_basket(tmp_path, root_files):
    data = bytearray((root_files / "uproot-HZZ.root").read_bytes())
    data[60000:62000] = bytes(2000)  # inside the compressed baskets of Muon_E
    path = tmp_path / "corrupt.root"
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="corrupt or truncated") as error:
        read_all(str(path), "events", {"e": "sum(Muon_E)"})
    assert "cannot read tree 'events'" in str(error.value) and str(path) in str(error.value)


def test_object_that_is_not_a_tree(tmp_path):
    path = tmp_path / "histogram.root"
    with uproot.recreate(path) as file:
        file["h"] = np.histogram([1.0, 2.0, 3.0])
    with pytest.raises(UserError, match="'h' in .* is a TH1D, not a TTree"):
        read_all(str(path), "h", {"x": "x"})


def test_bad_expression_names_it(small_tree):
    with pytest.raises(UserError, match="expression 'feature_a'") as error:
        iterate_expressions(str(small_tree[0]), "Events", {"feature_a": "x +"})
    assert "needs a right-hand side" in str(error.value)


@pytest.mark.parametrize("omp, expected", [("1", 1), ("2", 2), ("64", MAX_THREADS), ("", None), ("two", None)])
def test_threads_follow_the_jobs_allocation(monkeypatch, omp, expected):
    """Snakemake sets OMP_NUM_THREADS from a rule's threads:; without it, the CPUs the process may use."""
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_threads() == (expected if expected is not None else min(MAX_THREADS, allowed))
