"""The pitfalls checkers: a catalogue of correct answers in several forms and of realistic
wrong answers, each with the hint it must get."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlib.diagnostics import k_occurrence
from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.pitfalls import _skew_cases, check_csls, check_k_occurrence_skew, check_mean_cosine


def units(x):
    return x / x.norm(dim=1, keepdim=True)


def stub(*args):
    raise NotImplementedError


# --- mean pairwise cosine ---------------------------------------------------------------


def mean_cosine_reference(x):
    c = units(x) @ units(x).T
    n = x.shape[0]
    return (c.sum() - c.diagonal().sum()) / (n * (n - 1))


def mean_cosine_identity(x):
    s = units(x).sum(dim=0)
    n = x.shape[0]
    return (s @ s - n) / (n * (n - 1))


def mean_cosine_loops(x):
    n = x.shape[0]
    f = torch.nn.functional.cosine_similarity
    return sum(float(f(x[i], x[j], dim=0)) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))


def mean_cosine_upper(x):
    c = units(x) @ units(x).T
    return c[torch.triu_indices(*c.shape, offset=1).unbind()].mean().float()


@pytest.mark.parametrize(
    "answer",
    [
        mean_cosine_reference,  # a 0-d float64 tensor
        lambda x: float(mean_cosine_reference(x)),  # a Python float
        lambda x: mean_cosine_identity(x).numpy(),  # a numpy scalar
        mean_cosine_loops,  # F.cosine_similarity, pair by pair
        mean_cosine_upper,  # upper triangle only, in float32
    ],
)
def test_mean_cosine_accepts_correct_forms(answer):
    verdict = check_mean_cosine(answer)
    assert verdict.status == CORRECT, str(verdict)


def centred_inside(x):
    return mean_cosine_reference(x - x.mean(dim=0))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda x: (units(x) @ units(x).T).mean(), "diagonal too"),
        (lambda x: ((units(x) @ units(x).T).sum() - x.shape[0]) / x.shape[0] ** 2, "not by n^2"),
        (lambda x: ((x @ x.T).sum() - (x * x).sum()) / (x.shape[0] * (x.shape[0] - 1)), "mean dot product"),
        (centred_inside, "centred the data inside"),
        (lambda x: units(x) @ units(x).T, "shape"),
        (lambda x: None, "return"),
    ],
)
def test_mean_cosine_explains_wrong_answers(answer, hint):
    verdict = check_mean_cosine(answer)
    assert verdict.status == INCORRECT, str(verdict)
    assert hint in " ".join(str(verdict).split())  # messages are wrapped at 88 columns


def test_mean_cosine_stub():
    assert check_mean_cosine(stub).status == NOT_ATTEMPTED


# --- k-occurrence skewness --------------------------------------------------------------


def skew(counts, correction=0):
    counts = counts.double()
    d = counts - counts.mean()
    return (d**3).mean() / counts.std(correction=correction) ** 3


def neighbour_counts(x, k, include_self=False, minlength=True, normalise=True, largest=True):
    c = units(x) @ units(x).T if normalise else x @ x.T
    if not include_self:
        c.fill_diagonal_(-float("inf") if largest else float("inf"))
    found = c.topk(k, dim=1, largest=largest).indices.flatten()
    return torch.bincount(found, minlength=x.shape[0] if minlength else 0)


def counts_by_loops(x, k):
    n = x.shape[0]
    c = (units(x) @ units(x).T).tolist()
    counts = [0] * n
    for i in range(n):
        others = sorted((j for j in range(n) if j != i), key=lambda j: -c[i][j])[:k]
        for j in others:
            counts[j] += 1
    return torch.tensor(counts)


def scipy_skew(x, k):
    from scipy.stats import skew as scipy_skewness

    return scipy_skewness(neighbour_counts(x, k).numpy())  # bias=True: the population form


@pytest.mark.parametrize(
    "answer",
    [
        lambda x, k: skew(neighbour_counts(x, k)),  # population std: the plain moment
        lambda x, k: float(skew(counts_by_loops(x, k))),  # plain loops, a float
        lambda x, k: np.float64(skew(neighbour_counts(x, k))),  # numpy scalar
        scipy_skew,
    ],
)
def test_k_occurrence_accepts_correct_forms(answer):
    verdict = check_k_occurrence_skew(answer)
    assert verdict.status == CORRECT, str(verdict)
    assert "long right tail" in " ".join(str(verdict).split())


def test_k_occurrence_accepts_torchs_default_sample_std():
    """The task allows torch's Bessel-corrected std (n - 1); the praise says so."""
    verdict = check_k_occurrence_skew(lambda x, k: skew(neighbour_counts(x, k), correction=1))
    assert verdict.status == CORRECT, str(verdict)
    assert "n - 1" in " ".join(str(verdict).split())


def unbiased(x, k):
    counts = neighbour_counts(x, k)
    n = counts.numel()
    return skew(counts) * (n * (n - 1)) ** 0.5 / (n - 2)


def euclidean(x, k):
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    found = d.topk(k, dim=1, largest=False).indices.flatten()
    return skew(torch.bincount(found, minlength=x.shape[0]))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda x, k: skew(neighbour_counts(x, k, include_self=True)), "counted itself"),
        (lambda x, k: skew(neighbour_counts(x, k, minlength=False)), "minlength=n"),
        (euclidean, "Euclidean"),
        (lambda x, k: skew(neighbour_counts(x, k, normalise=False)), "dot product"),
        (lambda x, k: skew(neighbour_counts(x, k, largest=False)), "least similar"),
        (unbiased, "bias-adjusted"),
        (lambda x, k: torch.tensor(0.0), "how many neighbours each point has"),
        (lambda x, k: skew(neighbour_counts(x, k)) + 1, "is wrong: expected 2.149, got 3.149"),
    ],
)
def test_k_occurrence_explains_wrong_answers(answer, hint):
    verdict = check_k_occurrence_skew(answer)
    assert verdict.status == INCORRECT, str(verdict)
    assert hint in " ".join(str(verdict).split())  # messages are wrapped at 88 columns


def test_k_occurrence_cases_end_with_anti_hubs():
    """Without minlength, bincount would be short: the last ids never occur."""
    for x, k in _skew_cases():
        counts = k_occurrence(x, k=k)
        assert counts[-1] == 0 and counts[0] > 0
        assert neighbour_counts(x, k, minlength=False).numel() < x.shape[0]


def test_k_occurrence_stub():
    assert check_k_occurrence_skew(stub).status == NOT_ATTEMPTED


# --- CSLS -------------------------------------------------------------------------------


def cos(x, y):
    return units(x) @ units(y).T


def csls_reference(x, y, k):
    c = cos(x, y)
    return 2 * c - c.topk(k, dim=1).values.mean(dim=1)[:, None] - c.topk(k, dim=0).values.mean(dim=0)[None, :]


def csls_normalize(x, y, k):
    f = torch.nn.functional.normalize
    c = f(x, dim=1) @ f(y, dim=1).T
    r_y = c.sort(dim=1, descending=True).values[:, :k].mean(dim=1)
    r_x = c.T.sort(dim=1, descending=True).values[:, :k].mean(dim=1)
    return 2 * c - r_y.unsqueeze(1) - r_x.unsqueeze(0)


def csls_loops(x, y, k):
    c = cos(x, y).tolist()
    n, m = len(c), len(c[0])
    r_y = [sum(sorted(row, reverse=True)[:k]) / k for row in c]
    r_x = [sum(sorted((c[i][j] for i in range(n)), reverse=True)[:k]) / k for j in range(m)]
    return [[2 * c[i][j] - r_y[i] - r_x[j] for j in range(m)] for i in range(n)]


@pytest.mark.parametrize(
    "answer",
    [
        csls_reference,
        csls_normalize,
        lambda x, y, k: csls_reference(x, y, k).numpy(),  # a numpy array
        csls_loops,  # nested lists
        lambda x, y, k: csls_reference(x, y, k).float(),  # float32
    ],
)
def test_csls_accepts_correct_forms(answer):
    verdict = check_csls(answer)
    assert verdict.status == CORRECT, str(verdict)


def dot_csls(x, y, k):
    c = x @ y.T
    return 2 * c - c.topk(k, dim=1).values.mean(dim=1)[:, None] - c.topk(k, dim=0).values.mean(dim=0)[None, :]


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda x, y, k: csls_reference(x, y, k) - cos(x, y), "counted twice"),
        (lambda x, y, k: 2 * cos(x, y) - cos(x, y).topk(k, dim=1).values.mean(dim=1)[:, None], "both"),
        (lambda x, y, k: 2 * cos(x, y) - cos(x, y).topk(k, dim=0).values.mean(dim=0)[None, :], "both"),
        (lambda x, y, k: 2 * cos(x, y) - cos(x, y).mean(dim=1)[:, None] - cos(x, y).mean(dim=0)[None, :],
         "k nearest"),
        (lambda x, y, k: 2 * cos(x, y) - 2 * cos(x, y).topk(k, dim=1).values.mean(dim=1)[:, None],
         "down each"),
        (dot_csls, "dot products"),
        (lambda x, y, k: csls_reference(x, y, k).T, "transposed"),
    ],
)
def test_csls_explains_wrong_answers(answer, hint):
    verdict = check_csls(answer)
    assert verdict.status == INCORRECT, str(verdict)
    assert hint in " ".join(str(verdict).split())  # messages are wrapped at 88 columns


def test_csls_stub():
    assert check_csls(stub).status == NOT_ATTEMPTED
