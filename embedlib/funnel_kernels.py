"""How the fast funnel is made fast: the kernels behind :func:`embedlib.retrieval.funnel_search`.

Nothing here changes *what* the funnel computes (that is
:func:`embedlib.retrieval.naive_funnel_search`, the readable reference every kernel is tested
against); it changes how much memory traffic the computation costs. Four tricks:

1. **Scores compared as integers.** Positive IEEE floats (bfloat16 included) order exactly like
   their bit patterns read as signed integers, so a float32 score is compared as an int32 and a
   bfloat16 score as an int16. The int8 scan's scores are int32 already.
2. **Compare while the scores are in cache.** The prefix products of one block of database
   rows ([Q, B] scores, a few hundred kB) are written into a reused buffer, and a compiled
   kernel (:func:`collect_survivors`) checks 64 scores at a time against the query's
   threshold with a vectorised OR, looking at single scores only in the rare chunks that hold
   a survivor. No [Q, N] matrix is ever stored, and no boolean mask is written.
3. **Per-query buffers instead of a global sort.** Survivors go straight into a [Q, cap]
   buffer; :func:`best_per_query` sorts each query's few hundred survivors.
4. **Low precision where it is free.** The scan's products run in bfloat16 or int8
   (``torch._int_mm``, a private API kept behind :func:`int8_matmul` and its fallback); the
   rerank is in the database's own precision.

The compiled kernels use numba (``@njit``) when it is installed; otherwise the numpy versions
below run (same results, tested equal, several times slower).
"""

from __future__ import annotations

import numpy as np
import torch

try:  # numba is optional: the numpy fallbacks give the same results, slower
    import numba
except ImportError:  # pragma: no cover - exercised by forcing USE_NUMBA = False in the tests
    numba = None

USE_NUMBA = numba is not None
CHUNK = 64  # scores checked together by collect_survivors' vectorised OR

# The integer type whose order matches each precision's positive scores.
_BITS = {"fp32": torch.int32, "bf16": torch.int16}


def as_ordered_integers(scores: torch.Tensor, precision: str) -> np.ndarray:
    """An integer view of ``scores`` that orders like them wherever ``scores`` > 0.

    int8 scans produce int32 scores (returned as they are); float32 and bfloat16 scores are
    reinterpreted bit for bit (no copy) as int32 and int16.
    """
    if precision == "int8":
        return scores.numpy()
    return scores.view(_BITS[precision]).numpy()


# --- int8 products: a private torch API behind a tested fallback -------------------------


def _int8_matmul_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """int8 [M, K] x int8 [K, N] -> int32 [M, N] through float32, exact while |sum| < 2^24.

    Each product is at most 127 * 128 = 16,256 in size, so the sums are exact for K <= 1,032.
    """
    if a.shape[1] > 1032:
        raise ValueError(f"the float32 fallback is exact only for K <= 1032, got K = {a.shape[1]}")
    return (a.to(torch.float32) @ b.to(torch.float32)).round().to(torch.int32)


def _private_int_mm_works() -> bool:
    try:
        a = torch.ones(32, 32, dtype=torch.int8)
        return bool(torch.equal(torch._int_mm(a, a), _int8_matmul_reference(a, a)))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


USE_INT_MM = _private_int_mm_works()


def int8_matmul(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """int8 [M, K] @ int8 [K, N] -> int32 [M, N] with int32 accumulation.

    Uses ``torch._int_mm`` (private, undocumented, its shape rules vary across versions) when
    it works on this build, else the exact float32 route of ``_int8_matmul_reference``.
    """
    if USE_INT_MM:
        try:
            return torch._int_mm(a, b) if out is None else torch._int_mm(a, b, out=out)
        except RuntimeError:  # a shape this build's kernel does not take
            pass
    result = _int8_matmul_reference(a, b)
    if out is not None:
        out.copy_(result)
        return out
    return result


def prefix_products(query_prefix: torch.Tensor, rows: torch.Tensor, precision: str,
                    out: torch.Tensor | None = None) -> torch.Tensor:
    """Prefix scores [Q, B] in the index's arithmetic: int32 for int8, else the float type."""
    if precision == "int8":
        return int8_matmul(query_prefix, rows.T, out=out)
    if out is None:
        return query_prefix @ rows.T
    return torch.matmul(query_prefix, rows.T, out=out)


# --- step 2: keep the scores at or above each query's threshold --------------------------


def _collect_survivors_numpy(scores, thresholds, start, rows, values, counts):
    """Readable version of :func:`collect_survivors` (numpy compare and nonzero)."""
    cap = rows.shape[1]
    q_ids, cols = np.nonzero(scores >= thresholds[:, None])  # row-major: by query, then column
    for q in np.unique(q_ids):
        mine = cols[q_ids == q]
        c = counts[q]
        take = mine[: max(0, cap - c)]
        rows[q, c : c + take.size] = start + take
        values[q, c : c + take.size] = scores[q, take]
        counts[q] = c + mine.size


def _collect_survivors_compiled(scores, thresholds, start, rows, values, counts):
    n_queries, width = scores.shape
    cap = rows.shape[1]
    n_chunks = width // CHUNK
    hit = np.ones((n_queries, n_chunks + 1), dtype=np.uint8)  # last: the partial chunk, if any
    for q in range(n_queries):  # pass 1, vectorised: compare and OR 64 scores, no branch
        threshold = thresholds[q]
        for chunk in range(n_chunks):
            h = 0
            for j in range(chunk * CHUNK, chunk * CHUNK + CHUNK):
                h |= scores[q, j] >= threshold
            hit[q, chunk] = h
    for q in range(n_queries):  # pass 2: one by one, only in the rare chunks with a survivor
        threshold = thresholds[q]
        c = counts[q]
        for chunk in range(n_chunks + 1):
            if hit[q, chunk]:
                for j in range(chunk * CHUNK, min(chunk * CHUNK + CHUNK, width)):
                    if scores[q, j] >= threshold:
                        if c < cap:
                            rows[q, c] = start + j
                            values[q, c] = scores[q, j]
                        c += 1
        counts[q] = c


def collect_survivors(scores: np.ndarray, thresholds: np.ndarray, start: int, rows: np.ndarray,
                      values: np.ndarray, counts: np.ndarray) -> None:
    """Append every (row, score) with ``scores[q, j] >= thresholds[q]`` to query q's buffer.

    ``scores`` [Q, B] ordered integers of database rows ``start .. start + B``; ``rows`` and
    ``values`` [Q, cap] int64 buffers, ``counts`` [Q] survivors so far (it keeps counting past
    ``cap``, so an overflow is visible; only the first ``cap`` are stored). In place.
    """
    if USE_NUMBA:
        _compiled["collect"](scores, thresholds, start, rows, values, counts)
    else:
        _collect_survivors_numpy(scores, thresholds, start, rows, values, counts)


# --- step 1: the per-query threshold, the r-th best score of a sample ---------------------


def _rth_largest_numpy(scores, r):
    return -np.partition(-scores.astype(np.int64), r - 1, axis=1)[:, r - 1]


def _rth_largest_compiled(scores, r):
    n_rows, width = scores.shape
    out = np.empty(n_rows, dtype=np.int64)
    best = np.empty(r, dtype=np.int64)  # the r largest so far, in descending order
    for q in range(n_rows):
        for i in range(r):
            best[i] = scores[q, i]
        best[:] = np.sort(best)[::-1]
        for j in range(r, width):
            v = scores[q, j]
            if v > best[r - 1]:  # rare after the first few hundred: insert, drop the smallest
                i = r - 1
                while i > 0 and best[i - 1] < v:
                    best[i] = best[i - 1]
                    i -= 1
                best[i] = v
        out[q] = best[r - 1]
    return out


def rth_largest(scores: np.ndarray, r: int) -> np.ndarray:
    """The ``r``-th largest value of each row of an integer array [Q, n], as int64 [Q]."""
    if not 1 <= r <= scores.shape[1]:
        raise ValueError(f"r={r} must be between 1 and the row length {scores.shape[1]}")
    if USE_NUMBA:
        return _compiled["rth"](scores, r)
    return _rth_largest_numpy(scores, r)


# --- step 3: the best T survivors of every query ------------------------------------------


def _best_per_query_numpy(rows, values, counts, t):
    shortlist = np.zeros((rows.shape[0], t), dtype=np.int64)
    complete = np.zeros(rows.shape[0], dtype=np.bool_)
    for q in range(rows.shape[0]):
        c = counts[q]
        if t <= c <= rows.shape[1]:
            order = np.argsort(-values[q, :c], kind="stable")[:t]  # best first, ties by row
            shortlist[q] = rows[q, order]
            complete[q] = True
    return shortlist, complete


def _best_per_query_compiled(rows, values, counts, t):
    shortlist = np.zeros((rows.shape[0], t), dtype=np.int64)
    complete = np.zeros(rows.shape[0], dtype=np.bool_)
    for q in range(rows.shape[0]):
        c = counts[q]
        if t <= c <= rows.shape[1]:
            order = np.argsort(-values[q, :c], kind="mergesort")[:t]  # stable, like numpy's
            for i in range(t):
                shortlist[q, i] = rows[q, order[i]]
            complete[q] = True
    return shortlist, complete


def best_per_query(rows: np.ndarray, values: np.ndarray, counts: np.ndarray,
                   t: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``t`` best stored survivors of every query, [Q, t], best first (ties: lower row).

    Also returns ``complete`` [Q]: False where a query had fewer than ``t`` survivors or more
    than its buffer holds; :func:`embedlib.retrieval.funnel_search` rescans those exactly.
    """
    if USE_NUMBA:
        return _compiled["best"](rows, values, counts, t)
    return _best_per_query_numpy(rows, values, counts, t)


# --- step 4: full-width rerank of the shortlist --------------------------------------------


def _rerank_scores_torch(queries, database, shortlist):
    full = torch.empty(shortlist.shape, dtype=torch.float32)  # [Q, T]
    for q in range(queries.shape[0]):  # T gathered rows stay in cache, one query at a time
        rows = database.index_select(0, shortlist[q]).float()  # [T, d]
        torch.mv(rows, queries[q].float(), out=full[q])  # [T, d] @ [d]
    return full


def _rerank_scores_compiled(queries, database, shortlist):
    n_queries, t = shortlist.shape
    full = np.empty((n_queries, t), dtype=np.float32)
    for q in range(n_queries):
        query = queries[q]
        for i in range(t):
            row = database[shortlist[q, i]]
            s = np.float32(0.0)
            for j in range(query.shape[0]):
                s += row[j] * query[j]
            full[q, i] = s
    return full


def _rerank_scores_bf16_compiled(queries, database, shortlist):
    """The same for bfloat16 data given as its uint16 bit patterns: a bfloat16 is the top
    half of a float32, so shifting its bits left by 16 gives the float32 of the same value."""
    n_queries, t = shortlist.shape
    width = queries.shape[1]
    full = np.empty((n_queries, t), dtype=np.float32)
    query_bits = np.empty(width, dtype=np.uint32)
    row_bits = np.empty(width, dtype=np.uint32)
    query, row = query_bits.view(np.float32), row_bits.view(np.float32)
    for q in range(n_queries):
        for j in range(width):
            query_bits[j] = np.uint32(queries[q, j]) << np.uint32(16)
        for i in range(t):
            r = shortlist[q, i]
            for j in range(width):
                row_bits[j] = np.uint32(database[r, j]) << np.uint32(16)
            s = np.float32(0.0)
            for j in range(width):
                s += row[j] * query[j]
            full[q, i] = s
    return full


def rerank_scores(queries: torch.Tensor, database: torch.Tensor, shortlist: torch.Tensor) -> torch.Tensor:
    """Full-width scores ``queries[q] . database[shortlist[q, i]]``, float32 [Q, T].

    The rows are read in the database's dtype and summed in float32. float32 and bfloat16
    data go through compiled loops (no gathered copy of the rows); other dtypes through torch,
    one query's T rows at a time.
    """
    if USE_NUMBA and queries.dtype == database.dtype == torch.float32:
        return torch.from_numpy(_compiled["rerank"](queries.numpy(), database.numpy(), shortlist.numpy()))
    if USE_NUMBA and queries.dtype == database.dtype == torch.bfloat16:
        as_bits = lambda x: x.view(torch.int16).numpy().view(np.uint16)  # noqa: E731
        return torch.from_numpy(
            _compiled["rerank_bf16"](as_bits(queries), as_bits(database), shortlist.numpy())
        )
    return _rerank_scores_torch(queries, database, shortlist)


# numba compiles each kernel on first use (cached on disk afterwards); fastmath only where
# float rounding is allowed to change (the rerank's sum order), not in the integer kernels.
_compiled = {}
if numba is not None:
    _compiled["collect"] = numba.njit(nogil=True, cache=True, boundscheck=False)(
        _collect_survivors_compiled
    )
    _compiled["rth"] = numba.njit(nogil=True, cache=True)(_rth_largest_compiled)
    _compiled["best"] = numba.njit(nogil=True, cache=True)(_best_per_query_compiled)
    _compiled["rerank"] = numba.njit(nogil=True, cache=True, fastmath=True)(_rerank_scores_compiled)
    _compiled["rerank_bf16"] = numba.njit(nogil=True, cache=True, fastmath=True)(
        _rerank_scores_bf16_compiled
    )
