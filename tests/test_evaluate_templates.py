"""Template binning and histograms: hand-made examples and the guarantees of the binning rule."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.evaluate import templates


def test_histogram_contents_and_sum_of_squared_weights_by_hand():
    edges = np.array([0.0, 0.5, 0.8, 1.0])
    scores = np.array([0.1, 0.4, 0.5, 0.79, 0.8, 1.0, 1.3, -0.2])
    weights = np.array([1.0, 2.0, 3.0, 0.5, 4.0, -1.0, 2.0, 0.25])
    histogram = templates.histogram(scores, weights, edges)
    # bin 0: 0.1, 0.4 and the underflow -0.2; bin 1: 0.5, 0.79; bin 2: 0.8, the edge 1.0 and the overflow 1.3
    np.testing.assert_allclose(histogram.values, [3.25, 3.5, 5.0])
    np.testing.assert_allclose(histogram.sumw2, [1 + 4 + 0.0625, 9 + 0.25, 16 + 1 + 4])
    np.testing.assert_allclose(histogram.errors, np.sqrt(histogram.sumw2))
    assert histogram.entries == 8
    assert histogram.sum_wx == pytest.approx(np.sum(weights * scores))


def test_merge_from_right_on_a_hand_example():
    # background events per bin of [0, .2, .4, .6, .8, 1]: 5, 3, 4, 1, 0
    edges = np.linspace(0.0, 1.0, 6)
    background = np.r_[np.full(5, 0.1), np.full(3, 0.3), np.full(4, 0.5), 0.7]
    merged = templates.merge_from_right(edges, background, np.ones(background.size), min_events=3)
    # the right tail 0.8-1 (0) merges with 0.6-0.8 (1) and then 0.4-0.6 (4): 5 events; then 3 and 5 pass
    np.testing.assert_allclose(merged, [0.0, 0.2, 0.4, 1.0])


def test_merge_folds_a_failing_first_bin_into_its_right_neighbour():
    edges = np.array([0.0, 0.5, 1.0])
    background = np.r_[0.1, np.full(4, 0.9)]
    merged = templates.merge_from_right(edges, background, np.ones(5), min_events=2)
    np.testing.assert_allclose(merged, [0.0, 1.0])


def test_a_bin_with_negative_background_yield_is_merged_even_with_enough_events():
    edges = np.array([0.0, 0.5, 1.0])
    background = np.r_[np.full(3, 0.2), np.full(3, 0.7)]
    weights = np.r_[np.ones(3), 1.0, 1.0, -3.0]
    merged = templates.merge_from_right(edges, background, weights, min_events=2)
    np.testing.assert_allclose(merged, [0.0, 1.0])


def test_too_few_background_events_overall_is_a_clear_error():
    with pytest.raises(ValueError, match="only 2 background events"):
        templates.merge_from_right([0.0, 1.0], [0.2, 0.3], [1.0, 1.0], min_events=5)


@pytest.fixture
def events():
    generator = np.random.default_rng(3)
    n_signal, n_background = 2000, 5000
    scores = np.r_[generator.beta(5, 2, n_signal), generator.beta(2, 5, n_background)]
    is_signal = np.r_[np.ones(n_signal, bool), np.zeros(n_background, bool)]
    weights = np.r_[generator.uniform(0.01, 0.03, n_signal), generator.uniform(0.5, 1.5, n_background)]
    samples = np.r_[np.full(n_signal, "hww"), np.where(generator.random(n_background) < 0.3, "ttbar", "ww")]
    return scores, is_signal, weights, samples


def test_flat_signal_bins_hold_equal_signal_yields_where_background_is_plentiful(events):
    scores, is_signal, weights, _ = events
    edges = templates.template_edges(scores, is_signal, weights, bins=8, min_background_events=1)
    assert 6 <= edges.size - 1 <= 8  # the top bin may have to grow to reach a background event
    yields = templates.histogram(scores[is_signal], weights[is_signal], edges).values
    # each bin closes at the first event that reaches 1/8 of the signal: equal up to one event's weight (0.03),
    # except the top bin, which grows until it holds a background event, and the lowest, which takes the rest
    np.testing.assert_allclose(yields[1:-1], np.sum(weights[is_signal]) / 8, atol=0.031)
    assert yields[-1] >= np.sum(weights[is_signal]) / 8 * (1 - 1e-12)


def test_flat_signal_by_hand():
    # scores from high to low: S S B S B B S S B B; 3 bins wanted, so 5/3 of the signal per bin
    scores = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    is_signal = np.array([1, 1, 0, 1, 0, 0, 1, 1, 0, 0], bool)
    # at least 2 background events: the top bin must grow down to 0.7 (3 S, 2 B); [0.3, 0.7) closes (2 S, 2 B);
    # the rest (0.2: 1 B) lacks background and joins the bin above it
    edges = templates.template_edges(scores, is_signal, np.ones(10), bins=3, min_background_events=2)
    np.testing.assert_allclose(edges, [0.0, 0.7, 1.0])
    # at least 1: [0.85, 1] (2 S, 1 B) and [0.5, 0.85) (2 S, 2 B) close; the rest (1 S, 2 B) has too little
    # signal for a bin of its own size, but enough background: it stays a bin
    edges = templates.template_edges(scores, is_signal, np.ones(10), bins=3, min_background_events=1)
    np.testing.assert_allclose(edges, [0.0, 0.5, 0.85, 1.0])
    edges = templates.template_edges(scores, is_signal, np.ones(10), bins=3, min_background_events=3)
    np.testing.assert_allclose(edges, [0.0, 1.0])  # [0.6, 1] closes (3 S, 3 B); the rest has 2 B and joins it


def test_a_very_good_classifier_keeps_a_pure_top_bin_with_enough_background():
    generator = np.random.default_rng(1)
    scores = np.r_[generator.uniform(0.95, 1.0, 300), generator.uniform(0.0, 0.5, 2000), [0.96, 0.97, 0.98]]
    is_signal = np.r_[np.ones(300, bool), np.zeros(2003, bool)]
    edges = templates.template_edges(scores, is_signal, np.ones(scores.size), bins=10, min_background_events=3)
    counts = np.bincount(templates.bin_index(scores[~is_signal], edges), minlength=edges.size - 1)
    assert counts[-1] == 3 and edges[-2] <= 0.96  # the top bin reaches down to the third background event
    assert edges.size >= 3


@pytest.mark.parametrize("binning", templates.BINNINGS)
@pytest.mark.parametrize("minimum", [1, 25, 400])
def test_every_bin_keeps_the_minimum_number_of_background_events(events, binning, minimum):
    scores, is_signal, weights, _ = events
    edges = templates.template_edges(scores, is_signal, weights, binning=binning, bins=20,
                                     min_background_events=minimum)
    assert edges[0] == 0.0 and edges[-1] == 1.0 and np.all(np.diff(edges) > 0)
    counts = np.bincount(templates.bin_index(scores[~is_signal], edges), minlength=edges.size - 1)
    assert counts.min() >= minimum
    assert edges.size - 1 <= 20
    if binning == "uniform":
        start = np.linspace(0.0, 1.0, 21)
        assert np.isin(edges, start).all()
        if minimum == 1:  # only the empty bins above the last background event are merged
            assert np.isin(start[start <= scores[~is_signal].max()], edges).all()


def test_uniform_merging_keeps_the_left_edges_and_combines_the_right_tail(events):
    scores, is_signal, weights, _ = events
    start = np.linspace(0.0, 1.0, 21)
    edges = templates.template_edges(scores, is_signal, weights, binning="uniform", bins=20,
                                     min_background_events=60)
    kept = np.isin(start, edges)
    assert kept[: np.argmin(kept)].all() and np.argmin(kept) > 5
    assert edges.size < start.size


def test_templates_per_sample_and_class_sums(events):
    scores, is_signal, weights, samples = events
    edges = templates.template_edges(scores, is_signal, weights, bins=10, min_background_events=10)
    result = templates.build_templates(scores, is_signal, weights, samples, edges)
    assert list(result.samples) == list(dict.fromkeys(samples.tolist()))  # order of first appearance
    assert result.signal_samples == ("hww",) and set(result.background_samples) == {"ww", "ttbar"}
    np.testing.assert_allclose(result.background.values,
                               result.samples["ww"].values + result.samples["ttbar"].values)
    np.testing.assert_allclose(result.background.sumw2, result.samples["ww"].sumw2 + result.samples["ttbar"].sumw2)
    assert result.signal.values.sum() == pytest.approx(weights[is_signal].sum())
    assert result.background.entries == np.count_nonzero(~is_signal)


def test_a_sample_with_both_classes_is_rejected(events):
    scores, is_signal, weights, _ = events
    with pytest.raises(ValueError, match="both signal and background"):
        templates.build_templates(scores, is_signal, weights, np.full(scores.size, "mixed"), [0.0, 0.5, 1.0])


def test_unknown_binning_lists_the_valid_ones(events):
    scores, is_signal, weights, _ = events
    with pytest.raises(ValueError, match="flat_signal, uniform"):
        templates.template_edges(scores, is_signal, weights, binning="quantile")


def test_template_figure_labels_tell_narrow_top_bins_apart(tmp_path):
    from hepmlp.evaluate.template_plots import edge_labels, plot_templates

    assert edge_labels(np.array([0.0, 0.5, 1.0])) == ["0.00", "0.50", "1.00"]
    # flat-signal top bins: 0.9941 and 0.9944 differ only in the fourth decimal
    assert edge_labels(np.array([0.0, 0.7086, 0.9941, 0.9944, 1.0])) == ["0.0000", "0.7086", "0.9941", "0.9944",
                                                                         "1.0000"]
    assert edge_labels(np.array([0.0, 0.9941, 0.9949, 1.0])) == ["0.000", "0.994", "0.995", "1.000"]
    scores = np.array([0.1, 0.2, 0.995, 0.999, 0.5, 0.996])
    is_signal = np.array([False, False, True, True, False, False])
    built = templates.build_templates(scores, is_signal, np.ones(6), np.array(["b", "b", "s", "s", "c", "c"]),
                                      np.array([0.0, 0.9, 0.995, 1.0]))
    written = plot_templates(built, tmp_path / "templates", luminosity=140.0, summary="Z", formats=("png",))
    assert (tmp_path / "templates.png").stat().st_size > 0, written
