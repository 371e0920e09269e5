"""embedlib.attention: the fused and explicit paths agree with a loop, and each scheme does its job."""

from __future__ import annotations

import math

import pytest
import torch

from embedlib.attention import SCHEMES, attend, position_attention, self_attention
from embedlib.positional import LearnedPositionalEmbedding, alibi_bias, apply_rope


def naive_attention(q, k, v, bias=None, causal=False):
    """One query at a time, softmax written out (q, k, v: [seq, d])."""
    seq, d = q.shape
    out = torch.zeros(seq, v.shape[1], dtype=torch.float64)
    for i in range(seq):
        scores = []
        for j in range(seq):
            s = float(q[i] @ k[j]) / math.sqrt(d) + (float(bias[i, j]) if bias is not None else 0.0)
            scores.append(float("-inf") if causal and j > i else s)
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        total = sum(weights)
        for j in range(seq):
            out[i] += weights[j] / total * v[j].double()
    return out.float()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("return_weights", [False, True])
def test_attend_matches_the_loop(causal, with_bias, return_weights):
    q, k, v = torch.randn(3, 7, 4).unbind(0)
    bias = torch.randn(7, 7) if with_bias else None
    result = attend(q, k, v, bias=bias, causal=causal, return_weights=return_weights)
    out = result[0] if return_weights else result
    torch.testing.assert_close(out, naive_attention(q, k, v, bias, causal), atol=1e-5, rtol=1e-5)
    if return_weights:
        torch.testing.assert_close(result[1].sum(-1), torch.ones(7))
        assert bool((result[1].triu(1) == 0).all()) == causal  # no weight on the future iff causal


def _weights(d=8):
    return [torch.randn(d, d) / math.sqrt(d) for _ in range(3)]


def test_without_positions_attention_is_permutation_equivariant():
    x, (w_q, w_k, w_v) = torch.randn(6, 8), _weights()
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    out = self_attention(x, w_q, w_k, w_v, n_heads=2)
    torch.testing.assert_close(self_attention(x[order], w_q, w_k, w_v, n_heads=2), out[order])


@pytest.mark.parametrize("scheme", ["sinusoidal", "learned", "rope", "alibi"])
def test_every_position_scheme_breaks_the_symmetry(scheme):
    x, (w_q, w_k, w_v) = torch.randn(6, 8), _weights()
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    table = LearnedPositionalEmbedding(16, 8)
    kwargs = dict(n_heads=2, scheme=scheme, position_table=table)
    permuted_out = self_attention(x[order], w_q, w_k, w_v, **kwargs)
    assert not torch.allclose(permuted_out, self_attention(x, w_q, w_k, w_v, **kwargs)[order], atol=1e-4)


def test_a_causal_mask_alone_breaks_the_symmetry():
    x, (w_q, w_k, w_v) = torch.randn(6, 8), _weights()
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    out = self_attention(x, w_q, w_k, w_v, causal=True)
    assert not torch.allclose(self_attention(x[order], w_q, w_k, w_v, causal=True), out[order], atol=1e-4)


def test_rope_and_alibi_paths_equal_the_explicit_computation():
    q, k, v = torch.randn(3, 1, 4, 9, 8).unbind(0)  # [batch, heads, seq, d_head]
    expected = naive_attention(apply_rope(q[0, 1]), apply_rope(k[0, 1]), v[0, 1], causal=True)
    got = position_attention(q, k, v, scheme="rope", causal=True)
    torch.testing.assert_close(got[0, 1], expected, atol=1e-5, rtol=1e-5)
    expected = naive_attention(q[0, 2], k[0, 2], v[0, 2], bias=alibi_bias(4, 9)[2], causal=True)
    torch.testing.assert_close(position_attention(q, k, v, scheme="alibi", causal=True)[0, 2], expected, atol=1e-5, rtol=1e-5)


def test_batched_and_single_inputs_agree():
    x, (w_q, w_k, w_v) = torch.randn(2, 5, 8), _weights()
    batched, weights = self_attention(x, w_q, w_k, w_v, n_heads=4, scheme="rope", return_weights=True)
    single, single_weights = self_attention(x[1], w_q, w_k, w_v, n_heads=4, scheme="rope", return_weights=True)
    assert batched.shape == (2, 5, 8) and weights.shape == (2, 4, 5, 5) and single_weights.shape == (4, 5, 5)
    torch.testing.assert_close(batched[1], single)


def test_bad_input_is_explained():
    x, (w_q, w_k, w_v) = torch.randn(5, 8), _weights()
    with pytest.raises(ValueError, match="unknown position scheme 'relative'"):
        self_attention(x, w_q, w_k, w_v, scheme="relative")
    with pytest.raises(ValueError, match="not divisible by n_heads=3"):
        self_attention(x, w_q, w_k, w_v, n_heads=3)
    with pytest.raises(ValueError, match="position_table"):
        self_attention(x, w_q, w_k, w_v, scheme="learned")
    with pytest.raises(IndexError, match="position 4 has no learned vector"):
        self_attention(x, w_q, w_k, w_v, scheme="learned", position_table=LearnedPositionalEmbedding(4, 8))
    assert set(SCHEMES) == {"none", "sinusoidal", "learned", "rope", "alibi"}


@pytest.mark.parametrize("scheme", ["none", "alibi", "rope"])
def test_window_hides_keys_that_are_too_far(scheme):
    q, k, v = torch.randn(3, 1, 4, 10, 8).unbind(0)  # [batch, heads, seq, d_head]
    far = (torch.arange(10)[:, None] - torch.arange(10)[None, :]).abs() >= 3
    bias = torch.zeros(10, 10).masked_fill(far, float("-inf"))  # [seq, seq]
    if scheme == "alibi":
        bias = bias + alibi_bias(4, 10)[1]
    q1, k1 = (apply_rope(q[0, 1]), apply_rope(k[0, 1])) if scheme == "rope" else (q[0, 1], k[0, 1])
    expected = naive_attention(q1, k1, v[0, 1], bias=bias, causal=True)
    got = position_attention(q, k, v, scheme=scheme, causal=True, window=3)
    torch.testing.assert_close(got[0, 1], expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="window must be a positive"):
        position_attention(q, k, v, window=0)
