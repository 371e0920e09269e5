"""The attention-free window LM, its tied gradient, and the WordPiece corpus."""

from __future__ import annotations

import pytest
import torch

from embedlib import degeneration as dg


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
    chosen = corpus.mentions("fire")
    assert fire.numel() == sum(int(corpus.offsets[i + 1] - corpus.offsets[i]) for i in chosen)
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


def test_mentions_matches_whole_words_only():
    documents = ["A fire broke out.", "He was fired.", "The ceasefire held.", "FIRE!", "gunfire, fireworks"]
    corpus = dg.TokenCorpus(ids=torch.arange(5), counts=torch.ones(5, dtype=torch.int64), tokens=list("abcde"),
                            documents=documents, offsets=torch.arange(6))
    assert corpus.mentions("fire") == [0, 3]
    assert corpus.select("fire").tolist() == [0, 3]


def test_sgd_moves_rows_by_their_gradient_and_adam_does_not():
    """One step from the same start: SGD's step is lr * grad; Adam's first step is lr * sign(grad)."""
    ids = torch.tensor([0, 1, 2, 3] * 50)
    moves = {}
    for optimizer, lr in (("sgd", 0.5), ("adam", 1e-3)):
        torch.manual_seed(0)
        model = dg.WindowLM(10, dim=4, window=2, hidden=8)
        before = model.wte.weight.detach().clone()
        reference = dg.WindowLM(10, dim=4, window=2, hidden=8)
        reference.load_state_dict(model.state_dict())
        generator = torch.Generator().manual_seed(0)
        starts = torch.randint(0, ids.numel() - 2, (16,), generator=generator)
        chunk = ids[starts[:, None] + torch.arange(3)]
        torch.nn.functional.cross_entropy(reference(chunk[:, :-1]), chunk[:, -1]).backward()
        grad = reference.wte.weight.grad
        dg.train_window_lm(model, ids, steps=1, batch_size=16, lr=lr, optimizer=optimizer)
        moves[optimizer] = model.wte.weight.detach() - before
        expected = -lr * grad if optimizer == "sgd" else -lr * grad.sign() * (grad.abs() > 1e-7)
        torch.testing.assert_close(moves[optimizer], expected, atol=1e-6, rtol=1e-3)
    # an unseen row (ids 4-9) gets only the small output push: SGD moves it less than the rows
    # in use; Adam moves every coordinate of it by lr, exactly like theirs
    assert moves["sgd"][9].norm() < moves["sgd"][:4].norm(dim=1).max()
    torch.testing.assert_close(moves["adam"][9].abs(), torch.full((4,), 1e-3), atol=1e-6, rtol=1e-3)


def test_window_lm_loss_is_the_mean_cross_entropy_of_fixed_windows():
    torch.manual_seed(0)
    model = dg.WindowLM(6, dim=4, window=2, hidden=8)
    ids = torch.randint(0, 6, (100,), generator=torch.Generator().manual_seed(1))
    starts = torch.randint(0, 98, (50,), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        slow = sum(float(torch.nn.functional.cross_entropy(model(ids[s:s + 2][None]), ids[s + 2:s + 3]))
                   for s in starts) / 50
    assert dg.window_lm_loss(model, ids, windows=50, seed=7) == pytest.approx(slow, rel=1e-5)
    assert dg.window_lm_loss(model, ids, windows=50, seed=7) == dg.window_lm_loss(model, ids, windows=50, seed=7)


def test_fine_tune_drift_leaves_the_model_alone_and_reports_groups():
    torch.manual_seed(0)
    model = dg.WindowLM(12, dim=4, window=2, hidden=8, tied=False)
    original = model.wte.weight.detach().clone()
    domain = torch.tensor([0, 1, 2, 3] * 30)  # ids 4-11 never occur
    watched = torch.ones(12, dtype=torch.bool)
    absent = torch.arange(12) >= 4
    report = dg.fine_tune_drift(model, domain, watched, {"absent": absent, "present": ~absent}, steps=5, k=3,
                                lr=1e-2, seed=0)
    assert torch.equal(model.wte.weight.detach(), original)
    assert report["absent"].n == 8 and report["present"].n == 4
    assert report["absent"].moved == 0.0  # untied: input rows of absent tokens get no gradient
    assert report["present"].moved > 0.0
    assert 0.0 <= report["absent"].kept <= 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: dg.WindowLM(1), "vocab_size"),
        (lambda: dg.train_window_lm(dg.WindowLM(5, window=4), torch.tensor([1, 2, 3]), steps=1), "longer than the window"),
        (lambda: dg.train_window_lm(dg.WindowLM(5, window=1), torch.tensor([1, 2, 3]), steps=-1), "steps=-1"),
        (lambda: dg.train_window_lm(dg.WindowLM(5, window=1), torch.tensor([1, 2, 3]), steps=1, optimizer="lbfgs"),
         "optimizer"),
        (lambda: dg.fine_tune_drift(dg.WindowLM(5, window=1), torch.tensor([1, 2, 3]), torch.ones(4, dtype=torch.bool),
                                    {}, steps=1), "bool mask"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_snapshots_are_the_models_of_shorter_runs():
    """One run of 30 steps kept at 10 and 30 equals two fresh runs of 10 and of 30 steps."""
    ids = torch.arange(40) % 7
    options = {"batch_size": 8, "lr": 1e-2, "seed": 3, "optimizer": "adam"}
    torch.manual_seed(0)
    kept = dg.window_lm_snapshots(dg.WindowLM(7, dim=4, window=2, hidden=8), ids, (30, 10), **options)
    assert sorted(kept) == [10, 30]
    for steps in (10, 30):
        torch.manual_seed(0)
        fresh = dg.WindowLM(7, dim=4, window=2, hidden=8)
        dg.train_window_lm(fresh, ids, steps=steps, **options)
        for name, value in fresh.state_dict().items():
            torch.testing.assert_close(kept[steps].state_dict()[name], value, rtol=0, atol=0)
    with pytest.raises(ValueError, match="step counts >= 0"):
        dg.window_lm_snapshots(dg.WindowLM(7, window=2), ids, ())
