import numpy as np
import pytest
import torch

from core.stats import histograms, moments, saturation, to_host


def test_moments_against_numpy_with_nonfinite():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 30, 20, generator=g) * torch.tensor([1.0, 5.0, 0.01, 2.0]).view(4, 1, 1) + 3
    x[2, 0, 0] = float("nan")
    x[3, 1, 1] = float("inf")
    m = moments(x)
    for i in range(4):
        v = x[i].double().numpy().ravel()
        v = v[np.isfinite(v)]
        assert m.mean[i] == pytest.approx(v.mean(), rel=1e-6)
        assert m.std[i] == pytest.approx(v.std(), rel=1e-5)
    assert m.nonfinite.tolist() == [0, 0, 1, 1]


def test_moments_avoid_cancellation():
    # mean 1000, std 0.01: E[x²] − E[x]² in float32 would lose every digit
    x = 1000 + 0.01 * torch.randn(1, 256, 256, generator=torch.Generator().manual_seed(0))
    ref = x.double().numpy().ravel()
    assert moments(x).std[0] == pytest.approx(ref.std(), rel=1e-3)


def test_histograms_against_numpy():
    x = torch.randn(3, 40, 50, generator=torch.Generator().manual_seed(2)) * torch.tensor([1.0, 1e-3, 100]).view(3, 1, 1)
    x[1, 3, 3] = float("nan")
    x[2, 5, 5] = float("-inf")
    counts, edges = histograms(x, bins=20)
    for i in range(3):
        v = x[i].numpy().ravel()
        v = v[np.isfinite(v)]
        ref, ref_edges = np.histogram(v, bins=20, range=(v.min(), v.max()))
        np.testing.assert_allclose(edges[i], ref_edges, rtol=1e-6)
        # float32 vs float64 binning may move a value sitting on an edge by one bin
        assert np.abs(counts[i] - ref).sum() <= 2
        assert counts[i].sum() == len(v)


def test_histograms_of_a_constant_layer():
    counts, edges = histograms(torch.zeros(2, 4, 5), bins=10)
    assert counts.sum(1).tolist() == [20, 20]
    assert (edges[:, 0] < 0).all() and (edges[:, -1] > 0).all()


def test_histograms_subsample_whole_rows():
    x = torch.randn(2, 100, 10)
    counts, _ = histograms(x, bins=5, max_values=95)  # 10 rows of 10 units
    assert counts.sum(1).tolist() == [100, 100]


def test_saturation_and_dead_units():
    d = torch.ones(1, 4, 3)
    d[0, :, 0] = 0          # unit 0: φ′ = 0 for the whole batch -> dead
    d[0, 0, 1] = 0.01       # one saturated entry
    sat, dead = saturation(d, max_deriv=1.0)
    assert sat[0] == pytest.approx(5 / 12)
    assert dead[0] == pytest.approx(1 / 3)


def test_saturation_counts_match_a_mask_and_skip_nan():
    gen = torch.Generator().manual_seed(3)
    d = torch.rand(4, 64, 32, generator=gen) * 0.2  # about a quarter below 0.05
    d[1, 5, 7] = float("nan")
    d[2, 0, 0] = float("inf")
    expected = [int((d[i][~torch.isnan(d[i])] < 0.05).sum()) / d[i].numel() for i in range(4)]
    sat, _ = saturation(d.clone(), max_deriv=1.0)
    assert sat.tolist() == expected  # exact counts: the NaN entry is neither saturated nor poisons the layer
    none, _ = saturation(torch.ones(2, 3, 4), max_deriv=1.0)
    assert np.signbit(none).tolist() == [False, False]  # +0, never "-0%" on screen


def test_statistics_of_layers_of_different_shapes():
    """A CNN's feature maps [B, C, H, W] and a transformer's [B, T, D], each read as reshape(B, -1)."""
    gen = torch.Generator().manual_seed(4)
    layers = [torch.randn(6, 3, 4, 4, generator=gen), torch.randn(6, 5, 2, generator=gen) * 3 + 1,
              torch.randn(6, 7, generator=gen)]
    m = moments(layers)
    counts, edges = histograms(layers, bins=8, max_values=30)
    for i, t in enumerate(layers):
        v = t.double().numpy().ravel()
        assert m.mean[i] == pytest.approx(v.mean(), rel=1e-6)
        assert m.std[i] == pytest.approx(v.std(), rel=1e-5)
        units = t[0].numel()
        sample = t.reshape(6, -1)[: -(-30 // units)].numpy().ravel()  # whole rows: ≥ 30 values
        ref, ref_edges = np.histogram(sample, bins=8, range=(sample.min(), sample.max()))
        np.testing.assert_allclose(edges[i], ref_edges, rtol=1e-6)
        assert np.abs(counts[i] - ref).sum() <= 2 and counts[i].sum() == len(sample)


def test_saturation_is_sampled_and_dead_units_are_exact():
    d = torch.ones(10, 4)
    d[:, 0] = 0             # unit 0 dead for the whole batch
    d[:9, 1] = 0            # unit 1 is 0 in 9 rows but alive in the last: not dead
    d[:2, 2] = 0.01         # saturated in the first two rows only
    sat, dead = saturation([d], max_deriv=1.0, max_values=8)  # the first 2 rows: 6 of 8 entries below 5 %
    assert sat[0] == pytest.approx(6 / 8)
    assert dead[0] == pytest.approx(1 / 4)  # over all 10 rows
    full, _ = saturation([d], max_deriv=1.0, max_values=10**6)
    assert full[0] == pytest.approx(21 / 40)


def test_to_host_keeps_names_and_shapes():
    parts = {"a": torch.arange(3.0), "b": torch.ones(2, 2, dtype=torch.float64), "c": torch.tensor(7)}
    host = to_host(parts)
    assert host["a"].tolist() == [0, 1, 2] and host["b"].shape == (2, 2) and host["c"].shape == () and host["c"] == 7
