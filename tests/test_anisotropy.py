"""Anisotropy per layer: the Markov bound, the share above a threshold, the rogue dimension,
and decoder hidden states (on a tiny random LLaMA, so no model download is needed)."""

from __future__ import annotations

import pytest
import torch

from embedlib import anisotropy as an
from embedlib import diagnostics as diag


def slow_share(x, t):
    n = x.shape[0]
    hits = [float(torch.nn.functional.cosine_similarity(x[i], x[j], dim=0)) >= t
            for i in range(n) for j in range(i + 1, n)]
    return sum(hits) / len(hits)


@pytest.mark.parametrize("shift", [0.0, 1.0, 3.0])
def test_share_above_matches_the_loop_and_respects_the_markov_bound(shift):
    x = torch.randn(40, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + shift
    share = an.share_above(x, 0.8)
    assert share == pytest.approx(slow_share(x, 0.8))
    assert share <= an.markov_bound(diag.mean_cosine(x), 0.8) + 1e-12


def test_markov_bound_values():
    assert an.markov_bound(0.7, 0.8) == pytest.approx(1.7 / 1.8)  # 94%: "95% pass" is impossible
    assert an.markov_bound(1.0, 0.8) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        an.markov_bound(0.5, -1.0)


def test_layer_anisotropy_finds_a_planted_rogue_dimension():
    generator = torch.Generator().manual_seed(0)
    h = torch.randn(500, 16, dtype=torch.float64, generator=generator)
    h[:, 7] += 6.0  # one coordinate with a large common offset
    report = an.layer_anisotropy(h, sample=200)
    assert report.top_dim == 7 and report.top_share > 0.9
    assert report.mean_cos == pytest.approx(diag.mean_cosine(h))
    assert abs(report.centred) < 0.01 and report.lean > 10
    assert report.above <= report.bound


def test_decoder_states_shape_and_layer_zero_is_the_raw_table():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()

    class Tokenizer:  # one id per character, enough for the shape logic
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [ord(c) % 50 for c in text]}

    states = an.decoder_states(["hello world", "another text"], tokens=6, model=model, tokenizer=Tokenizer())
    assert states.shape == (3, 2, 6, 16)  # (layers + 1, texts, tokens, d)
    ids = torch.tensor([[ord(c) % 50 for c in "hello "]])
    torch.testing.assert_close(states[0, 0], model.get_input_embeddings().weight[ids[0]].detach())
    with pytest.raises(ValueError, match="fewer than"):
        an.decoder_states(["hi"], tokens=6, model=model, tokenizer=Tokenizer())


def test_table_word_vectors_average_the_rows_of_each_words_tokens():
    table = torch.nn.Embedding(20, 3)

    class Model:
        def get_input_embeddings(self):
            return table

    class Tokenizer:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [len(part) for part in text.split("a")]}  # any deterministic split

    got = an.table_word_vectors(["banana", "x"], Model(), Tokenizer())
    ids = [len(p) for p in " banana".split("a")]
    torch.testing.assert_close(got[0], table.weight[ids].mean(dim=0).detach())
    assert got.shape == (2, 3)


def test_spearman_gap_sd_matches_a_loop_over_resamples():
    from embedlib.geometry import spearman

    generator = torch.Generator().manual_seed(3)
    truth = torch.randint(0, 5, (40,), generator=generator).double()  # ties, like human ratings
    base = truth + torch.randn(40, generator=generator, dtype=torch.float64)
    other = truth + 2 * torch.randn(40, generator=generator, dtype=torch.float64)
    rows = torch.randint(0, 40, (30, 40), generator=torch.Generator().manual_seed(0))
    slow = torch.tensor([spearman(truth[r], other[r]) - spearman(truth[r], base[r]) for r in rows]).std()
    assert an.spearman_gap_sd(truth, base, other, resamples=30, seed=0) == pytest.approx(float(slow))
    assert an.spearman_gap_sd(truth, base, base, resamples=30) == 0.0
