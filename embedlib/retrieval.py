"""Nearest-neighbour search by inner product: exact, and the Matryoshka "funnel".

Exact search scores every database vector at full width :math:`d`,

.. math:: s_{qi} = q \\cdot x_i, \\qquad \\text{result}(q) = \\operatorname{top-}k_i \\; s_{qi},

which costs :math:`N d` multiply-adds per query. Adaptive retrieval (Kusupati et al. 2022,
arXiv:2205.13147, section 4.3) uses the nesting of a Matryoshka embedding: score everything
with the first :math:`m \\ll d` coordinates, keep a shortlist of the :math:`T` best, and rerank
only those at full width,

.. math:: C(q) = \\operatorname{top-}T_i \\; q_{:m} \\cdot x_{i,:m}, \\qquad
          \\text{result}(q) = \\operatorname{top-}k_{i \\in C(q)} \\; q \\cdot x_i ,

which costs :math:`N m + T d` per query: a FLOP ratio of :math:`N d / (N m + T d)`.

:func:`naive_funnel_search` writes that down directly. It is slow for a reason the FLOP count
hides: it writes an :math:`N`-wide score matrix per query and runs a top-:math:`T` over it, and
both cost the same at width 32 as at width 512. :func:`funnel_search` computes the same thing
without that matrix: a per-query score threshold estimated from a small sample, a scan of the
database in cache-sized blocks that keeps only the few scores above it, low-precision prefix
arithmetic (bfloat16 or int8), and a full-width rerank of exactly :math:`T` candidates. How
each step is made fast lives in :mod:`embedlib.funnel_kernels`.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from . import funnel_kernels as kernels

PRECISIONS = ("fp32", "bf16", "int8")
QUERY_BLOCK = 256  # queries scored together by the exact search: bounds the score matrix
FUNNEL_QUERY_BLOCK = 512  # queries scanned together by the funnel: bounds its buffers


class SearchResult(NamedTuple):
    """The k best database rows per query, best first: ``scores`` and ``indices``, both [Q, k]."""

    scores: torch.Tensor
    indices: torch.Tensor


def as_matrix(x: Any, name: str) -> torch.Tensor:
    """``x`` as a 2-D float tensor: torch tensors pass as they are, numpy arrays and nested
    lists are converted (float64 stays float64); anything else raises ``TypeError``."""
    if isinstance(x, torch.Tensor):
        tensor = x
    else:
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(x).__name__}") from error
        if array.dtype.kind not in "fiu":
            raise TypeError(
                f"{name} must hold numbers (a torch tensor or numpy array), got {type(x).__name__} "
                f"of dtype {array.dtype}"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if not (tensor.is_floating_point()):
        tensor = tensor.to(torch.float32)
    return tensor


def _check_search_inputs(queries: torch.Tensor, database: torch.Tensor, k: int) -> None:
    if queries.ndim != 2 or database.ndim != 2:
        raise ValueError(
            f"queries and database must be 2-D [count, width]; got shapes {tuple(queries.shape)} and "
            f"{tuple(database.shape)} (use .unsqueeze(0) for a single query)"
        )
    if queries.shape[1] != database.shape[1]:
        raise ValueError(
            f"queries have width {queries.shape[1]} but the database has width {database.shape[1]}; "
            "encode both with the same model and truncate both to the same width"
        )
    if not 1 <= k <= database.shape[0]:
        raise ValueError(f"k={k} must be between 1 and the database size {database.shape[0]}")


def search(queries: Any, database: Any, k: int) -> SearchResult:
    """Exact top-``k`` by inner product (cosine if the rows are unit length).

    ``queries`` [Q, d], ``database`` [N, d] (tensors or numpy arrays). Queries are scored in
    blocks of ``QUERY_BLOCK`` so the score matrix never exceeds ``QUERY_BLOCK x N``.
    """
    queries, database = as_matrix(queries, "queries"), as_matrix(database, "database")
    _check_search_inputs(queries, database, k)
    queries = queries.to(database.dtype)
    scores, indices = [], []
    for start in range(0, queries.shape[0], QUERY_BLOCK):
        block = queries[start : start + QUERY_BLOCK] @ database.T  # [b, N]
        top = torch.topk(block, k, dim=1)  # sorted, best first
        scores.append(top.values)
        indices.append(top.indices)
    return SearchResult(torch.cat(scores), torch.cat(indices))


def _check_funnel_arguments(database: torch.Tensor, shortlist_dim: int, shortlist_k: int, k: int) -> None:
    n, d = database.shape
    if not 1 <= shortlist_dim <= d:
        raise ValueError(f"shortlist_dim={shortlist_dim} must be between 1 and the embedding width {d}")
    if not k <= shortlist_k <= n:
        raise ValueError(
            f"shortlist_k={shortlist_k} must be at least k={k} (the rerank can only return shortlisted rows) "
            f"and at most the database size {n}"
        )


def naive_funnel_search(
    queries: Any, database: Any, shortlist_dim: int, shortlist_k: int, k: int
) -> SearchResult:
    """Adaptive retrieval written plainly: prefix scores, top-T shortlist, full-width rerank.

    The readable reference for :func:`funnel_search`; same arguments and result format.
    """
    queries, database = as_matrix(queries, "queries"), as_matrix(database, "database")
    _check_search_inputs(queries, database, k)
    _check_funnel_arguments(database, shortlist_dim, shortlist_k, k)
    queries = queries.to(database.dtype)
    m = shortlist_dim
    prefix_scores = queries[:, :m] @ database[:, :m].T  # [Q, N]: the matrix the fast version avoids
    shortlist = torch.topk(prefix_scores, shortlist_k, dim=1).indices  # [Q, T]
    candidates = database[shortlist]  # [Q, T, d]
    full_scores = torch.einsum("qtd,qd->qt", candidates, queries)  # [Q, T]
    top = torch.topk(full_scores, k, dim=1)
    return SearchResult(top.values, torch.gather(shortlist, 1, top.indices))


@dataclass(frozen=True)
class PrefixIndex:
    """The database's first ``dim`` coordinates in the scan's precision, built once per database.

    ``prefix`` [N, m] (float32, bfloat16 or int8; int8 scores only rank, so its scale is
    dropped); ``sample`` [n_s, m] holds the prefixes of a fixed random subset of the rows,
    used to set thresholds.
    """

    prefix: torch.Tensor
    dim: int
    precision: str
    sample: torch.Tensor

    @property
    def size(self) -> int:
        return self.prefix.shape[0]


def build_prefix_index(
    database: Any, shortlist_dim: int, precision: str = "bf16", sample_fraction: float = 0.05, seed: int = 0
) -> PrefixIndex:
    """Prepare the low-precision prefix that :func:`funnel_search` scans.

    int8 uses one symmetric scale for the whole prefix,
    :math:`\\hat{x} = \\operatorname{round}(x / s)`, :math:`s = \\max |x| / 127`.
    """
    database = as_matrix(database, "database")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {PRECISIONS}")
    if not 0 < sample_fraction <= 1:
        raise ValueError(f"sample_fraction={sample_fraction} must be in (0, 1]; 0.05 works well")
    if database.ndim != 2 or not 1 <= shortlist_dim <= database.shape[1]:
        raise ValueError(
            f"shortlist_dim={shortlist_dim} must be between 1 and the width of the [N, d] database, "
            f"shape {tuple(database.shape)}"
        )
    prefix = database[:, :shortlist_dim].float().contiguous()  # [N, m]
    if precision == "bf16":
        prefix = prefix.to(torch.bfloat16)
    elif precision == "int8":
        scale = float(prefix.abs().max()) / 127 or 1.0
        prefix = torch.round(prefix / scale).to(torch.int8)
    n = database.shape[0]
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(n, generator=generator)[: max(1, math.ceil(sample_fraction * n))]
    return PrefixIndex(prefix, shortlist_dim, precision, prefix[sample.sort().values])


def _quantise_queries(queries: torch.Tensor, index: PrefixIndex) -> torch.Tensor:
    """The queries' prefixes in the index's precision, [Q, m]."""
    prefix = queries[:, : index.dim].float().contiguous()  # [Q, m]
    if index.precision == "fp32":
        return prefix
    if index.precision == "bf16":
        return prefix.to(torch.bfloat16)
    # one scale per query: rescaling a query does not change the order of its scores
    query_scale = prefix.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127  # [Q, 1]
    return torch.round(prefix / query_scale).to(torch.int8)


def _thresholds(query_prefix: torch.Tensor, index: PrefixIndex, shortlist_k: int, oversample: float) -> np.ndarray:
    """Per-query score threshold expected to let through about ``oversample * T`` rows, [Q].

    In a uniform sample of :math:`n_s` of the :math:`N` rows, the :math:`r`-th best score with
    :math:`r = \\lceil \\text{oversample} \\cdot T \\, n_s / N \\rceil` is exceeded by about
    :math:`r N / n_s` rows of the whole database. Float thresholds are kept positive (the
    integer comparison needs it: the threshold's bit pattern read as an integer is at least
    1, so only scores > 0 pass); a query left with fewer than :math:`T` survivors is
    rescanned exactly by :func:`funnel_search`.
    """
    n_sample = index.sample.shape[0]
    rank = min(n_sample, math.ceil(oversample * shortlist_k * n_sample / index.size))
    sample_scores = kernels.prefix_products(query_prefix, index.sample, index.precision)  # [Q, n_s]
    ordered = kernels.as_ordered_integers(sample_scores, index.precision)  # [Q, n_s]
    threshold = kernels.rth_largest(ordered, rank)  # [Q]; negative floats order wrongly, but
    if index.precision != "int8":  # every negative float is below every positive one, and
        threshold = np.maximum(threshold, 1)  # the threshold is kept positive (> 0) anyway
    return threshold.astype(ordered.dtype)


def _scan(query_prefix: torch.Tensor, index: PrefixIndex, thresholds: np.ndarray, block_rows: int, capacity: int):
    """Every (row, score) with prefix score >= the query's threshold, block by block.

    Returns per-query buffers ``rows``, ``values`` [Q, capacity] and the survivor counts [Q]
    (see :func:`embedlib.funnel_kernels.collect_survivors`). Scores are ordered integers.
    """
    n_queries = query_prefix.shape[0]
    rows = np.empty((n_queries, capacity), dtype=np.int64)
    values = np.empty((n_queries, capacity), dtype=np.int64)
    counts = np.zeros(n_queries, dtype=np.int64)
    out_dtype = torch.int32 if index.precision == "int8" else query_prefix.dtype
    buffer = torch.empty(n_queries, block_rows, dtype=out_dtype)  # reused: stays in cache
    for start in range(0, index.size, block_rows):
        block = index.prefix[start : start + block_rows]  # [B, m]
        out = buffer if block.shape[0] == block_rows else None
        scores = kernels.prefix_products(query_prefix, block, index.precision, out=out)  # [Q, B]
        kernels.collect_survivors(
            kernels.as_ordered_integers(scores, index.precision), thresholds, start, rows, values, counts
        )
    return rows, values, counts


@contextmanager
def _stage(stages: dict[str, float] | None, name: str):
    """Add the seconds spent in the ``with`` body to ``stages[name]`` (no-op without a dict)."""
    if stages is None:
        yield
        return
    start = time.perf_counter()
    yield
    stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


def funnel_search(
    queries: Any,
    database: Any,
    shortlist_dim: int,
    shortlist_k: int,
    k: int,
    *,
    precision: str = "bf16",
    index: PrefixIndex | None = None,
    oversample: float = 3.0,
    block_rows: int = 1024,
    stages: dict[str, float] | None = None,
) -> SearchResult:
    """Adaptive retrieval, fast: the same result as :func:`naive_funnel_search`, computed lean.

    Args:
        queries: [Q, d] query embeddings (torch tensor or numpy array).
        database: [N, d] database embeddings (Matryoshka-ordered: early coordinates carry the
            most information). Its dtype (float32 or bfloat16) is the rerank's precision.
        shortlist_dim: m, the prefix width used to shortlist (e.g. 32).
        shortlist_k: T, how many candidates per query are reranked at full width.
        k: how many results per query to return.
        precision: arithmetic of the prefix scan: ``"fp32"`` (then the shortlist is the naive
            one's, up to float rounding of ties), ``"bf16"`` or ``"int8"`` (scores rounded; the
            shortlist can differ near its boundary).
        index: a :func:`build_prefix_index` result for this database, to build it once and
            search many times; built on the fly when omitted.
        oversample: how many times T rows the per-query threshold aims to let through.
        block_rows: database rows scored per step (small enough for the scores to stay in cache).
        stages: if a dict is given, the seconds of each step are added to it, by name.

    Returns:
        :class:`SearchResult` with full-width scores and indices, [Q, k] each, best first.

    Steps: (1) a threshold per query from a fixed random sample of rows (see ``_thresholds``);
    (2) one pass over the prefix in blocks of ``block_rows``, keeping (row, score) for scores
    at or above the threshold, so no [Q, N] matrix is ever stored; (3) the best T survivors
    per query (a query with fewer than T survivors, or more than its buffer holds, is
    rescored exactly at prefix width); (4) full-width rerank of those T rows.

    Reference: Kusupati et al., Matryoshka Representation Learning, NeurIPS 2022
    (arXiv:2205.13147), adaptive retrieval.
    """
    queries, database = as_matrix(queries, "queries"), as_matrix(database, "database")
    _check_search_inputs(queries, database, k)
    _check_funnel_arguments(database, shortlist_dim, shortlist_k, k)
    if oversample < 1:
        raise ValueError(f"oversample={oversample} must be >= 1 (it is the target survivors / T); 3 works well")
    if block_rows < 1:
        raise ValueError(f"block_rows={block_rows} must be a positive number of rows; 1024 works well")
    if index is None:
        index = build_prefix_index(database, shortlist_dim, precision)
    elif index.dim != shortlist_dim or index.size != database.shape[0]:
        raise ValueError(
            f"the index holds {index.size} rows of width {index.dim}, but the search asks for "
            f"{database.shape[0]} rows and shortlist_dim={shortlist_dim}; rebuild it with build_prefix_index"
        )
    queries = queries.to(database.dtype).contiguous()
    if queries.shape[0] > FUNNEL_QUERY_BLOCK:  # bound the buffers: search in blocks of queries
        parts = [
            funnel_search(queries[s : s + FUNNEL_QUERY_BLOCK], database, shortlist_dim, shortlist_k, k,
                          index=index, oversample=oversample, block_rows=block_rows, stages=stages)
            for s in range(0, queries.shape[0], FUNNEL_QUERY_BLOCK)
        ]
        return SearchResult(torch.cat([p.scores for p in parts]), torch.cat([p.indices for p in parts]))
    capacity = max(shortlist_k + 64, math.ceil(4 * oversample * shortlist_k))  # survivors kept per query
    with _stage(stages, "quantise queries"):
        query_prefix = _quantise_queries(queries, index)  # [Q, m]
    with _stage(stages, "thresholds from the sample"):
        thresholds = _thresholds(query_prefix, index, shortlist_k, oversample)  # [Q]
    with _stage(stages, "scan: products, compare, keep"):
        rows, values, counts = _scan(query_prefix, index, thresholds, min(block_rows, index.size), capacity)
    with _stage(stages, "best T per query"):
        shortlist, complete = kernels.best_per_query(rows, values, counts, shortlist_k)  # [Q, T]
    with _stage(stages, "exact rescan of short queries"):
        for q in np.flatnonzero(~complete):  # rare: the sample set the threshold badly
            prefix_scores = database[:, :shortlist_dim] @ queries[q, :shortlist_dim]  # [N], exact
            shortlist[q] = torch.topk(prefix_scores, shortlist_k).indices.numpy()
    with _stage(stages, "rerank at full width"):
        shortlist = torch.from_numpy(shortlist)
        full = kernels.rerank_scores(queries, database, shortlist)  # [Q, T], summed in float32
        top = torch.topk(full, k, dim=1)
        result = SearchResult(top.values.to(database.dtype), torch.gather(shortlist, 1, top.indices))
    return result


def funnel_flop_ratio(n: int, dim: int, shortlist_dim: int, shortlist_k: int) -> float:
    """Multiply-adds of exact search over those of the funnel: :math:`N d / (N m + T d)`."""
    return n * dim / (n * shortlist_dim + shortlist_k * dim)


def recall_at_k(found: Any, truth: Any) -> float:
    """Mean over queries of :math:`|\\text{found}_q \\cap \\text{truth}_q| / k`, for index tensors [Q, k].

    Each query is compared with its own truth only: an id found for query 1 that is a true
    neighbour of query 2 does not count.
    """
    found, truth = torch.as_tensor(np.asarray(found)), torch.as_tensor(np.asarray(truth))
    if found.shape != truth.shape or found.ndim != 2:
        raise ValueError(
            f"found {tuple(found.shape)} and truth {tuple(truth.shape)} must both be [queries, k] index tensors"
        )
    hits = (found[:, :, None] == truth[:, None, :]).any(dim=2)  # [Q, k]: is found[q, j] among the truth?
    return float(hits.float().mean())


def structured_vectors(n: int, dim: int, seed: int = 0, exponent: float = 0.5) -> torch.Tensor:
    """Gaussian vectors whose coordinate j is scaled by :math:`(j+1)^{-a}`, [n, dim] float32.

    A stand-in for a Matryoshka embedding: the scale decays along the vector, so a prefix
    carries most of the inner-product score. With :math:`a = 1/2` (the default) coordinate j
    contributes a variance :math:`(j+1)^{-2}` to a score :math:`q \\cdot x` (see
    :func:`score_variance_share`); :math:`a = 1/4` is a much flatter, harder spectrum.
    """
    generator = torch.Generator().manual_seed(seed)
    decay = torch.arange(1, dim + 1, dtype=torch.float64).pow(-exponent).float()  # [dim]
    return torch.randn(n, dim, generator=generator) * decay


def score_variance_share(dim: int, prefix: int, exponent: float = 0.5) -> float:
    """Share of the variance of :math:`q \\cdot x` carried by the first ``prefix`` coordinates.

    For independent coordinates scaled by :math:`s_j = (j+1)^{-a}` in both query and row,
    :math:`\\operatorname{Var}(q_j x_j) = s_j^4`, so the share is
    :math:`\\sum_{j<m} (j+1)^{-4a} / \\sum_{j<d} (j+1)^{-4a}` (0.98 for a = 1/2, m = 32,
    d = 512; the per-coordinate variance share :math:`\\sum (j+1)^{-2a}` is only 0.60).
    """
    if not 1 <= prefix <= dim:
        raise ValueError(f"prefix={prefix} must be between 1 and dim={dim}")
    weights = np.arange(1, dim + 1, dtype=np.float64) ** (-4 * exponent)
    return float(weights[:prefix].sum() / weights.sum())


def funnel_recall_curve(
    queries: Any, database: Any, shortlist_dim: int, shortlist_ks: Any, k: int
) -> list[float]:
    """recall@k of the plain funnel against exact full-width search, for each shortlist size T.

    One prefix top-:math:`T_{max}` per query serves every T (a top-T list is the first T of
    the sorted top-:math:`T_{max}`); each T is then reranked at full width. Equal to
    ``recall_at_k(naive_funnel_search(q, x, m, T, k).indices, search(q, x, k).indices)``
    up to ties. This measures self-consistency (does the funnel return what exact search on
    the same vectors returns), not whether those neighbours are relevant.
    """
    queries, database = as_matrix(queries, "queries"), as_matrix(database, "database")
    shortlist_ks = [int(t) for t in shortlist_ks]
    _check_search_inputs(queries, database, k)
    for t in shortlist_ks:
        _check_funnel_arguments(database, shortlist_dim, t, k)
    queries = queries.to(database.dtype)
    truth = search(queries, database, k).indices  # [Q, k]
    prefix_scores = queries[:, :shortlist_dim] @ database[:, :shortlist_dim].T  # [Q, N]
    shortlist = torch.topk(prefix_scores, max(shortlist_ks), dim=1).indices  # [Q, T_max], sorted
    full = torch.einsum("qtd,qd->qt", database[shortlist], queries)  # [Q, T_max]
    recalls = []
    for t in shortlist_ks:
        top = torch.topk(full[:, :t], k, dim=1).indices  # [Q, k]
        recalls.append(recall_at_k(torch.gather(shortlist, 1, top), truth))
    return recalls
