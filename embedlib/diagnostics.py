"""Embedding diagnostics: anisotropy, dominant dimensions, hubness, centring, whitening, CSLS.

The audit that combines them into one report lives in :mod:`embedlib.audit`.

Anisotropy is measured as the mean cosine between distinct vectors. With unit rows
:math:`u_i = x_i / \\lVert x_i \\rVert` and :math:`s = \\sum_i u_i`,

.. math:: \\frac{1}{n(n-1)} \\sum_{i \\ne j} u_i \\cdot u_j = \\frac{\\lVert s \\rVert^2 - n}{n(n-1)},

so the exact mean over all n(n-1) pairs costs O(nd), not O(n^2 d): no sampling is needed.
Coordinate c of that sum, :math:`(s_c^2 - \\sum_i u_{ic}^2) / (n(n-1))`, is dimension c's
share of the mean cosine; a "rogue" dimension holds much of it (Timkey & van Schijndel,
2021, arXiv:2109.04404).

Hubness (Radovanović et al., 2010): :math:`N_k(i)`, the k-occurrence of point i, counts the
points that have i among their k nearest neighbours. Its mean is exactly k; a long right
tail (positive skewness) means a few hubs answer many queries while anti-hubs
(:math:`N_k = 0`) answer none. CSLS (Conneau et al., 2018, arXiv:1710.04087) discounts
hubs: :math:`\\mathrm{CSLS}(x, y) = 2\\cos(x, y) - r_Y(x) - r_X(y)`, where :math:`r_Y(x)`
is the mean cosine of x to its k nearest neighbours among Y.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .similarity import cosine_matrix, normalize_rows

METRICS = ("cosine", "euclidean", "csls")
BLOCK_ROWS = 2048  # rows of the similarity matrix held in memory at once


def check_vectors(x: torch.Tensor, name: str = "x", min_rows: int = 2) -> torch.Tensor:
    """Validate an [n, d] matrix of finite floats and return it as a floating tensor."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"{name} must be an [n, d] array of numbers, got {type(x).__name__}") from error
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D [n vectors, d dims], got shape {tuple(x.shape)}; "
                         "reshape it, e.g. x.reshape(-1, x.shape[-1])")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name} has {x.shape[0]} vector(s); at least {min_rows} are needed to compare vectors")
    if x.shape[1] < 1:
        raise ValueError(f"{name} has width 0; vectors need at least one dimension")
    if not x.is_floating_point():
        x = x.double()
    first, total = None, 0
    for start in range(0, x.shape[0], BLOCK_ROWS):  # blocks: no [n, d] boolean copy
        block = x[start:start + BLOCK_ROWS]
        if bool(torch.isfinite(block.sum(dim=1)).all()):  # fast path: finite row sums
            continue  # (a NaN or inf entry always makes its row sum non-finite)
        bad = ~torch.isfinite(block)
        if bad.any():
            total += int(bad.sum())
            if first is None:
                row, col = (int(i) for i in bad.nonzero()[0])
                first = (row + start, col)
    if first is not None:
        row, col = first
        raise ValueError(f"{name} contains {x[row, col].item()} at row {row}, column {col} "
                         f"({total} non-finite values); remove or repair those rows first")
    return x


def check_k(k: int, n: int, same_set: bool = True) -> None:
    limit = n - 1 if same_set else n
    if not 1 <= k <= limit:
        raise ValueError(f"k={k} is out of range: with {n} vectors k must be between 1 and {limit} "
                         "(a point is never its own neighbour); choose a smaller k")


def unit_sums(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column sums of the unit rows of ``x`` and of their squares, in float64 ([d], [d]).

    Computed in blocks of rows, so no float64 copy of the table is made.
    """
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, x.shape[0], BLOCK_ROWS):
        units = normalize_rows(x[start:start + BLOCK_ROWS].double())  # [rows, d]
        total += units.sum(dim=0)
        squares += (units * units).sum(dim=0)
    return total, squares


def mean_cosine(x: torch.Tensor) -> float:
    """Mean cosine over all pairs of distinct rows of ``x`` [n, d], exact, in O(nd) (see module doc)."""
    x = check_vectors(x)
    n = x.shape[0]
    total, squares = unit_sums(x)  # [d], [d]
    return float((total @ total - squares.sum()) / (n * (n - 1)))


def cosine_contributions(x: torch.Tensor) -> torch.Tensor:
    """Each dimension's part of :func:`mean_cosine` ([d], float64); the parts sum to it.

    A part can be negative and the mean cosine can be near zero, so parts divided by the
    mean cosine ("shares") only mean something when the mean cosine is clearly positive.
    """
    x = check_vectors(x)
    n = x.shape[0]
    total, squares = unit_sums(x)
    return (total**2 - squares) / (n * (n - 1))


def center(x: torch.Tensor, fit: torch.Tensor | None = None) -> torch.Tensor:
    """Subtract the mean vector of ``fit`` (default ``x`` itself) from every row of ``x``."""
    x = check_vectors(x)
    reference = x if fit is None else check_vectors(fit, "fit")
    if reference.shape[1] != x.shape[1]:
        raise ValueError(f"fit has width {reference.shape[1]} but x has width {x.shape[1]}")
    return x - reference.mean(dim=0, dtype=reference.dtype).to(x.dtype)


def whiten(x: torch.Tensor, fit: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    """ZCA-whiten ``x`` with the mean and covariance of ``fit`` (default ``x``).

    .. math:: \\tilde x = (x - \\mu) \\, U (\\Lambda + \\epsilon I)^{-1/2} U^\\top,
       \\quad \\Sigma = U \\Lambda U^\\top

    Fitted on a set, the output has zero mean and (up to ``eps``) identity covariance there.
    Fit on a large reference sample and apply to new vectors. Su et al. (2021,
    arXiv:2103.15316) whiten sentence embeddings with :math:`U\\Lambda^{-1/2}` (PCA
    whitening); ZCA only adds the rotation back by :math:`U^\\top`, which leaves every cosine
    unchanged. ``eps`` keeps directions of zero variance (fewer vectors than dimensions)
    from blowing up.
    """
    x = check_vectors(x)
    reference = x if fit is None else check_vectors(fit, "fit")
    if reference.shape[1] != x.shape[1]:
        raise ValueError(f"fit has width {reference.shape[1]} but x has width {x.shape[1]}")
    if eps <= 0:
        raise ValueError(f"eps={eps} must be positive")
    ref = reference.double()
    mu = ref.mean(dim=0)  # [d]
    covariance = (ref - mu).T @ (ref - mu) / (ref.shape[0] - 1)  # [d, d]
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # [d], [d, d]
    scale = (eigenvalues.clamp_min(0) + eps).rsqrt()
    transform = eigenvectors * scale @ eigenvectors.T  # [d, d]
    return ((x.double() - mu) @ transform).to(x.dtype)


def _similarity_blocks(x: torch.Tensor, y: torch.Tensor, metric: str):
    """Yield (start, block [rows, m]) of similarities, larger = closer."""
    if metric == "cosine":
        ux, uy = normalize_rows(x), normalize_rows(y)
        for start in range(0, x.shape[0], BLOCK_ROWS):
            yield start, ux[start:start + BLOCK_ROWS] @ uy.T
    else:  # euclidean: negative squared distance ranks like negative distance
        y_sq = (y * y).sum(dim=1)  # [m]
        for start in range(0, x.shape[0], BLOCK_ROWS):
            block = x[start:start + BLOCK_ROWS]
            yield start, 2 * block @ y.T - (block * block).sum(dim=1, keepdim=True) - y_sq


def _neighbour_mean(x: torch.Tensor, y: torch.Tensor, k: int, exclude_self: bool) -> torch.Tensor:
    """r_Y(x_i): mean cosine of each row of x to its k nearest rows of y ([n])."""
    out = torch.empty(x.shape[0], dtype=x.dtype)
    for start, block in _similarity_blocks(x, y, "cosine"):
        if exclude_self:
            rows = torch.arange(block.shape[0])
            block[rows, rows + start] = -torch.inf
        out[start:start + block.shape[0]] = block.topk(k, dim=1).values.mean(dim=1)
    return out


def csls(x: torch.Tensor, y: torch.Tensor | None = None, k: int = 10) -> torch.Tensor:
    """Cross-domain similarity local scaling between rows of ``x`` [n, d] and ``y`` [m, d]: [n, m].

    ``CSLS(x_i, y_j) = 2 cos(x_i, y_j) - r_Y(x_i) - r_X(y_j)`` with ``r`` the mean cosine to
    the k nearest neighbours in the other set (Conneau et al., 2018, arXiv:1710.04087, eq. 6).
    With ``y=None`` both sets are ``x`` and a vector is not counted as its own neighbour.
    """
    x = check_vectors(x)
    same = y is None
    y = x if same else check_vectors(y, "y", min_rows=1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has width {x.shape[1]} but y has width {y.shape[1]}")
    check_k(k, y.shape[0], same_set=same)
    check_k(k, x.shape[0], same_set=same)
    r_x = _neighbour_mean(x, y, k, exclude_self=same)  # [n]
    r_y = r_x if same else _neighbour_mean(y, x, k, exclude_self=False)  # [m]
    return 2 * cosine_matrix(x, y) - r_x[:, None] - r_y[None, :]


def neighbour_ids(x: torch.Tensor, k: int = 10, metric: str = "cosine") -> torch.Tensor:
    """Indices of each row's k nearest other rows of ``x`` [n, d], nearest first: [n, k] (int64).

    ``metric`` is "cosine", "euclidean" or "csls" (CSLS with the same k). A row is never its
    own neighbour. Computed in blocks of rows, so the full [n, n] matrix is never held.
    """
    x = check_vectors(x)
    n = x.shape[0]
    check_k(k, n)
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not one of {', '.join(METRICS)}")
    if metric == "csls":
        r = _neighbour_mean(x, x, k, exclude_self=True)  # [n]
        blocks = ((s, 2 * b - r[s:s + b.shape[0], None] - r[None, :]) for s, b in _similarity_blocks(x, x, "cosine"))
    else:
        blocks = _similarity_blocks(x, x, metric)
    out = torch.empty(n, k, dtype=torch.int64)
    for start, block in blocks:
        rows = torch.arange(block.shape[0])
        block[rows, rows + start] = -torch.inf  # a point is not its own neighbour
        out[start:start + block.shape[0]] = block.topk(k, dim=1).indices  # [rows, k]
    return out


def k_occurrence(x: torch.Tensor, k: int = 10, metric: str = "cosine") -> torch.Tensor:
    """N_k for every row of ``x`` [n, d]: how many other rows list it among their k nearest ([n], int64).

    ``metric`` is "cosine", "euclidean" or "csls" (CSLS with the same k). The counts sum to n*k.
    """
    neighbours = neighbour_ids(x, k, metric)  # [n, k]
    return torch.bincount(neighbours.reshape(-1), minlength=neighbours.shape[0])


def skewness(values: torch.Tensor) -> float:
    """Standardised third moment E[(v - mean)^3] / std^3 (population form, like scipy's default)."""
    v = values.double()
    deviation = v - v.mean()
    spread = deviation.pow(2).mean().sqrt()
    if spread == 0:
        return 0.0
    return float(deviation.pow(3).mean() / spread**3)


@dataclass(frozen=True)
class Hubness:
    """k-occurrence statistics: skewness, the biggest hubs and the share of anti-hubs."""

    k: int
    skewness: float
    hubs: list[int]  # row indices, largest N_k first
    hub_counts: list[int]
    antihub_fraction: float  # share of rows that are nobody's neighbour
    max_share: float  # largest N_k divided by n: the share of queries the top hub answers


def hubness(x: torch.Tensor, k: int = 10, metric: str = "cosine", top: int = 10) -> Hubness:
    """Skewness of the k-occurrence distribution, the ``top`` hubs and the anti-hub share."""
    counts = k_occurrence(x, k=k, metric=metric)
    order = torch.argsort(counts, descending=True, stable=True)[:top]
    return Hubness(
        k=k,
        skewness=skewness(counts),
        hubs=order.tolist(),
        hub_counts=counts[order].tolist(),
        antihub_fraction=float((counts == 0).double().mean()),
        max_share=float(counts.max()) / counts.numel(),
    )


def audit(vectors: Any, counts: Any = None, **options: Any):
    """The embedding audit; see :func:`embedlib.audit.audit` (kept here for old imports)."""
    from .audit.core import audit as run

    return run(vectors, counts, **options)


def __getattr__(name: str) -> Any:
    if name == "AuditReport":  # moved to embedlib.audit; imported lazily (no import cycle)
        from .audit.core import AuditReport

        return AuditReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
