"""Cosine similarity, the measure every chapter uses (and chapter 6 questions).

.. math:: \\cos(a, b) = \\frac{a \\cdot b}{\\lVert a \\rVert \\, \\lVert b \\rVert}
"""

from __future__ import annotations

import torch

EPSILON = 1e-12


def normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Scale each row (last axis) to unit length; zero rows stay zero."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(EPSILON)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine of matching vectors along the last axis (broadcasting like ``a * b``)."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vectors of different widths: {a.shape[-1]} and {b.shape[-1]}")
    return (normalize_rows(a) * normalize_rows(b)).sum(dim=-1)


def cosine_matrix(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """All pairwise cosines between the rows of ``x`` [n, d] and ``y`` [m, d] (default ``x``): [n, m]."""
    y = x if y is None else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected two [n, d] matrices of equal width, got {tuple(x.shape)} and {tuple(y.shape)}")
    return normalize_rows(x) @ normalize_rows(y).T
