"""Same-shape baselines: what a statistic reads on vectors with no structure.

Two nulls, both with the table's shape:

- ``gaussian_like``: isotropic Gaussian directions scaled to the table's own row norms.
  Every direction is equally likely, so whatever the audit measures on it (mean cosine,
  a dimension's part of it, hubness) is what sampling noise alone gives for this n and d.
- ``permute_columns``: each column shuffled independently (a permutation null). It keeps
  every dimension's values (its mean, its scale, its outliers) and destroys how dimensions
  co-vary within a row; hubness beyond it comes from that joint structure.
"""

from __future__ import annotations

from typing import Iterator

import torch

BLOCK_ROWS = 4096
COLUMN_BLOCK = 256


def gaussian_blocks(
    norms: torch.Tensor, d: int, generator: torch.Generator, block: int = BLOCK_ROWS
) -> Iterator[torch.Tensor]:
    """Yield float32 blocks of Gaussian rows rescaled to ``norms`` (so the table is never held)."""
    for start in range(0, norms.numel(), block):
        scale = norms[start : start + block].float()
        g = torch.randn(scale.numel(), d, generator=generator)
        yield g * (scale / g.norm(dim=1).clamp_min(1e-30))[:, None]


def gaussian_like(
    norms: torch.Tensor, d: int, generator: torch.Generator
) -> torch.Tensor:
    """An [n, d] float32 Gaussian table with the given row norms."""
    return torch.cat(list(gaussian_blocks(norms, d, generator)))


def permute_columns(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shuffle each column of ``x`` [n, d] independently (float32 copy)."""
    out = torch.empty_like(x)
    n, d = x.shape
    for start in range(0, d, COLUMN_BLOCK):
        cols = x[:, start : start + COLUMN_BLOCK]
        order = torch.rand(n, cols.shape[1], generator=generator).argsort(dim=0)
        out[:, start : start + COLUMN_BLOCK] = torch.gather(cols, 0, order)
    return out
