"""Steck et al.'s closed forms against gradient descent, and the rescaling argument itself."""

from __future__ import annotations

import pytest
import torch

from embedlib import cosine_scaling as cs
from embedlib.similarity import cosine_matrix


def data(n: int = 12, p: int = 6, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, p, generator=generator, dtype=torch.float64) < 0.4).double()


def descend(x: torch.Tensor, k: int, loss_fn, steps: int = 3000) -> float:
    """The slow way: minimise the objective by Adam from a random start; returns the best loss."""
    generator = torch.Generator().manual_seed(1)
    a = (0.3 * torch.randn(x.shape[1], k, generator=generator, dtype=torch.float64)).requires_grad_()
    b = (0.3 * torch.randn(x.shape[1], k, generator=generator, dtype=torch.float64)).requires_grad_()
    optimizer = torch.optim.Adam([a, b], lr=0.02)
    best = float("inf")
    for _ in range(steps):
        loss = loss_fn(a, b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        best = min(best, loss.item())
    return best


@pytest.mark.parametrize("k, lam", [(2, 0.5), (3, 2.0)])
def test_product_penalty_closed_form_beats_gradient_descent(k, lam):
    x = data()
    closed = cs.product_penalty_loss(x, cs.fit_product_penalty(x, k, lam), lam)
    found = descend(x, k, lambda a, b: (x - x @ a @ b.T).pow(2).sum() + lam * (a @ b.T).pow(2).sum())
    assert closed <= found + 1e-6
    assert closed == pytest.approx(found, rel=1e-3)


@pytest.mark.parametrize("k, lam", [(2, 0.5), (3, 1.0)])
def test_factor_penalty_closed_form_beats_gradient_descent(k, lam):
    x = data()
    closed = cs.factor_penalty_loss(x, cs.fit_factor_penalty(x, k, lam), lam)
    found = descend(x, k, lambda a, b: (x - x @ a @ b.T).pow(2).sum() + lam * ((x @ a).pow(2).sum() + b.pow(2).sum()))
    assert closed <= found + 1e-6
    assert closed == pytest.approx(found, rel=1e-3)


def test_diagonal_rescaling_keeps_predictions_and_objective_1_but_changes_cosines():
    x = data(30, 10)
    fit = cs.fit_product_penalty(x, 4, 1.0)
    moved = fit.rescaled(cs.random_scaling(4, spread=10.0, seed=3))
    torch.testing.assert_close(moved.predict(x), fit.predict(x))
    assert cs.product_penalty_loss(x, moved, 1.0) == pytest.approx(cs.product_penalty_loss(x, fit, 1.0), rel=1e-12)
    assert (cosine_matrix(moved.b) - cosine_matrix(fit.b)).abs().max() > 0.1


def test_objective_2_pins_the_scale_but_not_a_rotation():
    x = data(30, 10)
    fit = cs.fit_factor_penalty(x, 4, 0.5)
    base = cs.factor_penalty_loss(x, fit, 0.5)
    assert cs.factor_penalty_loss(x, fit.rescaled(cs.random_scaling(4, seed=3)), 0.5) > base * 1.01
    rotation, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    rotated = cs.Factors(fit.a @ rotation, fit.b @ rotation)
    assert cs.factor_penalty_loss(x, rotated, 0.5) == pytest.approx(base, rel=1e-12)
    torch.testing.assert_close(cosine_matrix(rotated.b), cosine_matrix(fit.b))


def test_random_scaling_range_and_seed():
    scale = cs.random_scaling(1000, spread=10.0, seed=0)
    assert scale.min() >= 0.1 and scale.max() <= 10.0
    torch.testing.assert_close(scale, cs.random_scaling(1000, spread=10.0, seed=0))


def test_document_word_matrix():
    x, words = cs.document_word_matrix([["a", "b", "a"], ["b", "c"], ["b"]], min_documents=2)
    assert words == ["b"] and x.tolist() == [[1.0], [1.0], [1.0]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cs.fit_product_penalty(torch.ones(3, 4), 5, 1.0), "k=5"),
        (lambda: cs.fit_factor_penalty(torch.ones(3, 4), 2, -1.0), "lam=-1.0"),
        (lambda: cs.fit_product_penalty(torch.ones(4), 1, 1.0), "2-D"),
        (lambda: cs.fit_product_penalty(torch.ones(3, 4), 2, 1.0).rescaled(torch.zeros(2)), "non-zero"),
        (lambda: cs.random_scaling(3, spread=0.5), "spread"),
        (lambda: cs.document_word_matrix([["a"]], min_documents=2), "min_documents"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
