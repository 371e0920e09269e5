"""Checkers for the pitfalls chapter: mean pairwise cosine, k-occurrence skewness, CSLS."""

from __future__ import annotations

import torch

from ..diagnostics import csls, k_occurrence, mean_cosine, skewness
from ..similarity import cosine_matrix
from .core import checker, compare_or_diagnose, matches, run_learner

_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}  # sums over many float32 products
_SKEW_TOLERANCE = {"atol": 1e-6, "rtol": 1e-5}  # a moment of integer counts: exact but for rounding


def _cases() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(8)
    gaussian = torch.randn(40, 16, generator=generator, dtype=torch.float64)
    wide = torch.randn(25, 64, generator=generator, dtype=torch.float64) * 3 - 1
    return [gaussian, gaussian + 2.0, wide]


@checker("mean cosine before and after centering")
def check_mean_cosine(mean_pairwise_cosine) -> str:
    """The learner's ``mean_pairwise_cosine(x)``: mean cosine over pairs of distinct rows."""
    for x in _cases():
        for label, data in (("raw", x), ("centred", x - x.mean(dim=0))):
            got = run_learner(mean_pairwise_cosine, data.clone())
            expected = mean_cosine(data)
            n = data.shape[0]
            units = data / data.norm(dim=1, keepdim=True)
            cosines = units @ units.T
            centred = data - data.mean(dim=0)
            centred_units = centred / centred.norm(dim=1, keepdim=True)
            compare_or_diagnose(got, expected, name=f"the mean cosine of a {label} {tuple(data.shape)} matrix", mistakes=[
                (lambda: cosines.mean(),
                 f"You averaged the diagonal too: each vector's cosine with itself is 1; "
                 f"leave those {n} entries out."),
                (lambda: (cosines.sum() - n) / n**2,
                 f"Divide by n(n - 1) = {n * (n - 1)}, the number of ordered pairs of "
                 f"distinct rows, not by n^2."),
                (lambda: (data @ data.T - torch.diag(data.pow(2).sum(1))).sum() / (n * (n - 1)),
                 "That is the mean dot product: divide by both lengths first."),
                (lambda: ((centred_units @ centred_units.T).sum() - n) / (n * (n - 1)),
                 "You centred the data inside your function; return the mean cosine of x "
                 "as given (the check passes centred data itself)."),
            ], **_TOLERANCE)
    return "Right on raw and centred data: centering drags the mean cosine to about -1/(n-1)."


def _counts(x: torch.Tensor, k: int, *, include_self: bool = False, metric: str = "cosine",
            least: bool = False, minlength: bool = True) -> torch.Tensor:
    """N_k as a learner might compute it, with one of the classic slips switched on."""
    if metric == "cosine":
        scores = cosine_matrix(x)
    elif metric == "dot":
        scores = x @ x.T
    else:  # euclidean: larger = closer
        scores = -torch.cdist(x, x)
    if not include_self:
        scores = scores.clone()
        scores.fill_diagonal_(torch.inf if least else -torch.inf)
    neighbours = scores.topk(k, dim=1, largest=not least).indices  # (n, k)
    return torch.bincount(neighbours.reshape(-1), minlength=x.shape[0] if minlength else 0)


def _adjusted_skew(counts: torch.Tensor) -> float:
    n = counts.numel()
    return skewness(counts) * (n * (n - 1)) ** 0.5 / (n - 2)


def _sample_std_skew(counts: torch.Tensor) -> float:
    """The same third moment over torch's default (Bessel-corrected, n - 1) std cubed."""
    n = counts.numel()
    return skewness(counts) * ((n - 1) / n) ** 1.5


def _anti_hubs_last(x: torch.Tensor, k: int) -> torch.Tensor:
    """The rows of ``x`` reordered so that the rows nobody lists as a neighbour come last.

    Reordering rows changes no neighbour relation; it makes a ``bincount`` without
    ``minlength`` come out shorter than n (the last ids never occur).
    """
    counts = k_occurrence(x, k=k)
    order = torch.argsort((counts == 0).to(torch.int64), stable=True)
    if int((counts == 0).sum()) == 0:
        raise AssertionError("a k-occurrence case needs anti-hubs")  # guarded by a test
    return x[order]


def _skew_cases() -> list[tuple[torch.Tensor, int]]:
    generator = torch.Generator().manual_seed(31)
    shifted = torch.randn(300, 64, generator=generator, dtype=torch.float64) + 1.0
    narrow = torch.randn(200, 8, generator=generator, dtype=torch.float64)
    scaled = narrow * torch.rand(200, 1, generator=generator, dtype=torch.float64) * 3 + 0.5
    return [(_anti_hubs_last(shifted, 10), 10), (_anti_hubs_last(scaled, 5), 5)]


@checker("k-occurrence skewness")
def check_k_occurrence_skew(k_occurrence_skew) -> str:
    """The learner's ``k_occurrence_skew(x, k)``: skewness of N_k under cosine similarity.

    Both the population std (divide by n) and torch's default sample std (n - 1) are
    accepted in the denominator, as the exercise says.
    """
    used_sample_std = False
    for x, k in _skew_cases():
        got = run_learner(k_occurrence_skew, x.clone(), k)
        counts = k_occurrence(x, k=k)
        if matches(got, _sample_std_skew(counts), **_SKEW_TOLERANCE) and not matches(got, skewness(counts), **_SKEW_TOLERANCE):
            used_sample_std = True
            continue
        name = f"the skewness for a {tuple(x.shape)} matrix with k={k}"
        zeros = int((counts == 0).sum())
        compare_or_diagnose(got, skewness(counts), name=name, mistakes=[
            (lambda: skewness(_counts(x, k, include_self=True)),
             "Each point counted itself as a neighbour: exclude the diagonal before "
             "taking the top k."),
            (lambda: skewness(_counts(x, k, minlength=False)),
             f"The last {zeros} rows are nobody's neighbour, so bincount stopped early: "
             "pass minlength=n so that they count as zeros."),
            (lambda: skewness(_counts(x, k, metric="euclidean")),
             "That is the skewness under Euclidean distance; the task asks for cosine "
             "similarity (normalise the rows first)."),
            (lambda: skewness(_counts(x, k, metric="dot")),
             "You ranked by dot product: normalise the rows first, so that long vectors "
             "do not win."),
            (lambda: skewness(_counts(x, k, least=True)),
             "You took the k least similar rows: topk(k) on similarities (largest=True), "
             "or the k smallest distances."),
            (lambda: _adjusted_skew(counts),
             "That is the bias-adjusted sample skewness (scipy's bias=False); use the plain "
             "third standardised moment, mean((N - mean)^3) / std^3."),
            (lambda: 0.0, "Did you count how many neighbours each point has (always k)? "
                          "Count how often each point appears in the others' lists."),
        ], **_SKEW_TOLERANCE)
    if used_sample_std:
        return ("Right. (You divided by torch's default sample std, n - 1; the population "
                "std, n, gives a value under 1% higher here: both are accepted.)")
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
         "r_x(y_j) must average y_j's nearest neighbours among the x rows (top k down each "
         "column), not x_i's again."),
        (lambda: 2 * (x @ y.T) - (x @ y.T).topk(k, dim=1).values.mean(dim=1)[:, None]
         - (x @ y.T).topk(k, dim=0).values.mean(dim=0)[None, :],
         "You used dot products: normalise the rows of x and y first (cosines)."),
    ], **_TOLERANCE)
    return "Right: CSLS lowers the scores of vectors that are close to everything."
