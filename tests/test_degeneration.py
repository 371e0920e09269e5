"""The attention-free window LM, its tied gradient, and the WordPiece corpus."""

from __future__ import annotations

import pytest
import torch

from embedlib import degeneration as dg
from embedlib.diagnostics import mean_cosine


@pytest.fixture(scope="module")
def corpus():
    return dg.wordpiece_corpus("lee_background.cor")


def test_corpus_is_consistent(corpus):
    assert corpus.ids.numel() == int(corpus.counts.sum()) == int(corpus.offsets[-1])
    assert torch.equal(torch.bincount(corpus.ids, minlength=corpus.vocab_size), corpus.counts)
    assert list(corpus.counts) == sorted(corpus.counts, reverse=True)
    assert len(corpus.documents) == len(corpus.offsets) - 1 == 300
    fire = corpus.select("fire")
    assert 0 < fire.numel() < corpus.ids.numel()
    with pytest.raises(ValueError, match="no document mentions"):
        corpus.select("zzzqqq")


@pytest.mark.parametrize("tied", [True, False])
def test_forward_matches_the_definition(tied):
    torch.manual_seed(0)
    model = dg.WindowLM(50, dim=8, window=3, hidden=16, tied=tied)
    context = torch.randint(0, 50, (5, 3))
    x = model.wte.weight[context].reshape(5, 24)
    h = model.mlp(x)
    output = model.wte.weight if tied else model.out.weight
    torch.testing.assert_close(model(context), h @ output.T + model.bias)
    assert model.tied is tied
    assert (model.out is None) is tied


def test_tied_gradient_on_an_unseen_row_is_p_times_h():
    """The docstring's equation: a row that is neither input nor target gets (1/B) sum_b p_w h_b."""
    torch.manual_seed(0)
    model = dg.WindowLM(30, dim=6, window=2, hidden=12, tied=True)
    context = torch.tensor([[1, 2], [3, 4]])
    target = torch.tensor([5, 6])
    logits = model(context)
    torch.nn.functional.cross_entropy(logits, target).backward()
    h = model.mlp(model.wte.weight[context].reshape(2, 12)).detach()
    p = logits.detach().softmax(dim=1)
    unseen = 20
    expected = (p[:, unseen, None] * h).mean(dim=0)
    torch.testing.assert_close(model.wte.weight.grad[unseen], expected)


def test_untied_input_rows_of_unseen_tokens_get_no_gradient():
    torch.manual_seed(0)
    model = dg.WindowLM(30, dim=6, window=2, hidden=12, tied=False)
    logits = model(torch.tensor([[1, 2]]))
    torch.nn.functional.cross_entropy(logits, torch.tensor([5])).backward()
    assert model.wte.weight.grad[20].abs().max() == 0
    assert model.out.weight.grad[20].abs().max() > 0


def test_training_is_deterministic_and_learns():
    ids = torch.tensor([0, 1, 2, 3] * 200)  # a cycle: perfectly predictable
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        model = dg.WindowLM(4, dim=8, window=2, hidden=16)
        losses.append(dg.train_window_lm(model, ids, steps=120, batch_size=32, lr=1e-2, seed=0))
    assert losses[0] == losses[1]
    assert losses[0][-1] < 0.1 < losses[0][0]


def test_mean_cosine_by_count():
    table = torch.randn(6, 4, dtype=torch.float64)
    counts = torch.tensor([1, 1, 5, 5, 5, 200])
    bins = dg.mean_cosine_by_count(table, counts, [1, 3, 100])
    assert [b.n for b in bins] == [2, 3]  # the 100+ bin has one row: no pairs
    assert bins[0].mean == pytest.approx(mean_cosine(table[:2]))
    assert bins[1].mean == pytest.approx(mean_cosine(table[2:5]))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: dg.WindowLM(1), "vocab_size"),
        (lambda: dg.train_window_lm(dg.WindowLM(5, window=4), torch.tensor([1, 2, 3]), steps=1), "longer than the window"),
        (lambda: dg.train_window_lm(dg.WindowLM(5, window=1), torch.tensor([1, 2, 3]), steps=-1), "steps=-1"),
        (lambda: dg.mean_cosine_by_count(torch.randn(3, 2), torch.tensor([1, 2]), [1]), "rows"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
