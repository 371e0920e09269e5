"""Checkers for the pitfalls chapter: mean pairwise cosine, k-occurrence skewness, CSLS."""

from __future__ import annotations

import torch

from ..diagnostics import csls, k_occurrence, mean_cosine, skewness
from ..similarity import cosine_matrix
from .core import checker, compare_or_diagnose, run_learner

_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}  # sums over many float32 products


def _cases() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(8)
    gaussian = torch.randn(40, 16, generator=generator, dtype=torch.float64)
    return [gaussian, gaussian + 2.0, torch.randn(25, 64, generator=generator, dtype=torch.float64) * 3 - 1]


@checker("mean cosine before and after centering")
def check_mean_cosine(mean_pairwise_cosine) -> str:
    """The learner's ``mean_pairwise_cosine(x)``: mean cosine over pairs of distinct rows."""
    for x in _cases():
        for label, data in (("raw", x), ("centred", x - x.mean(dim=0))):
            got = run_learner(mean_pairwise_cosine, data.clone())
            expected = mean_cosine(data)
            n = data.shape[0]
            units = data / data.norm(dim=1, keepdim=True)
            compare_or_diagnose(got, expected, name=f"the mean cosine of a {label} {tuple(data.shape)} matrix", mistakes=[
                (lambda: (units @ units.T).mean(),
                 f"You averaged the diagonal too: each vector's cosine with itself is 1; leave those {n} entries out."),
                (lambda: (data @ data.T - torch.diag(data.pow(2).sum(1))).sum() / (n * (n - 1)),
                 "That is the mean dot product: divide by both lengths first."),
            ], **_TOLERANCE)
    return "Right on raw and centred data: centering drags the mean cosine to about -1/(n-1)."


def _skew_including_self(x: torch.Tensor, k: int) -> float:
    similarities = cosine_matrix(x)
    neighbours = similarities.topk(k, dim=1).indices  # self comes first
    return skewness(torch.bincount(neighbours.reshape(-1), minlength=x.shape[0]))


def _unbiased_skew(counts: torch.Tensor) -> float:
    n = counts.numel()
    return skewness(counts) * (n * (n - 1)) ** 0.5 / (n - 2)


@checker("k-occurrence skewness")
def check_k_occurrence_skew(k_occurrence_skew) -> str:
    """The learner's ``k_occurrence_skew(x, k)``: skewness of N_k under cosine similarity."""
    generator = torch.Generator().manual_seed(31)
    cases = [(torch.randn(300, 64, generator=generator, dtype=torch.float64) + 1.0, 10),
             (torch.randn(200, 8, generator=generator, dtype=torch.float64), 5)]
    for x, k in cases:
        got = run_learner(k_occurrence_skew, x.clone(), k)
        counts = k_occurrence(x, k=k)
        name = f"the skewness for a {tuple(x.shape)} matrix with k={k}"
        compare_or_diagnose(got, skewness(counts), name=name, mistakes=[
            (lambda: _skew_including_self(x, k),
             "Each point counted itself as a neighbour: exclude the diagonal before taking the top k."),
            (lambda: _unbiased_skew(counts),
             "That is the bias-corrected sample skewness; use the plain third standardised moment, "
             "mean((N - mean)^3) / std^3."),
            (lambda: 0.0, "Did you count how many neighbours each point has (always k)? "
                          "Count how often each point appears in the others' lists."),
        ], **_TOLERANCE)
    return "Right: hubs show up as a long right tail of N_k."


@checker("CSLS")
def check_csls(learner_csls) -> str:
    """The learner's ``csls(x, y, k)``: 2 cos(x_i, y_j) - r_y(x_i) - r_x(y_j)."""
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(30, 12, generator=generator, dtype=torch.float64) + 0.5
    y = torch.randn(20, 12, generator=generator, dtype=torch.float64)
    k = 4
    got = run_learner(learner_csls, x.clone(), y.clone(), k)
    expected = csls(x, y, k=k)
    cosines = cosine_matrix(x, y)
    r_x = cosines.topk(k, dim=1).values.mean(dim=1)  # x_i's neighbours in y
    r_y = cosines.topk(k, dim=0).values.mean(dim=0)  # y_j's neighbours in x
    one_term = "Subtract both neighbourhood terms, r_y(x_i) and r_x(y_j)."
    compare_or_diagnose(got, expected, name=f"csls(x [30, 12], y [20, 12], k={k})", mistakes=[
        (lambda: cosines - r_x[:, None] - r_y[None, :], "The cosine term is counted twice: 2 cos(x, y)."),
        (lambda: 2 * cosines - r_x[:, None], one_term),
        (lambda: 2 * cosines - r_y[None, :], one_term),
        (lambda: 2 * cosines - cosines.mean(dim=1)[:, None] - cosines.mean(dim=0)[None, :],
         "You averaged over all vectors; r uses only the k nearest (topk(k).values.mean())."),
        (lambda: 2 * cosines - 2 * r_x[:, None],
         "r_x(y_j) must average y_j's nearest neighbours among the x rows (top k down each column), not x_i's again."),
    ], **_TOLERANCE)
    return "Right: CSLS lowers the scores of vectors that are close to everything."
