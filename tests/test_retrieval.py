"""embedlib.retrieval: exact and funnel search against slow loops; the fast funnel against the plain one."""

from __future__ import annotations

import pytest
import torch

from embedlib.retrieval import (
    build_prefix_index,
    funnel_flop_ratio,
    funnel_search,
    naive_funnel_search,
    recall_at_k,
    search,
    structured_vectors,
)


def slow_search(queries, database, k):
    """One query at a time, a full sort of Python floats."""
    indices = []
    for q in queries:
        scores = [float(q @ row) for row in database]
        indices.append(sorted(range(len(scores)), key=lambda i: -scores[i])[:k])
    return torch.tensor(indices)


def slow_funnel(queries, database, m, t, k):
    indices = []
    for q in queries:
        prefix = [float(q[:m] @ row[:m]) for row in database]
        shortlist = sorted(range(len(prefix)), key=lambda i: -prefix[i])[:t]
        indices.append(sorted(shortlist, key=lambda i: -float(q @ database[i]))[:k])
    return torch.tensor(indices)


@pytest.mark.parametrize("n, k", [(50, 1), (300, 5), (300, 300)])
def test_search_matches_a_full_sort(n, k):
    database, queries = structured_vectors(n, 16, seed=1), structured_vectors(7, 16, seed=2)
    result = search(queries, database, k)
    assert torch.equal(result.indices, slow_search(queries, database, k))
    torch.testing.assert_close(result.scores, torch.gather(queries @ database.T, 1, result.indices))
    assert torch.all(result.scores[:, :-1] >= result.scores[:, 1:])


def test_search_handles_more_queries_than_one_block():
    database, queries = structured_vectors(40, 8, seed=1), structured_vectors(300, 8, seed=2)
    assert torch.equal(search(queries, database, 3).indices, torch.topk(queries @ database.T, 3).indices)


@pytest.mark.parametrize("m, t, k", [(4, 20, 5), (8, 50, 10), (32, 10, 10)])
def test_naive_funnel_matches_a_loop(m, t, k):
    database, queries = structured_vectors(400, 32, seed=3), structured_vectors(6, 32, seed=4)
    assert torch.equal(naive_funnel_search(queries, database, m, t, k).indices, slow_funnel(queries, database, m, t, k))


@pytest.mark.parametrize("block_rows", [64, 1000, 5000])
@pytest.mark.parametrize("m, t", [(8, 40), (16, 100)])
def test_fast_funnel_in_fp32_returns_exactly_the_naive_funnel(block_rows, m, t):
    database, queries = structured_vectors(3000, 64, seed=5), structured_vectors(40, 64, seed=6)
    fast = funnel_search(queries, database, m, t, 10, precision="fp32", block_rows=block_rows)
    naive = naive_funnel_search(queries, database, m, t, 10)
    assert torch.equal(fast.indices, naive.indices)
    torch.testing.assert_close(fast.scores, naive.scores)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_low_precision_funnel_agrees_with_the_naive_one(precision):
    database, queries = structured_vectors(5000, 128, seed=7), structured_vectors(50, 128, seed=8)
    fast = funnel_search(queries, database, 32, 100, 10, precision=precision)
    naive = naive_funnel_search(queries, database, 32, 100, 10)
    assert recall_at_k(fast.indices, naive.indices) >= 0.97
    # scores are always exact full-width inner products of the returned rows
    torch.testing.assert_close(fast.scores, torch.gather(queries @ database.T, 1, fast.indices))


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_queries_left_short_by_the_threshold_are_rescanned(precision):
    """oversample=1 and a 1% sample leave some queries below T survivors; the rescan must fix them,
    as must negative prefix scores (float thresholds are clamped to be positive)."""
    database = structured_vectors(4000, 32, seed=9) + 2.0  # every coordinate positive on average
    queries = -structured_vectors(20, 32, seed=10).abs() - 1.0  # every prefix score negative
    index = build_prefix_index(database, 8, precision, sample_fraction=0.01)
    fast = funnel_search(queries, database, 8, 30, 5, index=index, oversample=1.0)
    naive = naive_funnel_search(queries, database, 8, 30, 5)
    assert recall_at_k(fast.indices, naive.indices) >= (1.0 if precision == "fp32" else 0.95)


def test_a_prebuilt_index_gives_the_same_result():
    database, queries = structured_vectors(2000, 64, seed=11), structured_vectors(30, 64, seed=12)
    index = build_prefix_index(database, 16, "int8")
    assert torch.equal(
        funnel_search(queries, database, 16, 50, 5, index=index).indices,
        funnel_search(queries, database, 16, 50, 5, precision="int8").indices,
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda q, d: search(q, d, 0), r"k=0 must be between 1 and the database size 100"),
        (lambda q, d: search(q, d, 101), r"k=101 must be between 1 and the database size 100"),
        (lambda q, d: search(q[:, :8], d, 5), r"queries have width 8 but the database has width 16"),
        (lambda q, d: search(q[0], d, 5), r"must be 2-D"),
        (lambda q, d: funnel_search(q, d, 17, 20, 5), r"shortlist_dim=17 must be between 1 and the embedding width 16"),
        (lambda q, d: funnel_search(q, d, 4, 3, 5), r"shortlist_k=3 must be at least k=5"),
        (lambda q, d: funnel_search(q, d, 4, 200, 5), r"at most the database size 100"),
        (lambda q, d: funnel_search(q, d, 4, 20, 5, precision="fp16"), r"precision='fp16'"),
        (lambda q, d: funnel_search(q, d, 4, 20, 5, oversample=0.5), r"oversample=0.5 must be >= 1"),
        (lambda q, d: funnel_search(q, d, 4, 20, 5, block_rows=0), r"block_rows=0"),
        (lambda q, d: funnel_search(q, d, 4, 20, 5, index=build_prefix_index(d, 8)), r"shortlist_dim=4; rebuild"),
        (lambda q, d: build_prefix_index(d, 4, sample_fraction=0), r"sample_fraction=0"),
        (lambda q, d: naive_funnel_search(q, d, 4, 20, 0), r"k=0"),
    ],
)
def test_bad_arguments_raise_value_errors_that_name_them(call, message):
    queries, database = structured_vectors(3, 16, seed=1), structured_vectors(100, 16, seed=2)
    with pytest.raises(ValueError, match=message):
        call(queries, database)


def test_recall_at_k_counts_set_overlap_per_query():
    found = torch.tensor([[1, 2, 3], [4, 5, 6]])
    truth = torch.tensor([[3, 2, 1], [4, 9, 8]])
    assert recall_at_k(found, truth) == pytest.approx((3 / 3 + 1 / 3) / 2)
    with pytest.raises(ValueError, match=r"found \(2, 3\) and truth \(2, 2\)"):
        recall_at_k(found, truth[:, :2])


def test_flop_ratio_formula():
    assert funnel_flop_ratio(300_000, 512, 32, 100) == pytest.approx(300_000 * 512 / (300_000 * 32 + 100 * 512))
    assert funnel_flop_ratio(1000, 64, 64, 0) == 1.0


def test_structured_vectors_decay_like_the_inverse_square_root():
    x = structured_vectors(20_000, 16, seed=0)
    expected = 1 / torch.arange(1, 17, dtype=torch.float32)
    torch.testing.assert_close(x.var(dim=0), expected, rtol=0.05, atol=0)


def test_numpy_arrays_and_lists_are_accepted():
    database, queries = structured_vectors(500, 16, seed=13), structured_vectors(4, 16, seed=14)
    expected = funnel_search(queries, database, 8, 30, 5, precision="fp32")
    for convert in (lambda x: x.numpy(), lambda x: x.numpy().astype("float64"), lambda x: x.tolist()):
        got = funnel_search(convert(queries), convert(database), 8, 30, 5, precision="fp32")
        assert torch.equal(got.indices, expected.indices)
        assert torch.equal(search(convert(queries), convert(database), 5).indices, search(queries, database, 5).indices)
    assert recall_at_k(expected.indices.numpy(), expected.indices.tolist()) == 1.0


@pytest.mark.parametrize("bad", ["some text", {"a": 1}, object()])
def test_non_numeric_inputs_raise_a_clear_type_error(bad):
    database = structured_vectors(50, 16, seed=1)
    with pytest.raises(TypeError, match="queries must"):
        funnel_search(bad, database, 4, 10, 5)
    with pytest.raises(TypeError, match="database must"):
        search(database[:2], bad, 5)


def test_a_bfloat16_database_is_reranked_in_bfloat16():
    database, queries = structured_vectors(3000, 64, seed=15), structured_vectors(10, 64, seed=16)
    db16, q16 = database.bfloat16(), queries.bfloat16()
    fast = funnel_search(q16, db16, 16, 100, 5, precision="bf16")
    assert fast.scores.dtype == torch.bfloat16
    assert recall_at_k(fast.indices, search(q16, db16, 5).indices) >= 0.95


def test_more_queries_than_one_funnel_block_are_searched_in_blocks():
    database, queries = structured_vectors(2000, 32, seed=17), structured_vectors(1100, 32, seed=18)
    fast = funnel_search(queries, database, 8, 40, 5, precision="fp32")
    assert torch.equal(fast.indices, naive_funnel_search(queries, database, 8, 40, 5).indices)


def test_stages_are_timed_when_asked():
    database, queries = structured_vectors(2000, 32, seed=19), structured_vectors(10, 32, seed=20)
    stages = {}
    funnel_search(queries, database, 8, 40, 5, stages=stages)
    assert set(stages) >= {"thresholds from the sample", "scan: products, compare, keep", "rerank at full width"}
    assert all(seconds >= 0 for seconds in stages.values())


def test_score_variance_share():
    from embedlib.retrieval import score_variance_share

    weights = 1 / torch.arange(1, 513, dtype=torch.float64) ** 2
    assert score_variance_share(512, 32) == pytest.approx(float(weights[:32].sum() / weights.sum()))
    assert 0.97 < score_variance_share(512, 32) < 0.99
    assert score_variance_share(512, 32, exponent=0.25) == pytest.approx(0.60, abs=0.01)
    # measured on samples: the share of Var(q . x) from the prefix
    x, q = structured_vectors(4000, 64, seed=0), structured_vectors(4000, 64, seed=1)
    measured = float(((q[:, :8] * x[:, :8]).sum(1)).var() / ((q * x).sum(1)).var())
    assert measured == pytest.approx(score_variance_share(64, 8), abs=0.03)


def test_funnel_recall_curve_equals_one_naive_funnel_per_t():
    from embedlib.retrieval import funnel_recall_curve

    database, queries = structured_vectors(3000, 64, seed=21, exponent=0.25), structured_vectors(25, 64, seed=22)
    ts = (10, 40, 200)
    truth = search(queries, database, 10).indices
    expected = [recall_at_k(naive_funnel_search(queries, database, 8, t, 10).indices, truth) for t in ts]
    assert funnel_recall_curve(queries, database, 8, ts, 10) == pytest.approx(expected)
    assert funnel_recall_curve(queries, database, 64, [10], 10) == [1.0]


def test_structured_vectors_exponent():
    x = structured_vectors(20_000, 16, seed=0, exponent=0.25)
    torch.testing.assert_close(x.var(dim=0), torch.arange(1, 17, dtype=torch.float32) ** -0.5, rtol=0.05, atol=0)
