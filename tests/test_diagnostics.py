"""embedlib.diagnostics against slow, obviously-correct loops, scipy and scikit-learn."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.neighbors import NearestNeighbors

from embedlib import diagnostics as diag


def gaussian(n: int, d: int, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def slow_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def slow_mean_cosine(x: torch.Tensor) -> float:
    values = [slow_cosine(x[i], x[j]) for i, j in itertools.permutations(range(x.shape[0]), 2)]
    return sum(values) / len(values)


def slow_k_occurrence(x: torch.Tensor, k: int, score) -> list[int]:
    """For every query, rank all other points by ``score(query, other)`` (larger = closer)."""
    n = x.shape[0]
    counts = [0] * n
    for i in range(n):
        others = sorted((j for j in range(n) if j != i), key=lambda j: -score(i, j))
        for j in others[:k]:
            counts[j] += 1
    return counts


@pytest.mark.parametrize("n, d, shift", [(2, 3, 0.0), (7, 4, 0.0), (12, 5, 3.0), (9, 16, -1.0)])
def test_mean_cosine_matches_the_pairwise_loop(n, d, shift):
    x = gaussian(n, d, shift)
    assert diag.mean_cosine(x) == pytest.approx(slow_mean_cosine(x), abs=1e-12)


def test_mean_cosine_extremes():
    assert diag.mean_cosine(torch.ones(5, 3)) == pytest.approx(1.0)
    assert diag.mean_cosine(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)
    assert diag.mean_cosine(torch.eye(4)) == pytest.approx(0.0)


def test_contributions_sum_to_the_mean_cosine_and_find_a_rogue_dimension():
    x = gaussian(50, 8)
    x[:, 3] += 20.0  # every vector leans on dimension 3
    shares = diag.cosine_contributions(x)
    assert float(shares.sum()) == pytest.approx(diag.mean_cosine(x), abs=1e-12)
    assert int(shares.argmax()) == 3 and float(shares[3] / shares.sum()) > 0.9


def test_centering_removes_the_mean_and_can_be_fitted_elsewhere():
    x, reference = gaussian(30, 6, shift=2.0), gaussian(40, 6, shift=5.0, seed=1)
    torch.testing.assert_close(diag.center(x).mean(dim=0), torch.zeros(6, dtype=torch.float64))
    torch.testing.assert_close(diag.center(x, fit=reference), x - reference.mean(dim=0))
    # centred, the mean cosine of n vectors is pulled to about -1/(n-1)
    assert abs(diag.mean_cosine(diag.center(x))) < 0.1 < diag.mean_cosine(x)


def test_whitening_gives_identity_covariance_on_the_fit_set():
    x = gaussian(400, 5) @ torch.tensor([[3.0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0.1, 0, 0],
                                          [0, 0, 0, 2, 1], [0, 0, 0, 0, 1]], dtype=torch.float64) + 4
    white = diag.whiten(x, eps=1e-12)
    covariance = torch.cov(white.T)
    torch.testing.assert_close(covariance, torch.eye(5, dtype=torch.float64), atol=1e-8, rtol=0)
    torch.testing.assert_close(white.mean(dim=0), torch.zeros(5, dtype=torch.float64), atol=1e-10, rtol=0)
    # ZCA is symmetric: it is the PCA-whitened data rotated back, so whiten(x) = (x - mu) W with W = W^T
    held_out = gaussian(3, 5, seed=2)
    mu = x.mean(dim=0)
    transform = torch.linalg.lstsq(x - mu, white).solution
    torch.testing.assert_close(transform, transform.T, atol=1e-8, rtol=0)
    torch.testing.assert_close(diag.whiten(held_out, fit=x, eps=1e-12), (held_out - mu) @ transform, atol=1e-8, rtol=0)


def test_whitening_matches_scikit_learn_pca_up_to_rotation():
    from sklearn.decomposition import PCA

    x = gaussian(200, 4, shift=1.0) * torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)
    ours = diag.whiten(x, eps=1e-12)
    theirs = torch.tensor(PCA(whiten=True).fit_transform(x.numpy()))
    # both are whitened versions of the same data, so they differ by an orthogonal matrix
    rotation = torch.linalg.lstsq(theirs, ours).solution
    torch.testing.assert_close(rotation @ rotation.T, torch.eye(4, dtype=torch.float64), atol=1e-6, rtol=0)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "csls"])
@pytest.mark.parametrize("n, d, k", [(12, 3, 1), (20, 6, 3), (25, 10, 5)])
def test_k_occurrence_matches_the_loop(metric, n, d, k):
    x = gaussian(n, d, shift=0.5, seed=n)
    if metric == "cosine":
        score = lambda i, j: slow_cosine(x[i], x[j])  # noqa: E731
    elif metric == "euclidean":
        score = lambda i, j: -float((x[i] - x[j]).norm())  # noqa: E731
    else:
        r = [np.mean(sorted((slow_cosine(x[i], x[j]) for j in range(n) if j != i), reverse=True)[:k]) for i in range(n)]
        score = lambda i, j: 2 * slow_cosine(x[i], x[j]) - r[i] - r[j]  # noqa: E731
    counts = diag.k_occurrence(x, k=k, metric=metric)
    assert counts.tolist() == slow_k_occurrence(x, k, score)
    assert int(counts.sum()) == n * k


def test_k_occurrence_agrees_with_scikit_learn():
    x = gaussian(300, 20)
    neighbours = NearestNeighbors(n_neighbors=11).fit(x.numpy()).kneighbors(x.numpy(), return_distance=False)[:, 1:]
    expected = np.bincount(neighbours.reshape(-1), minlength=300)
    assert diag.k_occurrence(x, k=10, metric="euclidean").tolist() == expected.tolist()


def test_blocked_computation_equals_one_block(monkeypatch):
    x = gaussian(70, 8, shift=1.0)
    whole = {m: diag.k_occurrence(x, 5, m) for m in diag.METRICS}
    whole_csls = diag.csls(x, k=5)
    monkeypatch.setattr(diag, "BLOCK_ROWS", 16)
    for metric, counts in whole.items():
        assert diag.k_occurrence(x, 5, metric).tolist() == counts.tolist()
    torch.testing.assert_close(diag.csls(x, k=5), whole_csls)


@pytest.mark.parametrize("values", [[1, 2, 3, 10], [5, 5, 5, 6, 0, 1], list(range(20)) + [100]])
def test_skewness_matches_scipy(values):
    assert diag.skewness(torch.tensor(values)) == pytest.approx(scipy.stats.skew(values, bias=True), rel=1e-10)
    assert diag.skewness(torch.tensor([4, 4, 4])) == 0.0


def test_hubness_reports_hubs_and_antihubs():
    x = gaussian(200, 64, shift=0.0)
    x[7] = 0.01 * x[7]  # near the centre: a Euclidean hub
    result = diag.hubness(x, k=5, metric="euclidean", top=3)
    counts = diag.k_occurrence(x, k=5, metric="euclidean")
    assert result.hubs[0] == 7 and result.hub_counts[0] == int(counts.max())
    assert result.skewness == pytest.approx(diag.skewness(counts))
    assert result.antihub_fraction == pytest.approx(float((counts == 0).double().mean()))
    assert result.max_share == pytest.approx(int(counts.max()) / 200)


def test_euclidean_hubness_grows_with_dimension_cosine_on_centred_data_does_not():
    low, high = gaussian(1000, 4), gaussian(1000, 256)
    assert diag.hubness(high, 10, "euclidean").skewness > diag.hubness(low, 10, "euclidean").skewness + 1.5
    assert diag.hubness(high, 10, "cosine").skewness < 1.0


def slow_csls(x, y, k, same):
    n, m = x.shape[0], y.shape[0]
    cos = [[slow_cosine(x[i], y[j]) for j in range(m)] for i in range(n)]
    r_x = [np.mean(sorted((cos[i][j] for j in range(m) if not (same and i == j)), reverse=True)[:k]) for i in range(n)]
    r_y = [np.mean(sorted((cos[i][j] for i in range(n) if not (same and i == j)), reverse=True)[:k]) for j in range(m)]
    return torch.tensor([[2 * cos[i][j] - r_x[i] - r_y[j] for j in range(m)] for i in range(n)], dtype=torch.float64)


@pytest.mark.parametrize("n, m, k", [(6, 9, 1), (10, 4, 3), (8, 8, 4)])
def test_csls_matches_the_definition(n, m, k):
    x, y = gaussian(n, 5, seed=1), gaussian(m, 5, shift=0.3, seed=2)
    torch.testing.assert_close(diag.csls(x, y, k=k), slow_csls(x, y, k, same=False))


def test_csls_within_one_set_skips_self():
    x = gaussian(9, 4, shift=0.2)
    torch.testing.assert_close(diag.csls(x, k=3), slow_csls(x, x, 3, same=True))


def test_mean_cosine_of_a_float32_table_is_accumulated_in_float64(monkeypatch):
    x = gaussian(300, 12, shift=0.5)
    exact = diag.mean_cosine(x)
    monkeypatch.setattr(diag, "BLOCK_ROWS", 64)  # several blocks, same answer
    assert diag.mean_cosine(x) == pytest.approx(exact, abs=1e-12)
    assert diag.mean_cosine(x.float()) == pytest.approx(exact, abs=1e-6)
    torch.testing.assert_close(diag.cosine_contributions(x).sum(), torch.tensor(exact, dtype=torch.float64))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: diag.mean_cosine(torch.ones(1, 4)), "at least 2"),
        (lambda: diag.mean_cosine(torch.ones(4)), "2-D"),
        (lambda: diag.mean_cosine(torch.ones(2, 3, 4)), "2-D"),
        (lambda: diag.mean_cosine(torch.tensor([[1.0, math.nan], [1.0, 2.0]])), "nan at row 0, column 1"),
        (lambda: diag.center(torch.tensor([[1.0, 2.0], [math.inf, 2.0]])), "inf at row 1"),
        (lambda: diag.mean_cosine(torch.ones(5000, 2).index_put_((torch.tensor([4100]), torch.tensor([1])),
                                                                   torch.tensor(math.nan))), "row 4100, column 1"),
        (lambda: diag.k_occurrence(torch.randn(5, 3), k=5), "k=5 is out of range"),
        (lambda: diag.k_occurrence(torch.randn(5, 3), k=0), "k=0 is out of range"),
        (lambda: diag.k_occurrence(torch.randn(5, 3), k=2, metric="dot"), "metric='dot'"),
        (lambda: diag.csls(torch.randn(5, 3), torch.randn(2, 3), k=3), "k=3 is out of range"),
        (lambda: diag.csls(torch.randn(5, 3), torch.randn(4, 2)), "width"),
        (lambda: diag.whiten(torch.randn(5, 3), fit=torch.randn(5, 4)), "width"),
        (lambda: diag.mean_cosine("not numbers"), "array of numbers"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
