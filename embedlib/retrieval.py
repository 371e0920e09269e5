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
arithmetic (bfloat16 or int8), and a full-width rerank of exactly :math:`T` candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

PRECISIONS = ("fp32", "bf16", "int8")
QUERY_BLOCK = 256  # queries scored together by the exact search: bounds the score matrix


class SearchResult(NamedTuple):
    """The k best database rows per query, best first: ``scores`` and ``indices``, both [Q, k]."""

    scores: torch.Tensor
    indices: torch.Tensor


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


def search(queries: torch.Tensor, database: torch.Tensor, k: int) -> SearchResult:
    """Exact top-``k`` by inner product (cosine if the rows are unit length).

    ``queries`` [Q, d], ``database`` [N, d]. Queries are scored in blocks of
    ``QUERY_BLOCK`` so the score matrix never exceeds ``QUERY_BLOCK x N``.
    """
    _check_search_inputs(queries, database, k)
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
    queries: torch.Tensor, database: torch.Tensor, shortlist_dim: int, shortlist_k: int, k: int
) -> SearchResult:
    """Adaptive retrieval written plainly: prefix scores, top-T shortlist, full-width rerank.

    The readable reference for :func:`funnel_search`; same arguments and result format.
    """
    _check_search_inputs(queries, database, k)
    _check_funnel_arguments(database, shortlist_dim, shortlist_k, k)
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
    database: torch.Tensor, shortlist_dim: int, precision: str = "bf16", sample_fraction: float = 0.05, seed: int = 0
) -> PrefixIndex:
    """Prepare the low-precision prefix that :func:`funnel_search` scans.

    int8 uses one symmetric scale for the whole prefix,
    :math:`\\hat{x} = \\operatorname{round}(x / s)`, :math:`s = \\max |x| / 127`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {PRECISIONS}")
    if not 0 < sample_fraction <= 1:
        raise ValueError(f"sample_fraction={sample_fraction} must be in (0, 1]; 0.05 works well")
    if database.ndim != 2 or not 1 <= shortlist_dim <= database.shape[1]:
        raise ValueError(
            f"shortlist_dim={shortlist_dim} must be between 1 and the width of the [N, d] database, "
            f"shape {tuple(database.shape)}"
        )
    prefix = database[:, :shortlist_dim].contiguous()  # [N, m]
    if precision == "bf16":
        prefix = prefix.to(torch.bfloat16)
    elif precision == "int8":
        scale = float(prefix.abs().max()) / 127 or 1.0
        prefix = torch.round(prefix / scale).to(torch.int8)
    n = database.shape[0]
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(n, generator=generator)[: max(1, math.ceil(sample_fraction * n))]
    return PrefixIndex(prefix, shortlist_dim, precision, prefix[sample.sort().values])


def _prefix_scores(query_prefix: torch.Tensor, rows: torch.Tensor, precision: str) -> torch.Tensor:
    """Prefix scores [Q, B] in the index's arithmetic: int32 for int8, else the float type."""
    if precision == "int8":
        return torch._int_mm(query_prefix, rows.T)  # int8 x int8 -> int32
    return query_prefix @ rows.T


# Scores are compared as integers: the int32 result of int8 arithmetic as it is, and a float
# through its bit pattern, since positive IEEE floats (bfloat16 included) order exactly like
# their bits read as integers. numpy compares integers fast and has no bfloat16 type.
_BITS = {"fp32": torch.int32, "bf16": torch.int16}


def _as_ordered_integers(scores: torch.Tensor, precision: str) -> np.ndarray:
    """An integer array that orders like ``scores`` wherever ``scores`` > 0 (all of it for int8)."""
    if precision == "int8":
        return scores.numpy()
    return scores.view(_BITS[precision]).numpy()


def _quantise_queries(queries: torch.Tensor, index: PrefixIndex) -> torch.Tensor:
    """The queries' prefixes in the index's precision, [Q, m]."""
    prefix = queries[:, : index.dim].contiguous()  # [Q, m]
    if index.precision == "fp32":
        return prefix
    if index.precision == "bf16":
        return prefix.to(torch.bfloat16)
    # one scale per query: rescaling a query does not change the order of its scores
    query_scale = prefix.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127  # [Q, 1]
    return torch.round(prefix / query_scale).to(torch.int8)


def _thresholds(query_prefix: torch.Tensor, index: PrefixIndex, shortlist_k: int, oversample: float) -> np.ndarray:
    """Per-query score threshold expected to let through about ``oversample * T`` rows, [Q, 1].

    In a uniform sample of :math:`n_s` of the :math:`N` rows, the :math:`r`-th best score with
    :math:`r = \\lceil \\text{oversample} \\cdot T \\, n_s / N \\rceil` is exceeded by about
    :math:`r N / n_s` rows of the whole database. Float thresholds are kept positive (the
    integer comparison needs it); a query left with fewer than :math:`T` survivors is
    rescanned exactly by :func:`funnel_search`.
    """
    n_sample = index.sample.shape[0]
    rank = min(n_sample, math.ceil(oversample * shortlist_k * n_sample / index.size))
    sample_scores = _prefix_scores(query_prefix, index.sample, index.precision)  # [Q, n_s]
    threshold = torch.topk(sample_scores, rank, dim=1).values[:, -1:]  # [Q, 1]
    if index.precision != "int8":
        threshold = threshold.clamp_min(torch.finfo(threshold.dtype).tiny)
    return _as_ordered_integers(threshold.contiguous(), index.precision)


def _scan(query_prefix: torch.Tensor, index: PrefixIndex, thresholds: np.ndarray, block_rows: int):
    """All (query, row, score) with prefix score >= the query's threshold, block by block.

    Scores come back as ordered integers (see ``_as_ordered_integers``), enough to rank them.
    """
    query_ids, row_ids, scores = [], [], []
    for start in range(0, index.size, block_rows):
        block = _prefix_scores(query_prefix, index.prefix[start : start + block_rows], index.precision)  # [Q, B]
        block = _as_ordered_integers(block, index.precision)
        flat = np.flatnonzero(block >= thresholds)  # few: about oversample * T per query overall
        q, r = np.divmod(flat, block.shape[1])
        query_ids.append(q)
        row_ids.append(r + start)
        scores.append(block.ravel()[flat].astype(np.int64))
    return np.concatenate(query_ids), np.concatenate(row_ids), np.concatenate(scores)


def _top_per_query(query_ids: np.ndarray, row_ids: np.ndarray, scores: np.ndarray, n_queries: int, t: int):
    """The ``t`` best rows of every query from the survivors, [Q, t]; also the survivor counts."""
    counts = np.bincount(query_ids, minlength=n_queries)  # [Q]
    order = np.lexsort((-scores, query_ids))  # by query, then best score first
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))  # where each query's run starts
    rank = np.arange(order.size) - first[query_ids[order]]
    keep = rank < t
    shortlist = np.zeros((n_queries, t), dtype=np.int64)
    shortlist[query_ids[order[keep]], rank[keep]] = row_ids[order[keep]]
    return shortlist, counts


def _rerank(queries: torch.Tensor, database: torch.Tensor, shortlist: torch.Tensor, k: int) -> SearchResult:
    """Full-width scores of the shortlisted rows, then top-``k`` per query.

    One query at a time: its T gathered rows (T x d floats) stay in cache, which measured
    faster than gathering a [Q, T, d] block with advanced indexing.
    """
    full = torch.empty(shortlist.shape, dtype=queries.dtype)  # [Q, T]
    for q in range(queries.shape[0]):
        torch.mv(database.index_select(0, shortlist[q]), queries[q], out=full[q])  # [T, d] @ [d]
    top = torch.topk(full, k, dim=1)
    return SearchResult(top.values, torch.gather(shortlist, 1, top.indices))


def funnel_search(
    queries: torch.Tensor,
    database: torch.Tensor,
    shortlist_dim: int,
    shortlist_k: int,
    k: int,
    *,
    precision: str = "bf16",
    index: PrefixIndex | None = None,
    oversample: float = 3.0,
    block_rows: int = 2048,
) -> SearchResult:
    """Adaptive retrieval, fast: the same result as :func:`naive_funnel_search`, computed lean.

    Args:
        queries: [Q, d] float32 query embeddings.
        database: [N, d] float32 database embeddings (Matryoshka-ordered: early coordinates
            carry the most information).
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

    Returns:
        :class:`SearchResult` with full-width scores and indices, [Q, k] each, best first.

    Steps: (1) a threshold per query from a fixed random sample of rows (see ``_thresholds``);
    (2) one pass over the prefix in blocks of ``block_rows``, keeping (query, row, score) for
    scores at or above the threshold, so no [Q, N] matrix is ever stored; (3) the best T
    survivors per query (a query with fewer than T survivors is rescored exactly at prefix
    width); (4) full-width rerank of those T rows.

    Reference: Kusupati et al., Matryoshka Representation Learning, NeurIPS 2022
    (arXiv:2205.13147), adaptive retrieval.
    """
    _check_search_inputs(queries, database, k)
    _check_funnel_arguments(database, shortlist_dim, shortlist_k, k)
    if oversample < 1:
        raise ValueError(f"oversample={oversample} must be >= 1 (it is the target survivors / T); 3 works well")
    if block_rows < 1:
        raise ValueError(f"block_rows={block_rows} must be a positive number of rows; 2048 works well")
    if index is None:
        index = build_prefix_index(database, shortlist_dim, precision)
    elif index.dim != shortlist_dim or index.size != database.shape[0]:
        raise ValueError(
            f"the index holds {index.size} rows of width {index.dim}, but the search asks for "
            f"{database.shape[0]} rows and shortlist_dim={shortlist_dim}; rebuild it with build_prefix_index"
        )
    query_prefix = _quantise_queries(queries, index)  # [Q, m]
    thresholds = _thresholds(query_prefix, index, shortlist_k, oversample)  # [Q, 1]
    query_ids, row_ids, scores = _scan(query_prefix, index, thresholds, block_rows)
    shortlist, counts = _top_per_query(query_ids, row_ids, scores, queries.shape[0], shortlist_k)  # [Q, T]
    for q in np.flatnonzero(counts < shortlist_k):  # rare: the sample set the threshold too high
        prefix_scores = database[:, :shortlist_dim] @ queries[q, :shortlist_dim]  # [N], exact
        shortlist[q] = torch.topk(prefix_scores, shortlist_k).indices.numpy()
    return _rerank(queries, database, torch.from_numpy(shortlist), k)


def funnel_flop_ratio(n: int, dim: int, shortlist_dim: int, shortlist_k: int) -> float:
    """Multiply-adds of exact search over those of the funnel: :math:`N d / (N m + T d)`."""
    return n * dim / (n * shortlist_dim + shortlist_k * dim)


def recall_at_k(found: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean over queries of :math:`|\\text{found}_q \\cap \\text{truth}_q| / k`, for index tensors [Q, k]."""
    if found.shape != truth.shape or found.ndim != 2:
        raise ValueError(
            f"found {tuple(found.shape)} and truth {tuple(truth.shape)} must both be [queries, k] index tensors"
        )
    hits = (found[:, :, None] == truth[:, None, :]).any(dim=2)  # [Q, k]: is found[q, j] among the truth?
    return float(hits.float().mean())


def structured_vectors(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    """Gaussian vectors whose coordinate j is scaled by :math:`(j+1)^{-1/2}`, [n, dim] float32.

    A stand-in for a Matryoshka embedding: variance decays along the vector, so a prefix
    carries most of the signal (the first 32 of 512 coordinates hold ~60% of the variance).
    """
    generator = torch.Generator().manual_seed(seed)
    decay = torch.arange(1, dim + 1, dtype=torch.float32).rsqrt()  # [dim]
    return torch.randn(n, dim, generator=generator) * decay
