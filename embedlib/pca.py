"""Principal directions as a rotation: cut a rotated vector and keep the most of it.

For rows :math:`x_i` with mean :math:`\\mu`, the centred data :math:`X - \\mathbf{1}\\mu^\\top
= U S V^\\top` (SVD) gives the principal directions :math:`V` (columns, by decreasing variance;
Pearson 1901, Hotelling 1933). The rotation is applied to the raw rows, :math:`x \\mapsto
V^\\top x`, so at full width every inner product is kept; centring decides only the order of
the directions.
"""

from __future__ import annotations

import torch


def pca_rotation(x: torch.Tensor, center: bool = True) -> torch.Tensor:
    """An orthogonal [d, d] matrix whose columns are the directions of most variance, in order.

    Right singular vectors of the centred data, :math:`x - \\mu = U S V^\\top`; returns
    :math:`V`. Apply it to uncentred vectors (``x @ V``): :math:`V` is orthogonal, so every
    inner product is unchanged at full width. Centring matters for ranking: a query's score
    :math:`q \\cdot x = q \\cdot \\mu + q \\cdot (x - \\mu)` orders rows by the second term only,
    so the directions along which rows *differ* should come first, not the mean's direction,
    which an uncentred SVD puts first when the rows share a large common component.
    ``center=False`` gives that uncentred variant, for comparison.
    """
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D [n, d] matrix of vectors, got shape {tuple(x.shape)}")
    if x.shape[0] < x.shape[1] + int(center):
        raise ValueError(
            f"need more vectors than dimensions: got {x.shape[0]} vectors of width {x.shape[1]}"
        )
    data = x - x.mean(dim=0, keepdim=True) if center else x  # [n, d]
    _, _, vt = torch.linalg.svd(data, full_matrices=False)  # vt [d, d]
    return vt.T
