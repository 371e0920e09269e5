"""Scaled dot-product attention that accepts any of the course's position schemes.

``softmax(Q K^T / sqrt(d_head) + B) V`` (Vaswani et al., 2017, eq. 1), where the position
scheme decides what changes:

- ``"none"``: nothing; attention then sees a set, not a sequence;
- ``"sinusoidal"`` / ``"learned"``: a position vector is added to the input x (absolute);
- ``"rope"``: Q and K are rotated by :func:`embedlib.positional.apply_rope` (relative);
- ``"alibi"``: B gets :func:`embedlib.positional.alibi_bias` (relative, a distance penalty).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .positional import LearnedPositionalEmbedding, RopeScaling, alibi_bias, apply_rope, sinusoidal_encoding

SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi")


def check_scheme(scheme: str) -> None:
    """Raise ``ValueError`` naming the valid schemes unless ``scheme`` is one of them."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown position scheme {scheme!r}; use one of {SCHEMES}")


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    causal: bool = False,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d) + bias) v`` for q, k, v of shape [..., seq, d].

    ``bias`` broadcasts against the scores [..., seq, seq] (it may hold ``-inf`` as a mask);
    ``causal`` masks the future. Returns the output [..., seq, d_v] and, if asked, the weights.
    """
    if not return_weights:  # torch's fused kernel: same result, less memory
        if causal and bias is not None:
            future = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).triu(1)
            bias = bias.masked_fill(future, float("-inf"))
            causal = False
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=causal)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [..., seq_q, seq_k]
    if bias is not None:
        scores = scores + bias
    if causal:
        future = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    weights = scores.softmax(dim=-1)  # [..., seq_q, seq_k]
    return weights @ v, weights


def position_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scheme: str = "none",
    causal: bool = False,
    rope_base: float = 10000.0,
    rope_scaling: RopeScaling | None = None,
    trained_length: int | None = None,
    window: int | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Attention over already projected heads q, k, v of shape [batch, heads, seq, d_head].

    Applies the relative schemes (``"rope"`` rotates q and k, ``"alibi"`` adds a per-head
    bias); the absolute ones act on the input before projection, so here they change nothing.
    ``trained_length`` is passed to :func:`apply_rope` (it warns past it without scaling).
    ``window``: each query sees only keys fewer than ``window`` positions away (a sliding
    window, so a model never meets an offset larger than it was trained on).
    """
    check_scheme(scheme)
    seq = q.shape[-2]
    bias = None
    if scheme == "rope":
        guard = trained_length
        if window is not None and trained_length is not None and window <= trained_length:
            guard = None  # scores depend on offsets only, and the window keeps them in the trained range
        q = apply_rope(q, None, rope_base, rope_scaling, trained_length=guard)
        k = apply_rope(k, None, rope_base, rope_scaling)
    elif scheme == "alibi":
        bias = alibi_bias(q.shape[-3], seq, causal=causal).to(q.dtype)  # [heads, seq, seq]
        causal = False  # the bias already holds the mask
    if window is not None:
        if window <= 0:
            raise ValueError(f"window must be a positive number of positions, got {window}")
        index = torch.arange(seq, device=q.device)
        far = (index[:, None] - index[None, :]).abs() >= window  # [seq, seq]
        far_bias = torch.zeros(seq, seq, dtype=q.dtype, device=q.device).masked_fill(far, float("-inf"))
        bias = far_bias if bias is None else bias + far_bias
    return attend(q, k, v, bias=bias, causal=causal, return_weights=return_weights)


def self_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    *,
    n_heads: int = 1,
    scheme: str = "none",
    causal: bool = False,
    position_table: LearnedPositionalEmbedding | None = None,
    rope_base: float = 10000.0,
    rope_scaling: RopeScaling | None = None,
    trained_length: int | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Multi-head self-attention of x [seq, d_model] or [batch, seq, d_model], no output projection.

    ``w_q``, ``w_k``, ``w_v``: [d_model, d_model] (x @ w). With ``scheme="sinusoidal"`` the
    encoding is added to x first, with ``"learned"`` the rows of ``position_table``. Returns
    [..., seq, d_model] (heads concatenated) and, if asked, the weights [..., heads, seq, seq].
    """
    check_scheme(scheme)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[None]  # [1, seq, d_model]
    batch, seq, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; each head needs an equal slice")
    if scheme == "sinusoidal":
        x = x + sinusoidal_encoding(seq, d_model).to(x.dtype)
    elif scheme == "learned":
        if position_table is None:
            raise ValueError("scheme='learned' needs position_table=LearnedPositionalEmbedding(max_positions, d_model)")
        x = x + position_table(torch.arange(seq))
    d_head = d_model // n_heads

    def heads(w: torch.Tensor) -> torch.Tensor:
        return (x @ w).view(batch, seq, n_heads, d_head).transpose(1, 2)  # [batch, heads, seq, d_head]

    result = position_attention(
        heads(w_q), heads(w_k), heads(w_v), scheme=scheme, causal=causal, rope_base=rope_base,
        rope_scaling=rope_scaling, trained_length=trained_length, return_weights=return_weights,
    )
    out, weights = result if return_weights else (result, None)
    out = out.transpose(1, 2).reshape(batch, seq, d_model)  # [batch, seq, d_model]
    if squeeze:
        out = out[0]
        weights = weights[0] if weights is not None else None
    return (out, weights) if return_weights else out
