"""An embedding audit: anisotropy, dominant dimensions, hubness and rare tokens, in one report.

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

from dataclasses import asdict, dataclass, field
from typing import Sequence

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
    bad = ~torch.isfinite(x)
    if bad.any():
        row, col = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name} contains {x[row, col].item()} at row {row}, column {col} "
                         f"({int(bad.sum())} non-finite values); remove or repair those rows first")
    return x


def check_k(k: int, n: int, same_set: bool = True) -> None:
    limit = n - 1 if same_set else n
    if not 1 <= k <= limit:
        raise ValueError(f"k={k} is out of range: with {n} vectors k must be between 1 and {limit} "
                         "(a point is never its own neighbour); choose a smaller k")


def mean_cosine(x: torch.Tensor) -> float:
    """Mean cosine over all pairs of distinct rows of ``x`` [n, d], exact, in O(nd) (see module doc)."""
    x = check_vectors(x)
    n = x.shape[0]
    units = normalize_rows(x.double())  # [n, d]
    total = units.sum(dim=0)  # [d]
    return float((total @ total - (units * units).sum()) / (n * (n - 1)))


def cosine_contributions(x: torch.Tensor) -> torch.Tensor:
    """Each dimension's share of :func:`mean_cosine` ([d], float64); the shares sum to it."""
    x = check_vectors(x)
    n = x.shape[0]
    units = normalize_rows(x.double())  # [n, d]
    return (units.sum(dim=0) ** 2 - (units * units).sum(dim=0)) / (n * (n - 1))


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


@dataclass
class AuditReport:
    """What :func:`audit` found. ``print(report)`` for people, ``report.as_dict()`` for code."""

    n_vectors: int
    width: int
    sampled: int  # rows used for the neighbour statistics
    mean_norm: float
    mean_cosine: float
    mean_cosine_centered: float
    dominant_dims: list[int]  # largest shares of the mean cosine first
    dominant_share: list[float]  # their shares of the mean cosine
    magnitude_ratio: float  # largest |coordinate| of the mean vector over the median one
    k: int
    hub_skewness: float
    hub_skewness_csls: float
    hubs: list[str]
    antihub_fraction: float
    rare_below: int | None = None
    rare_fraction: float | None = None  # share of counted tokens with fewer than rare_below occurrences
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"embedding audit: {self.n_vectors:,} vectors x {self.width} dims "
            f"(neighbour statistics on {self.sampled:,})",
            f"  mean length             {self.mean_norm:.3f}",
            f"  mean cosine             {self.mean_cosine:.3f} raw, {self.mean_cosine_centered:.3f} after centering",
            "  dominant dimensions     " + ", ".join(
                f"{d} ({s:.0%})" for d, s in zip(self.dominant_dims, self.dominant_share)) + " of the mean cosine",
            f"  largest/median |mean|   {self.magnitude_ratio:.1f}x",
            f"  hubness (k={self.k})        skew {self.hub_skewness:.2f} cosine, {self.hub_skewness_csls:.2f} CSLS; "
            f"anti-hubs {self.antihub_fraction:.1%}",
            "  top hubs                " + ", ".join(self.hubs),
        ]
        if self.rare_fraction is not None:
            lines.append(f"  rare tokens             {self.rare_fraction:.1%} seen fewer than {self.rare_below} times")
        lines += [f"  ! {note}" for note in self.notes]
        return "\n".join(lines)


def audit(
    vectors: torch.Tensor,
    counts: Sequence[int] | torch.Tensor | None = None,
    *,
    tokens: Sequence[str] | None = None,
    k: int = 10,
    sample: int = 5000,
    rare_below: int = 100,
    top: int = 5,
    seed: int = 0,
) -> AuditReport:
    """Audit an embedding matrix ``vectors`` [n, d]: anisotropy, dominant dimensions, hubness, rare tokens.

    Args:
        vectors: one row per token (or sentence).
        counts: optional training-corpus count of each row's token, to report how many fall
            below ``rare_below`` occurrences (rows with count 0 are ignored: never seen).
        tokens: optional names of the rows, used to print the hubs.
        k: neighbourhood size for hubness and CSLS.
        sample: at most this many rows (drawn with ``seed``) enter the neighbour statistics,
            which cost O(sample^2 d); anisotropy always uses every row.
        rare_below: the occurrence count below which a token counts as rare (the notes say ~100).
        top: how many dominant dimensions and hubs to list.

    Example:
        >>> print(audit(torch.randn(500, 32)))  # doctest: +SKIP
    """
    x = check_vectors(vectors, "vectors")
    n, d = x.shape
    if tokens is not None and len(tokens) != n:
        raise ValueError(f"got {len(tokens)} token names for {n} vectors; pass one name per row")
    if sample < 2:
        raise ValueError(f"sample={sample} must be at least 2")
    rows = torch.arange(n)
    if n > sample:
        rows = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:sample].sort().values
    check_k(k, rows.numel())
    shares = cosine_contributions(x)
    raw = float(shares.sum())
    order = torch.argsort(shares, descending=True)[:top]
    magnitude = x.double().mean(dim=0).abs()  # [d]: how far the mean vector leans on each dimension
    subset = x[rows].double()
    hub = hubness(subset, k=k, top=top)
    hub_csls = skewness(k_occurrence(subset, k=k, metric="csls"))
    names = [tokens[int(rows[i])] if tokens is not None else str(int(rows[i])) for i in hub.hubs]
    report = AuditReport(
        n_vectors=n,
        width=d,
        sampled=rows.numel(),
        mean_norm=float(x.double().norm(dim=1).mean()),
        mean_cosine=raw,
        mean_cosine_centered=mean_cosine(center(x.double())),
        dominant_dims=order.tolist(),
        dominant_share=[float(shares[i] / raw) if raw != 0 else 0.0 for i in order],
        magnitude_ratio=float(magnitude.max() / magnitude.median().clamp_min(1e-12)),
        k=k,
        hub_skewness=hub.skewness,
        hub_skewness_csls=hub_csls,
        hubs=[f"{name} ({count})" for name, count in zip(names, hub.hub_counts)],
        antihub_fraction=hub.antihub_fraction,
    )
    if counts is not None:
        counts = torch.as_tensor(counts)
        if counts.shape != (n,):
            raise ValueError(f"counts has shape {tuple(counts.shape)}; pass one count per vector ({n})")
        seen = counts[counts > 0]
        report.rare_below = rare_below
        report.rare_fraction = float((seen < rare_below).double().mean()) if seen.numel() else 0.0
    if raw > 0.3:
        report.notes.append(f"anisotropic: cosines start near {raw:.2f}; center (or whiten) before thresholding")
    if report.dominant_share and report.dominant_share[0] > 0.25:
        report.notes.append(f"dimension {report.dominant_dims[0]} carries {report.dominant_share[0]:.0%} "
                            "of the mean cosine (a rogue dimension)")
    if hub.skewness > 1.0:
        report.notes.append(f"hubs: k-occurrence skew {hub.skewness:.1f}; consider CSLS or centering for search")
    if report.rare_fraction is not None and report.rare_fraction > 0.2:
        report.notes.append(f"{report.rare_fraction:.0%} of seen tokens are rare; expect unstable vectors for them")
    return report
