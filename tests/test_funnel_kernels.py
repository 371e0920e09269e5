"""embedlib.funnel_kernels: every compiled kernel against its numpy version, the private
torch._int_mm against its exact fallback, and the fast funnel with every fallback forced."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlib import funnel_kernels as kernels
from embedlib.retrieval import build_prefix_index, funnel_search, naive_funnel_search, structured_vectors

needs_numba = pytest.mark.skipif(not kernels.USE_NUMBA, reason="numba is not installed")


@pytest.fixture
def fallbacks(monkeypatch):
    """Run with the numpy kernels and without torch._int_mm."""
    monkeypatch.setattr(kernels, "USE_NUMBA", False)
    monkeypatch.setattr(kernels, "USE_INT_MM", False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_positive_floats_order_like_their_bit_patterns(dtype):
    x = torch.rand(10_000).to(dtype) * 100 + torch.finfo(dtype).tiny  # all > 0
    bits = kernels.as_ordered_integers(x, {torch.float32: "fp32", torch.bfloat16: "bf16"}[dtype])
    assert np.array_equal(np.argsort(bits, kind="stable"), np.argsort(x.float().numpy(), kind="stable"))


@pytest.mark.parametrize("shape", [(5, 32, 7), (33, 16, 200), (1, 8, 1)])
def test_int8_matmul_private_and_fallback_agree_with_integer_arithmetic(shape):
    m, k, n = shape
    generator = torch.Generator().manual_seed(0)
    a = torch.randint(-128, 128, (m, k), generator=generator, dtype=torch.int8)
    b = torch.randint(-128, 128, (k, n), generator=generator, dtype=torch.int8)
    exact = a.to(torch.int64) @ b.to(torch.int64)
    assert torch.equal(kernels._int8_matmul_reference(a, b).to(torch.int64), exact)
    assert torch.equal(kernels.int8_matmul(a, b).to(torch.int64), exact)  # _int_mm if it works


def test_int8_fallback_refuses_widths_where_float32_is_not_exact():
    a = torch.zeros(2, 2000, dtype=torch.int8)
    with pytest.raises(ValueError, match="K <= 1032"):
        kernels._int8_matmul_reference(a, a.T)


def random_scores(q, b, dtype, seed):
    generator = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    return generator.integers(info.min, info.max, size=(q, b), dtype=dtype)


@needs_numba
@pytest.mark.parametrize("dtype", [np.int16, np.int32])
@pytest.mark.parametrize("width", [64, 100, 640, 7])
def test_collect_survivors_compiled_equals_numpy(dtype, width):
    scores = random_scores(9, width, dtype, seed=width)
    thresholds = np.quantile(scores, 0.9, axis=1).astype(dtype)  # about 10% survive
    thresholds[0] = np.iinfo(dtype).max  # a query with no survivor
    outputs = []
    for collect in (kernels._compiled["collect"], kernels._collect_survivors_numpy):
        rows = np.full((9, 12), -1, dtype=np.int64)  # small: some queries overflow
        values = np.full((9, 12), -1, dtype=np.int64)
        counts = np.zeros(9, dtype=np.int64)
        collect(scores, thresholds, 1000, rows, values, counts)
        collect(scores, thresholds, 5000, rows, values, counts)  # a second block appends
        outputs.append((rows, values, counts))
    for got, expected in zip(*outputs):
        assert np.array_equal(got, expected)
    counts = outputs[0][2]
    assert np.array_equal(counts, 2 * (scores >= thresholds[:, None]).sum(1))


@needs_numba
def test_rth_largest_compiled_equals_numpy_and_a_sort():
    scores = random_scores(20, 300, np.int32, seed=1)
    scores[3] = 7  # all ties
    for r in (1, 5, 300):
        expected = -np.sort(-scores, axis=1)[:, r - 1]
        assert np.array_equal(kernels._compiled["rth"](scores, r), expected)
        assert np.array_equal(kernels._rth_largest_numpy(scores, r), expected)
    with pytest.raises(ValueError, match="r=0"):
        kernels.rth_largest(scores, 0)


@needs_numba
def test_best_per_query_compiled_equals_numpy_with_ties_and_short_queries():
    generator = np.random.default_rng(2)
    rows = np.tile(np.arange(50, dtype=np.int64), (6, 1)) * 3
    values = generator.integers(0, 10, size=(6, 50)).astype(np.int64)  # many ties
    counts = np.array([50, 20, 3, 60, 10, 0])  # 3 and 0: too few; 60: overflowed the buffer
    got = kernels._compiled["best"](rows, values, counts, 10)
    expected = kernels._best_per_query_numpy(rows, values, counts, 10)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[1].tolist() == [True, True, False, False, True, False]


@needs_numba
def test_rerank_compiled_equals_torch():
    queries, database = structured_vectors(7, 48, seed=3), structured_vectors(300, 48, seed=4)
    shortlist = torch.randint(300, (7, 25), generator=torch.Generator().manual_seed(0))
    compiled = kernels.rerank_scores(queries, database, shortlist)
    torch.testing.assert_close(compiled, kernels._rerank_scores_torch(queries, database, shortlist))


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_fast_funnel_gives_the_same_result_with_every_fallback(precision, monkeypatch):
    database, queries = structured_vectors(6000, 64, seed=5), structured_vectors(30, 64, seed=6)
    index = build_prefix_index(database, 16, precision)
    fast = funnel_search(queries, database, 16, 60, 10, index=index, block_rows=700)
    monkeypatch.setattr(kernels, "USE_NUMBA", False)
    monkeypatch.setattr(kernels, "USE_INT_MM", False)
    slow = funnel_search(queries, database, 16, 60, 10, index=index, block_rows=700)
    assert torch.equal(fast.indices, slow.indices)
    torch.testing.assert_close(fast.scores, slow.scores)


def test_fallback_fp32_funnel_is_still_exactly_the_naive_one(fallbacks):
    database, queries = structured_vectors(3000, 64, seed=7), structured_vectors(20, 64, seed=8)
    fast = funnel_search(queries, database, 8, 40, 10, precision="fp32", block_rows=500)
    assert torch.equal(fast.indices, naive_funnel_search(queries, database, 8, 40, 10).indices)


@needs_numba
def test_bf16_rerank_compiled_equals_torch_summing_in_float32():
    queries = structured_vectors(5, 40, seed=9).bfloat16()
    database = structured_vectors(200, 40, seed=10).bfloat16()
    shortlist = torch.randint(200, (5, 30), generator=torch.Generator().manual_seed(1))
    compiled = kernels.rerank_scores(queries, database, shortlist)
    assert compiled.dtype == torch.float32
    torch.testing.assert_close(compiled, kernels._rerank_scores_torch(queries, database, shortlist))
