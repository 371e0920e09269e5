"""Static and per-layer vectors, and threshold decisions against counting."""

from __future__ import annotations

import pytest
import torch

from embedlib import load_model, load_tokenizer
from embedlib import thresholds as th

TEXTS = ["A man is playing a guitar.", "The cat sleeps.", "Stock markets fell sharply on Monday after the report."]



def test_static_embeddings_average_table_rows():
    tokenizer, table = load_tokenizer(), load_model().get_input_embeddings().weight.detach()
    ids = tokenizer("playing guitar", add_special_tokens=False)["input_ids"]
    torch.testing.assert_close(th.static_embeddings(["playing guitar"])[0], table[ids].mean(dim=0))


def test_layer_token_states_keep_real_tokens_only():
    states = th.layer_token_states(TEXTS, max_length=16)
    real = sum(min(len(load_tokenizer()(t)["input_ids"]), 16) for t in TEXTS)
    assert len(states) == 7 and all(s.shape == (real, 384) for s in states)


def test_decisions_count_by_hand():
    scores = torch.tensor([0.9, 0.8, 0.4, 0.3, 0.1])
    labels = torch.tensor([True, False, True, False, False])
    result = th.decisions(scores, labels, 0.35)  # passes 0.9, 0.8, 0.4: two of them related
    assert (result.precision, result.recall, result.accepted) == (pytest.approx(2 / 3), 1.0, pytest.approx(0.6))
    assert result.f1 == pytest.approx(0.8)
    assert th.decisions(scores, labels, 2.0).precision == 1.0  # nothing passes


def test_calibrate_finds_the_best_f1():
    generator = torch.Generator().manual_seed(0)
    labels = torch.rand(200, generator=generator) < 0.4
    scores = labels.double() * 0.3 + torch.rand(200, generator=generator, dtype=torch.float64)
    best = th.calibrate(scores, labels)
    brute = max(th.decisions(scores, labels, float(t)).f1 for t in scores)
    assert best.f1 == pytest.approx(brute)
    assert best == th.decisions(scores, labels, best.threshold)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: th.static_embeddings([]), "non-empty"),
        (lambda: th.static_embeddings([""]), "no tokens"),
        (lambda: th.decisions(torch.ones(3), torch.ones(2, dtype=torch.bool), 0.5), "equal-length"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
