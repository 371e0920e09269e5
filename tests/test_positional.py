"""embedlib.positional against slow per-element references and against transformers' own code."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from embedlib.positional import (
    LearnedPositionalEmbedding,
    RopeLengthWarning,
    RopeScaling,
    alibi_bias,
    alibi_slopes,
    apply_rope,
    causal_lm_losses,
    dynamic_ntk_factor,
    rope_frequencies,
    rotated_scores,
    sinusoidal_encoding,
    wavelengths,
    yarn_ramp,
)

# ---------------------------------------------------------------- slow, obviously correct references


def naive_sinusoidal(n: int, dim: int, base: float) -> torch.Tensor:
    out = torch.zeros(n, dim, dtype=torch.float64)
    for p in range(n):
        for i in range(dim // 2):
            angle = p / base ** (2 * i / dim)
            out[p, 2 * i] = math.sin(angle)
            out[p, 2 * i + 1] = math.cos(angle)
    return out


def naive_rope(x: torch.Tensor, positions: list[int], base: float, layout: str) -> torch.Tensor:
    """Rotate each pair by p * base^(-2i/d), one pair at a time (x: [seq, dim])."""
    seq, dim = x.shape
    out = torch.empty_like(x, dtype=torch.float64)
    for row, p in enumerate(positions):
        for i in range(dim // 2):
            a, b = (i, i + dim // 2) if layout == "half" else (2 * i, 2 * i + 1)
            angle = p * base ** (-2 * i / dim)
            x1, x2 = float(x[row, a]), float(x[row, b])
            out[row, a] = x1 * math.cos(angle) - x2 * math.sin(angle)
            out[row, b] = x1 * math.sin(angle) + x2 * math.cos(angle)
    return out


def naive_alibi_slopes(n: int) -> list[float]:
    """Press et al.'s reference recursion (fairseq), written out."""

    def power_of_two(k: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(k) - 3)))
        return [start * start**i for i in range(k)]

    if math.log2(n).is_integer():
        return power_of_two(n)
    m = 2 ** math.floor(math.log2(n))
    return power_of_two(m) + naive_alibi_slopes(2 * m)[0::2][: n - m]


# ---------------------------------------------------------------- sinusoidal


@pytest.mark.parametrize("n, dim, base", [(1, 2, 10000.0), (17, 8, 10000.0), (50, 16, 100.0), (9, 6, 10.0)])
def test_sinusoidal_matches_the_loop(n, dim, base):
    torch.testing.assert_close(sinusoidal_encoding(n, dim, base), naive_sinusoidal(n, dim, base).float())


@pytest.mark.parametrize("n, dim", [(10, 4), (64, 32), (512, 768)])
def test_sinusoidal_matches_distilbert(n, dim):
    from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings

    reference = create_sinusoidal_embeddings(n, dim, torch.empty(n, dim))
    torch.testing.assert_close(sinusoidal_encoding(n, dim), reference, atol=2e-6, rtol=0)


def test_sinusoidal_dot_product_depends_only_on_offset():
    pe = sinusoidal_encoding(300, 64).double()
    dots = pe @ pe.T
    for offset in (0, 1, 5, 40):
        diagonal = torch.diagonal(dots, offset)
        assert diagonal.max() - diagonal.min() < 1e-4, offset


@pytest.mark.parametrize("dim", [0, 3, -2])
def test_sinusoidal_rejects_odd_dim(dim):
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(4, dim)


# ---------------------------------------------------------------- learned


def test_learned_table_reads_rows_and_names_the_bad_position():
    table = LearnedPositionalEmbedding(8, 4)
    torch.testing.assert_close(table(torch.tensor([0, 7])), table.table.weight[[0, 7]])
    with pytest.raises(IndexError, match=r"position 8 has no learned vector.*0 to 7.*Truncate"):
        table(torch.arange(9))
    with pytest.raises(IndexError, match="position -1"):
        table(torch.tensor([-1]))


# ---------------------------------------------------------------- RoPE


@pytest.mark.parametrize("layout", ["half", "interleaved"])
@pytest.mark.parametrize("dim", [2, 8, 64])
@pytest.mark.parametrize("base", [100.0, 10000.0, 500000.0])
@pytest.mark.parametrize("position", [0, 1, 7, 1000])
def test_rope_matches_the_per_pair_loop(layout, dim, base, position):
    x = torch.randn(3, dim)
    positions = [position, position + 1, position + 13]
    got = apply_rope(x, torch.tensor(positions), base, layout=layout)
    torch.testing.assert_close(got, naive_rope(x, positions, base, layout).float(), atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("dim, base", [(8, 10000.0), (64, 10000.0), (128, 500000.0)])
def test_rope_matches_transformers_llama(dim, base):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    config = LlamaConfig(hidden_size=dim * 2, num_attention_heads=2, num_key_value_heads=2, head_dim=dim,
                         max_position_embeddings=64, rope_parameters={"rope_type": "default", "rope_theta": base})
    q, k = torch.randn(2, 1, 2, 40, dim), torch.randn(2, 1, 2, 40, dim)  # [2 tensors], [batch, heads, seq, dim]
    positions = torch.arange(40) * 3
    cos, sin = LlamaRotaryEmbedding(config)(q[0], positions[None])
    q_ref, k_ref = apply_rotary_pos_emb(q[0], k[0], cos, sin)
    # transformers computes theta in float32, embedlib in float64 then rounds: angles of ~100 rad
    # then differ in the last float32 bits, a few 1e-5 in the output
    torch.testing.assert_close(apply_rope(q[0], positions, base), q_ref, atol=5e-5, rtol=1e-5)
    torch.testing.assert_close(apply_rope(k[0], positions, base), k_ref, atol=5e-5, rtol=1e-5)


def test_layouts_are_the_same_rotation_up_to_a_permutation():
    """Interleaved pairs (2i, 2i+1) become half pairs (i, i+d/2) under a fixed reordering."""
    dim = 16
    to_half = torch.cat((torch.arange(0, dim, 2), torch.arange(1, dim, 2)))  # interleaved index -> half slot
    x = torch.randn(5, dim)
    interleaved = apply_rope(x, torch.arange(5), layout="interleaved")
    half = apply_rope(x[:, to_half], torch.arange(5), layout="half")
    torch.testing.assert_close(interleaved[:, to_half], half)


def test_rope_score_depends_only_on_offset():
    q, k = torch.randn(1, 32, dtype=torch.float64), torch.randn(1, 32, dtype=torch.float64)

    def score(m: int, n: int) -> float:
        return float(apply_rope(q, torch.tensor([m])) @ apply_rope(k, torch.tensor([n])).T)

    assert abs(score(5, 2) - score(105, 102)) < 1e-9
    assert abs(score(5, 2) - score(5, 3)) > 1e-3


def test_rope_keeps_lengths():
    x = torch.randn(4, 10, 32)
    torch.testing.assert_close(apply_rope(x).norm(dim=-1), x.norm(dim=-1))


def test_rope_rejects_bad_shapes():
    with pytest.raises(ValueError, match="even"):
        apply_rope(torch.randn(4, 7))
    with pytest.raises(ValueError, match="positions has 3 entries"):
        apply_rope(torch.randn(4, 8), torch.arange(3))
    with pytest.raises(ValueError, match="layout"):
        apply_rope(torch.randn(4, 8), layout="pairs")


def _hf_frequencies(kind: str, dim: int, base: float, scaling: RopeScaling, seq_len: int | None = None):
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    parameters = {"rope_type": kind, "rope_theta": base, "factor": scaling.factor}
    if kind == "yarn":
        parameters["original_max_position_embeddings"] = scaling.original_max_positions
    if kind == "llama3":
        parameters.update(original_max_position_embeddings=scaling.original_max_positions,
                          low_freq_factor=scaling.low_freq_factor, high_freq_factor=scaling.high_freq_factor)
    config = LlamaConfig(hidden_size=dim * 4, num_attention_heads=4, head_dim=dim,
                         max_position_embeddings=scaling.original_max_positions, rope_parameters=parameters)
    return ROPE_INIT_FUNCTIONS[kind](config, "cpu", seq_len=seq_len)


@pytest.mark.parametrize("kind", ["linear", "dynamic", "yarn", "llama3"])
@pytest.mark.parametrize("dim, base, factor, trained", [
    (128, 500000.0, 8.0, 8192), (64, 10000.0, 4.0, 2048), (16, 10000.0, 8.0, 64), (128, 10000.0, 2.0, 4096),
])
def test_scaling_matches_transformers(kind, dim, base, factor, trained):
    scaling = RopeScaling(kind, factor, trained)
    seq_len = 3 * trained if kind == "dynamic" else None
    expected, attention_factor = _hf_frequencies(kind, dim, base, scaling, seq_len)
    torch.testing.assert_close(rope_frequencies(dim, base, scaling, seq_len=seq_len), expected, atol=0, rtol=2e-6)
    assert scaling.attention_factor == pytest.approx(attention_factor)


def test_dynamic_is_plain_rope_within_the_trained_length_and_ntk_beyond():
    plain = rope_frequencies(32)
    dynamic = RopeScaling("dynamic", 8.0, 100)
    torch.testing.assert_close(rope_frequencies(32, scaling=dynamic, seq_len=80), plain)
    # at 8x the trained length the factor has grown to 8 * 8 - (8 - 1) = 57
    torch.testing.assert_close(rope_frequencies(32, scaling=dynamic, seq_len=800),
                               rope_frequencies(32, scaling=RopeScaling("ntk", 57.0, 100)))


def test_ntk_keeps_the_fastest_pair_and_interpolates_the_slowest():
    scaling = RopeScaling("ntk", 8.0, 64)
    plain, scaled = rope_frequencies(64), rope_frequencies(64, scaling=scaling)
    assert scaled[0] == plain[0]
    assert float(plain[-1] / scaled[-1]) == pytest.approx(8.0, rel=1e-5)


def test_linear_scaling_is_position_interpolation():
    x = torch.randn(6, 16)
    scaled = apply_rope(x, torch.arange(6) * 4, scaling=RopeScaling("linear", 4.0, 10))
    torch.testing.assert_close(scaled, apply_rope(x, torch.arange(6)), atol=1e-5, rtol=1e-5)


def test_wavelengths_are_two_pi_over_theta():
    lengths = wavelengths(128, 10000.0)
    assert float(lengths[0]) == pytest.approx(2 * math.pi)
    assert float(lengths[-1]) == pytest.approx(2 * math.pi * 10000 ** (126 / 128), rel=1e-6)


def test_bad_scaling_is_rejected():
    with pytest.raises(ValueError, match="unknown RoPE scaling kind 'ntk-by-parts'"):
        RopeScaling("ntk-by-parts", 2.0, 64)
    with pytest.raises(ValueError, match="factor must be >= 1"):
        RopeScaling("linear", 0.5, 64)


def test_guard_warns_past_the_trained_length_only_without_scaling():
    x = torch.randn(100, 8)
    with pytest.warns(RopeLengthWarning, match=r"position 99.*trained on 64 positions"):
        apply_rope(x, trained_length=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_rope(x[:64], trained_length=64)
        apply_rope(x, trained_length=64, scaling=RopeScaling("yarn", 2.0, 64))
        apply_rope(x)  # no trained length given: nothing to compare with
    with pytest.warns(RopeLengthWarning, match="scaled to 128"):
        apply_rope(torch.randn(200, 8), trained_length=64, scaling=RopeScaling("yarn", 2.0, 64))


# ---------------------------------------------------------------- ALiBi


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 8, 12, 16, 20, 24, 32, 40, 112])
def test_alibi_slopes_match_the_reference_recursion(n):
    torch.testing.assert_close(alibi_slopes(n), torch.tensor(naive_alibi_slopes(n)))


@pytest.mark.parametrize("n", [1, 4, 6, 8, 12, 16, 112])
def test_alibi_slopes_match_bloom(n):
    """BLOOM's public build_alibi_tensor (every transformers version the course supports;
    its private slope helper is newer): at position 1 the bias of head h is its slope."""
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    bias = build_alibi_tensor(torch.ones(1, 2), n, torch.float32)  # (heads, 1, positions)
    torch.testing.assert_close(alibi_slopes(n), bias[:, 0, 1])


def test_alibi_slopes_for_eight_heads_are_powers_of_one_half():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([0.5**k for k in range(1, 9)]))


@pytest.mark.parametrize("n_heads, seq", [(4, 7), (6, 12), (16, 5)])
def test_alibi_bias_gives_bloom_attention_weights(n_heads, seq):
    """BLOOM adds slope * j; softmax ignores the per-row shift, so the weights agree."""
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    scores = torch.randn(n_heads, seq, seq)
    bloom = build_alibi_tensor(torch.ones(1, seq), n_heads, torch.float32).view(n_heads, 1, seq)
    causal = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    expected = (scores + bloom).masked_fill(causal, float("-inf")).softmax(-1)
    torch.testing.assert_close((scores + alibi_bias(n_heads, seq)).softmax(-1), expected)


def test_alibi_bias_loop():
    bias = alibi_bias(3, 6, causal=True)
    slopes = alibi_slopes(3)
    for h in range(3):
        for i in range(6):
            for j in range(6):
                expected = float("-inf") if j > i else -float(slopes[h]) * (i - j)
                assert float(bias[h, i, j]) == pytest.approx(expected)
    torch.testing.assert_close(alibi_bias(3, 6, causal=False), -slopes[:, None, None] * (torch.arange(6)[:, None] - torch.arange(6)).abs())


@pytest.mark.parametrize("n", [0, -3, 2.0])
def test_alibi_rejects_bad_head_counts(n):
    with pytest.raises(ValueError, match="positive integer"):
        alibi_slopes(n)


# ---------------------------------------------------------------- issue 16: precision, dynamic, YaRN


def test_every_scaling_kind_has_a_rule_and_float64_keeps_full_precision():
    from embedlib.positional import ROPE_SCALING_KINDS, _SCALINGS

    assert tuple(_SCALINGS) == ROPE_SCALING_KINDS
    exact = 10000.0 ** -(torch.arange(0, 64, 2, dtype=torch.float64) / 64)
    assert torch.equal(rope_frequencies(64, dtype=torch.float64), exact)
    assert rope_frequencies(64).dtype == torch.float32
    # float64 input at a far position: the angles must come from float64 frequencies
    x = torch.randn(1, 64, dtype=torch.float64)
    far = 123_457
    expected = naive_rope(x, [far], 10000.0, "half")
    torch.testing.assert_close(apply_rope(x, torch.tensor([far])), expected, atol=1e-9, rtol=0)


def test_dynamic_factor_is_transformers_slope_and_short_inputs_are_unchanged():
    scaling = RopeScaling("dynamic", 16.0, 32)
    assert dynamic_ntk_factor(scaling, 512) == pytest.approx(16 * 512 / 32 - 15)  # 241
    assert dynamic_ntk_factor(scaling, 20) == 1.0
    assert scaling.max_positions is None  # adapts to any length: no target
    one = RopeScaling("dynamic", 1.0, 32)
    assert dynamic_ntk_factor(one, 512) == pytest.approx(16.0)
    torch.testing.assert_close(rope_frequencies(16, scaling=one, seq_len=512),
                               rope_frequencies(16, scaling=RopeScaling("ntk", 16.0, 32)))
    torch.testing.assert_close(rope_frequencies(16, scaling=one, seq_len=32), rope_frequencies(16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dynamic never warns about length
        apply_rope(torch.randn(600, 16), scaling=one, trained_length=32)


def test_yarn_at_head_size_16_and_factor_16_is_nearly_plain_interpolation():
    scaling = RopeScaling("yarn", 16.0, 32)
    assert yarn_ramp(16, 10000.0, scaling).tolist() == [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    plain, scaled = rope_frequencies(16), rope_frequencies(16, scaling=scaling)
    assert scaled[0] == plain[0]
    torch.testing.assert_close(scaled[2:], plain[2:] / 16)


# ---------------------------------------------------------------- real decoders: a tiny random LLaMA


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)
    return LlamaForCausalLM(config).eval()


def test_causal_lm_losses_equal_full_logits_cross_entropy():
    model, ids = _tiny_llama(), torch.randint(0, 50, (40,))
    with torch.no_grad():
        logits = model(input_ids=ids[None]).logits[0]  # [40, 50]
    expected = torch.nn.functional.cross_entropy(logits[:-1], ids[1:], reduction="none")
    torch.testing.assert_close(causal_lm_losses(model, ids, chunk=7), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one sequence"):
        causal_lm_losses(model, ids[None])


def test_rotated_scores_depend_on_offsets_only():
    from transformers.models.llama import modeling_llama

    original = modeling_llama.apply_rotary_pos_emb
    model, ids = _tiny_llama(), torch.randint(0, 50, (12,))
    plain = torch.arange(12)
    scores = rotated_scores(model, ids, plain, layer=1)
    assert scores.shape == (4, 12, 12)
    assert modeling_llama.apply_rotary_pos_emb is original  # patched only during the call
    shifted = rotated_scores(model, ids, plain + 1000, layer=1)
    causal = torch.ones(12, 12, dtype=torch.bool).tril()
    torch.testing.assert_close(shifted[:, causal], scores[:, causal], atol=1e-3, rtol=1e-3)
    doubled = rotated_scores(model, ids, 2 * plain, layer=1)
    assert (doubled - scores)[:, causal].abs().max() > 1e-2
    # layer 0 by hand: q_proj, k_proj, then RoPE at the positions, keys repeated for GQA
    attention = model.model.layers[0].self_attn
    with torch.no_grad():
        x = model.model.layers[0].input_layernorm(model.model.embed_tokens(ids[None]))  # [1, 12, 32]
        q = attention.q_proj(x).view(1, 12, 4, 8).transpose(1, 2)
        k = attention.k_proj(x).view(1, 12, 2, 8).transpose(1, 2)
        q = apply_rope(q.double()).float()
        k = apply_rope(k.double()).float().repeat_interleave(2, dim=1)
    torch.testing.assert_close(rotated_scores(model, ids, plain, layer=0), (q @ k.transpose(-2, -1))[0] / math.sqrt(8),
                               atol=1e-5, rtol=1e-4)
