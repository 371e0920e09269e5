"""Neighbour stability helpers, word2vec via gensim, WordPiece fragmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlib import diagnostics as diag
from embedlib import rare_tokens as rt


def slow_neighbours(x: torch.Tensor, k: int) -> list[set[int]]:
    out = []
    for i in range(x.shape[0]):
        scores = {j: float(x[i] @ x[j] / (x[i].norm() * x[j].norm())) for j in range(x.shape[0]) if j != i}
        out.append(set(sorted(scores, key=lambda j: -scores[j])[:k]))
    return out


@pytest.mark.parametrize("n, d, k", [(10, 3, 2), (30, 8, 5)])
def test_neighbour_ids_match_the_loop(n, d, k):
    x = torch.randn(n, d, dtype=torch.float64)
    got = diag.neighbour_ids(x, k)
    assert [set(row.tolist()) for row in got] == slow_neighbours(x, k)


def test_overlap_is_one_for_the_same_space_and_counts_shared_neighbours():
    x = torch.randn(40, 6, dtype=torch.float64)
    assert rt.neighbour_overlap(x, x * 3.0, k=5).eq(1.0).all()
    y = torch.randn(40, 6, dtype=torch.float64)
    expected = [len(a & b) / 5 for a, b in zip(slow_neighbours(x, 5), slow_neighbours(y, 5))]
    assert rt.neighbour_overlap(x, y, k=5).tolist() == pytest.approx(expected)


def test_by_count_bins():
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    counts = torch.tensor([1, 2, 5, 50, 500])
    bins = rt.by_count(values, counts, [1, 3, 100])
    assert [(b.label, b.n, b.mean) for b in bins] == [("1-2", 2, 1.5), ("3-99", 2, 3.5), ("100+", 1, 5.0)]
    with pytest.raises(ValueError, match="increasing"):
        rt.by_count(values, counts, [3, 1])
    with pytest.raises(ValueError, match="one row per entry"):
        rt.by_count(values[:3], counts, [1])
    assert rt.by_label(bins)["3-99"].n == 2
    with pytest.raises(KeyError):
        rt.by_label(bins)["3-9"]


def test_by_count_on_rows_with_a_statistic():
    """The table form: mean cosine per band; bands with too few rows are skipped, so read by label."""
    table = torch.randn(6, 4, dtype=torch.float64)
    counts = torch.tensor([1, 1, 5, 5, 5, 200])
    bins = rt.by_count(table, counts, [1, 3, 100], statistic=diag.mean_cosine, min_rows=2)
    assert [(b.label, b.n) for b in bins] == [("1-2", 2), ("3-99", 3)]  # 100+ has one row: no pairs
    assert bins[0].mean == pytest.approx(diag.mean_cosine(table[:2]))
    assert rt.by_label(bins)["3-99"].mean == pytest.approx(diag.mean_cosine(table[2:5]))


def test_word_space_keeps_gensims_words_vectors_and_counts():
    from gensim.models import Word2Vec

    documents = rt.corpus_documents("lee_background.cor")[:60]
    reference = Word2Vec(documents, vector_size=20, window=5, min_count=2, sg=1, workers=1, seed=3, epochs=2)
    space = rt.WordSpace.from_keyedvectors(reference.wv)
    np.testing.assert_allclose(space.vectors[space.index("the")].numpy(), reference.wv["the"])
    assert space.counts[space.index("the")] == reference.wv.get_vecattr("the", "count")
    assert space.counts.min() >= 2 and list(space.counts) == sorted(space.counts, reverse=True)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        space.index("zzzzzz")


def test_wordpiece_fragmentation():
    pieces = rt.wordpiece_pieces(["heart", "acetaminophen"])
    assert pieces["heart"] == ["heart"]
    assert len(pieces["acetaminophen"]) > 1 and "".join(p.removeprefix("##") for p in pieces["acetaminophen"]) == "acetaminophen"
