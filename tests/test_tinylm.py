"""embedlib.tinylm: vocabulary, model shapes and causality, reproducible training, per-position loss."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from embedlib.positional import RopeLengthWarning, RopeScaling
from embedlib.tinylm import (
    UNKNOWN,
    CharVocab,
    TinyLM,
    TinyLMConfig,
    bin_means,
    lee_char_corpus,
    loss_by_input_length,
    loss_by_position,
    random_windows,
    train_lm,
)

SCHEMES = ["rope", "alibi", "learned", "sinusoidal", "none"]


def small(positions: str = "rope", **kwargs) -> TinyLMConfig:
    return TinyLMConfig(vocab_size=11, d_model=16, n_layers=2, n_heads=2, positions=positions, max_positions=12, **kwargs)


def test_vocab_round_trip_and_unknown_characters():
    vocab = CharVocab.from_text("hello world")
    assert vocab.chars[0] == UNKNOWN and len(vocab) == 9
    assert vocab.decode(vocab.encode("low hello")) == "low hello"
    assert vocab.encode("hex").tolist()[1:] == [vocab.chars.index("e"), 0]
    with pytest.raises(IndexError, match="id 9 is not in this vocabulary"):
        vocab.decode([9])


def test_lee_corpus_is_read_with_a_training_only_vocabulary():
    vocab, train_ids, heldout_ids = lee_char_corpus()
    assert train_ids.numel() > 300_000 and 20_000 < heldout_ids.numel() < 30_000
    assert 60 < len(vocab) < 100
    assert int(train_ids.min()) > 0  # every training character is in the vocabulary
    assert vocab.decode(train_ids[:20]).isprintable()


@pytest.mark.parametrize("positions", SCHEMES)
def test_shapes_and_hidden_states(positions):
    model = TinyLM(small(positions))
    ids = torch.randint(0, 11, (3, 10))
    assert model(ids).shape == (3, 10, 11)
    states = model.hidden_states(ids)
    assert len(states) == 3 and all(s.shape == (3, 10, 16) for s in states)


@pytest.mark.parametrize("positions", SCHEMES)
def test_model_is_causal(positions):
    model = TinyLM(small(positions))
    ids = torch.randint(0, 11, (1, 10))
    changed = ids.clone()
    changed[0, 7] = (changed[0, 7] + 1) % 11
    before, after = model(ids), model(changed)
    torch.testing.assert_close(before[:, :7], after[:, :7])
    assert not torch.allclose(before[:, 7:], after[:, 7:])


def test_tying_shares_one_matrix():
    tied, untied = TinyLM(small(tie_embeddings=True)), TinyLM(small(tie_embeddings=False))
    assert tied.head.weight is tied.wte.weight
    assert untied.head.weight is not untied.wte.weight
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters()) == 11 * 16


def test_learned_positions_fail_clearly_past_the_table():
    with pytest.raises(IndexError, match="position 12 has no learned vector"):
        TinyLM(small("learned"))(torch.zeros(1, 13, dtype=torch.long))


def test_rope_model_warns_past_its_training_length_unless_scaled():
    model = TinyLM(small("rope"))
    with torch.no_grad():  # sharpen attention so that positions visibly matter
        for block in model.blocks:
            block.qkv.weight.mul_(100)
    ids = torch.randint(0, 11, (1, 30))
    with pytest.warns(RopeLengthWarning, match="trained on 12 positions"):
        unscaled = model(ids)
    model.set_rope_scaling(RopeScaling("dynamic", 4.0, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = model(ids)
        model(ids[:, :12])
    assert not torch.allclose(unscaled, scaled)


def test_bad_config_and_ids_are_explained():
    with pytest.raises(ValueError, match="unknown position scheme 'relative'"):
        TinyLMConfig(vocab_size=5, positions="relative")
    with pytest.raises(ValueError, match="not divisible by n_heads=3"):
        TinyLMConfig(vocab_size=5, n_heads=3)
    with pytest.raises(IndexError, match=r"ids must lie in 0 \.\. 10"):
        TinyLM(small())(torch.tensor([[3, 11]]))
    with pytest.raises(ValueError, match=r"shape \[batch, seq\]"):
        TinyLM(small())(torch.tensor([3, 1]))


def test_random_windows_are_consecutive_slices():
    ids = torch.arange(100)
    windows = random_windows(ids, 5, 8, torch.Generator().manual_seed(0))
    assert windows.shape == (5, 9)
    assert ((windows[:, 1:] - windows[:, :-1]) == 1).all()
    with pytest.raises(ValueError, match="need more than 9 ids"):
        random_windows(torch.arange(9), 2, 8, torch.Generator())


def test_training_is_reproducible_and_learns_a_pattern():
    ids = torch.tensor([1, 2, 3, 4, 5] * 200)
    first = train_lm(small("alibi"), ids, steps=60, batch_size=8, seed=3)
    second = train_lm(small("alibi"), ids, steps=60, batch_size=8, seed=3)
    assert first.losses == second.losses
    assert first.losses[0] > 2.0 and first.losses[-1] < 0.6  # ln(11) = 2.4 at the start
    other = train_lm(small("alibi"), ids, steps=5, batch_size=8, seed=4)
    assert other.losses[0] != first.losses[0]
    seen = []
    train_lm(first.model, ids, steps=3, batch_size=8, callback=lambda step, model, loss: seen.append(step))
    assert seen == [0, 1, 2]


def test_loss_by_position_matches_a_direct_computation():
    model = TinyLM(small("none"))
    ids = torch.randint(0, 11, (50,))
    got = loss_by_position(model, ids, length=9, batch_size=2)
    windows = ids[:50].view(5, 10)
    with torch.no_grad():
        losses = torch.stack([F.cross_entropy(model(w[None, :-1])[0], w[1:], reduction="none") for w in windows])
    torch.testing.assert_close(got, losses.mean(0))
    with pytest.raises(ValueError, match="too few for one window"):
        loss_by_position(model, ids, length=60)


def test_bin_means():
    values = torch.arange(8.0)
    assert bin_means(values, (0, 2, 8)) == [0.5, 4.5]
    with pytest.raises(ValueError, match="edges must increase"):
        bin_means(values, (0, 9))


@pytest.mark.parametrize("positions", ["rope", "alibi"])
def test_one_layer_windowed_model_only_sees_the_last_window(positions):
    """With relative positions and one layer, a window of w makes position t see exactly ids[t-w+1 .. t]."""
    config = TinyLMConfig(vocab_size=11, d_model=16, n_layers=1, n_heads=2, positions=positions, max_positions=8)
    model = TinyLM(config)
    ids = torch.randint(0, 11, (1, 40))
    model.set_attention_window(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # offsets stay below the trained length: RoPE must not warn
        windowed = model(ids)
    model.set_attention_window(None)
    for t in (7, 20, 39):
        torch.testing.assert_close(windowed[0, t], model(ids[:, t - 7 : t + 1])[0, -1], atol=1e-5, rtol=1e-5)


def test_setters_change_the_models_own_config_not_the_callers():
    config = small("rope")
    model = TinyLM(config)
    model.set_rope_scaling(RopeScaling("linear", 2.0, 12))
    model.set_attention_window(4)
    assert config.rope_scaling is None and config.attention_window is None
    assert all(block.config is model.config for block in model.blocks)
    assert model.config.rope_scaling.kind == "linear" and model.config.attention_window == 4
    other = TinyLM(config)  # a second model from the same config starts plain
    assert other.config.rope_scaling is None


def test_loss_by_input_length_reads_each_bin_at_its_own_length():
    model = TinyLM(small("rope"))
    ids = torch.randint(0, 11, (400,))
    edges = (0, 8, 16, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeLengthWarning)
        bins = loss_by_input_length(model, ids, edges)
        expected = [loss_by_position(model, ids, length=b)[a:b].mean().item() for a, b in zip(edges, edges[1:])]
    assert bins == pytest.approx(expected)
    # dynamic scaling with inputs no longer than the training length changes nothing
    plain = loss_by_input_length(model, ids, (0, 8, 12))
    model.set_rope_scaling(RopeScaling("dynamic", 1.0, 12))
    assert loss_by_input_length(model, ids, (0, 8, 12)) == pytest.approx(plain)
    with pytest.raises(ValueError, match="increase"):
        loss_by_input_length(model, ids, (8, 0))
