"""Positional information for transformers: sinusoidal, learned absolute, RoPE and ALiBi.

Self-attention treats its input as a set; these schemes tell it where each token sits.

- **Sinusoidal** (Vaswani et al., 2017, arXiv:1706.03762): a fixed vector added to the token
  embedding, ``PE[p, 2i] = sin(p / base^(2i/d))`` and ``PE[p, 2i+1] = cos(p / base^(2i/d))``.
- **Learned absolute** (BERT, GPT-2): a second lookup table with one row per position.
- **RoPE** (Su et al., 2021, arXiv:2104.09864): rotate each pair of query/key coordinates by
  the angle ``p * theta_i`` with ``theta_i = base^(-2i/d)``, i = 0 .. d/2 - 1. A rotation's
  transpose is the reverse rotation, so ``<R_m q, R_n k> = q^T R_m^T R_n k = q^T R_(n-m) k``:
  the score depends on the positions only through the offset n - m. Context-extension variants rescale the ``theta_i``.
- **ALiBi** (Press et al., 2021, arXiv:2108.12409): add ``-slope_h * (i - j)`` to the
  attention score of query i and key j in head h; embeddings are left alone.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

ROPE_SCALING_KINDS = ("linear", "ntk", "dynamic", "yarn", "llama3")
ROPE_LAYOUTS = ("half", "interleaved")


class RopeLengthWarning(UserWarning):
    """RoPE was applied at positions its model never saw in training, with nothing to adapt it."""


def _check_dim(dim: int, what: str = "dim") -> None:
    if not isinstance(dim, int) or dim <= 0 or dim % 2:
        raise ValueError(f"{what} must be a positive even integer (coordinates come in pairs), got {dim!r}")


def sinusoidal_encoding(n_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The 2017 Transformer's fixed position vectors, shape [n_positions, dim].

    ``PE[p, 2i] = sin(p * w_i)``, ``PE[p, 2i+1] = cos(p * w_i)``, ``w_i = base^(-2i/dim)``
    (Vaswani et al., 2017, section 3.5). Nothing is learned, and any position has a vector.
    """
    if n_positions < 0:
        raise ValueError(f"n_positions must be >= 0, got {n_positions}")
    _check_dim(dim)
    positions = torch.arange(n_positions, dtype=torch.float64)[:, None]  # [n, 1]
    frequencies = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # [dim/2]
    angles = positions * frequencies  # [n, dim/2]
    encoding = torch.empty(n_positions, dim, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding.float()


class LearnedPositionalEmbedding(nn.Module):
    """A learned table of ``max_positions`` position vectors (BERT: 512, GPT-2: 1,024).

    Same as ``nn.Embedding(max_positions, dim)``, except that a position past the end of the
    table raises an ``IndexError`` that says which position, what the limit is and what to do,
    instead of torch's bare "index out of range in self".
    """

    def __init__(self, max_positions: int, dim: int) -> None:
        super().__init__()
        if max_positions <= 0 or dim <= 0:
            raise ValueError(f"max_positions and dim must be positive, got {max_positions} and {dim}")
        self.max_positions = max_positions
        self.table = nn.Embedding(max_positions, dim)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """Vectors of the given integer positions, shape ``positions.shape + (dim,)``."""
        if positions.numel():
            largest, smallest = int(positions.max()), int(positions.min())
            if largest >= self.max_positions or smallest < 0:
                bad = largest if largest >= self.max_positions else smallest
                raise IndexError(
                    f"position {bad} has no learned vector: this table holds positions 0 to "
                    f"{self.max_positions - 1} ({self.max_positions} in all). Truncate the input to "
                    f"{self.max_positions} tokens (or split it into windows), or use a model with a "
                    "relative scheme (RoPE, ALiBi) that defines every position."
                )
        return self.table(positions)


@dataclass(frozen=True)
class RopeScaling:
    """How to stretch RoPE past the length it was trained at.

    kind:
        ``"linear"``: position interpolation, theta_i / factor (Chen et al., 2023,
        arXiv:2306.15595). ``"ntk"``: "NTK-aware" base change, base * factor^(d/(d-2)) (bloc97,
        2023; see Peng et al., 2023, arXiv:2309.00071, section 3.1). ``"dynamic"``: the same base
        change with an NTK factor recomputed from the current input length L,
        ``factor * L / L_train - (factor - 1)`` once L > L_train, and no change below
        (:func:`dynamic_ntk_factor`, as in transformers). ``"yarn"``: interpolate the low
        frequencies, keep the high ones, ramp in between, and scale cos/sin by
        0.1 ln(factor) + 1 (Peng et al., 2023). ``"llama3"``: Llama 3.1's piecewise rule
        (arXiv:2407.21783; Meta's reference code).
    factor:
        For every kind but ``"dynamic"``: how many times longer than ``original_max_positions``
        the target context is. For ``"dynamic"`` (as in transformers' ``rope_type="dynamic"``):
        the slope of the effective NTK factor in L / L_train; 1 gives exactly L / L_train, and
        there is no target length (any input length is adapted to).
    original_max_positions:
        The training context length L_train.
    beta_fast, beta_slow:
        YaRN's ramp, in rotations over L_train (defaults 32 and 1 as in the paper).
    low_freq_factor, high_freq_factor:
        Llama 3's band edges (defaults 1 and 4 as in Llama 3.1's configuration).
    """

    kind: str
    factor: float
    original_max_positions: int
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0

    def __post_init__(self) -> None:
        if self.kind not in ROPE_SCALING_KINDS:
            raise ValueError(f"unknown RoPE scaling kind {self.kind!r}; use one of {ROPE_SCALING_KINDS}")
        if not self.factor >= 1.0:
            raise ValueError(f"factor must be >= 1 (the context grows by this much), got {self.factor}")
        if self.original_max_positions <= 0:
            raise ValueError(f"original_max_positions must be positive, got {self.original_max_positions}")

    @property
    def max_positions(self) -> int | None:
        """The context length this scaling is meant for: factor x the training length.

        None for ``"dynamic"``, which adapts to whatever length it is given.
        """
        if self.kind == "dynamic":
            return None
        return int(self.factor * self.original_max_positions)

    @property
    def attention_factor(self) -> float:
        """The multiplier on cos and sin (YaRN's temperature fix); 1 for every other kind."""
        if self.kind == "yarn" and self.factor > 1:
            return 0.1 * math.log(self.factor) + 1.0
        return 1.0


def _plain(theta: torch.Tensor, dim: int, base: float, scaling: RopeScaling, seq_len: int | None) -> torch.Tensor:
    return theta


def _linear(theta: torch.Tensor, dim: int, base: float, scaling: RopeScaling, seq_len: int | None) -> torch.Tensor:
    """Position interpolation: every frequency divided by the factor."""
    return theta / scaling.factor


def _ntk_base(dim: int, base: float, factor: float) -> float:
    """The "NTK-aware" base: ``base * factor^(d/(d-2))``, so the slowest pair is divided by factor."""
    return base * factor ** (dim / (dim - 2))


def _ntk(theta: torch.Tensor, dim: int, base: float, scaling: RopeScaling, seq_len: int | None) -> torch.Tensor:
    """NTK-aware: a larger base; pair 0 keeps its speed, the slowest pair is divided by factor."""
    if dim == 2:  # d/(d-2) is undefined: a single pair can only be interpolated
        return theta / scaling.factor
    exponents = torch.arange(0, dim, 2, dtype=torch.float64) / dim  # 2i/d
    return _ntk_base(dim, base, scaling.factor) ** -exponents


def dynamic_ntk_factor(scaling: RopeScaling, seq_len: int) -> float:
    """The NTK factor dynamic scaling uses for an input of ``seq_len`` positions.

    As in transformers' ``_compute_dynamic_ntk_parameters``: 1 (no change) up to the training
    length L_train, then ``factor * L / L_train - (factor - 1)``. So ``factor`` is how fast the
    effective factor grows with the length, not a target length: with factor 1 it is
    L / L_train (just enough for the current input); with factor 16 at 16 x L_train it is 241.
    """
    length = max(seq_len, scaling.original_max_positions)
    return scaling.factor * length / scaling.original_max_positions - (scaling.factor - 1)


def _dynamic(theta: torch.Tensor, dim: int, base: float, scaling: RopeScaling, seq_len: int | None) -> torch.Tensor:
    """Dynamic NTK: the NTK base change with a factor that grows with the input length."""
    if seq_len is None:
        raise ValueError("dynamic scaling depends on the input length: pass seq_len")
    factor = dynamic_ntk_factor(scaling, seq_len)
    if dim == 2:
        return theta / factor
    exponents = torch.arange(0, dim, 2, dtype=torch.float64) / dim
    return _ntk_base(dim, base, factor) ** -exponents


def yarn_ramp(dim: int, base: float, scaling: RopeScaling) -> torch.Tensor:
    """YaRN's blend per pair, shape [dim/2]: 0 keeps theta_i, 1 divides it by the factor.

    Pairs that turn more than ``beta_fast`` times over the training length keep their speed,
    pairs that turn less than ``beta_slow`` times are interpolated, a linear ramp in between
    (Peng et al., 2023, section 3.2; transformers' ``find_correction_range``).
    """
    trained = scaling.original_max_positions

    def pair_at(rotations: float) -> float:  # the (fractional) pair making that many turns
        return dim * math.log(trained / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(pair_at(scaling.beta_fast)), 0)
    # Clamped at dim - 1, as transformers does, although pairs only run to dim/2 - 1: the
    # ramp below is clamped to [0, 1] anyway, and the looser bound keeps its slope (and so
    # every frequency) identical to the reference implementation's.
    high = min(math.ceil(pair_at(scaling.beta_slow)), dim - 1)
    if low == high:
        high += 0.001  # avoid a zero-width ramp (as in the reference)
    return ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)


def _yarn(theta: torch.Tensor, dim: int, base: float, scaling: RopeScaling, seq_len: int | None) -> torch.Tensor:
    """YaRN: keep fast pairs, interpolate slow ones, blend along :func:`yarn_ramp`."""
    ramp = yarn_ramp(dim, base, scaling)
    return theta * (1 - ramp) + theta / scaling.factor * ramp


def _llama3(theta: torch.Tensor, dim: int, base: float, scaling: RopeScaling, seq_len: int | None) -> torch.Tensor:
    """Llama 3.1: keep wavelengths < L/high, divide those > L/low by factor, blend in between."""
    trained, factor = scaling.original_max_positions, scaling.factor
    low_freq, high_freq = scaling.low_freq_factor, scaling.high_freq_factor
    wavelength = 2 * math.pi / theta
    smooth = (trained / wavelength - low_freq) / (high_freq - low_freq)
    blended = (1 - smooth) * theta / factor + smooth * theta
    scaled = torch.where(wavelength > trained / low_freq, theta / factor, theta)
    medium = (wavelength >= trained / high_freq) & (wavelength <= trained / low_freq)
    return torch.where(medium, blended, scaled)


_SCALINGS = {"linear": _linear, "ntk": _ntk, "dynamic": _dynamic, "yarn": _yarn, "llama3": _llama3}
assert tuple(_SCALINGS) == ROPE_SCALING_KINDS


def rope_frequencies(
    dim: int,
    base: float = 10000.0,
    scaling: RopeScaling | None = None,
    seq_len: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """RoPE's angular frequencies theta_i = base^(-2i/dim), i = 0 .. dim/2 - 1, shape [dim/2].

    Pair i turns by ``p * theta_i`` radians at position p, so its wavelength is
    ``2 pi / theta_i`` tokens. ``scaling`` rescales the frequencies for longer contexts (see
    :class:`RopeScaling`); ``seq_len`` is the current input length, used only by
    ``"dynamic"``. Computed in float64 and returned in ``dtype`` (float32 by default, as
    transformers does; pass torch.float64 to keep the full precision).
    """
    _check_dim(dim)
    if base <= 1:
        raise ValueError(f"base must be > 1, got {base}")
    if seq_len is None and scaling is not None and scaling.kind == "dynamic":
        seq_len = scaling.original_max_positions  # no input yet: no change
    exponents = torch.arange(0, dim, 2, dtype=torch.float64) / dim  # 2i/d, [dim/2]
    theta = base**-exponents  # [dim/2]
    rule = _plain if scaling is None else _SCALINGS[scaling.kind]
    return rule(theta, dim, base, scaling, seq_len).to(dtype)


def _rotate(x: torch.Tensor, layout: str) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) for every pair, in the given layout."""
    if layout == "half":
        first, second = x.chunk(2, dim=-1)  # pairs are (i, i + d/2)
        return torch.cat((-second, first), dim=-1)
    even, odd = x[..., 0::2], x[..., 1::2]  # pairs are (2i, 2i + 1)
    return torch.stack((-odd, even), dim=-1).flatten(-2)


def apply_rope(
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    base: float = 10000.0,
    scaling: RopeScaling | None = None,
    *,
    layout: str = "half",
    trained_length: int | None = None,
) -> torch.Tensor:
    """Rotate the pairs of coordinates of ``x`` [..., seq, dim] by ``position * theta_i``.

    For each pair (x1, x2) and position p: ``(x1 cos a - x2 sin a, x1 sin a + x2 cos a)`` with
    ``a = p * theta_i`` (Su et al., 2021, eq. 34). ``layout="half"`` pairs coordinate i with
    i + dim/2 (GPT-NeoX, Hugging Face's LLaMA); ``"interleaved"`` pairs 2i with 2i+1 (the paper,
    Meta's LLaMA code). ``positions`` (shape [seq]) defaults to 0 .. seq-1.

    ``trained_length``: if given and a position reaches it while ``scaling`` is None, warn with
    :class:`RopeLengthWarning`: the model is being run on relative distances it never saw in
    training, and nothing else will tell you (there is no table to overflow).
    """
    if x.ndim < 2:
        raise ValueError(f"x must have shape [..., seq, dim], got {tuple(x.shape)}")
    dim, seq = x.shape[-1], x.shape[-2]
    _check_dim(dim, "the last dimension of x")
    if layout not in ROPE_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; use one of {ROPE_LAYOUTS}")
    if positions is None:
        positions = torch.arange(seq, device=x.device)
    if positions.shape[-1] != seq:
        raise ValueError(f"positions has {positions.shape[-1]} entries for a sequence of {seq}")
    longest = int(positions.max()) + 1 if positions.numel() else 0
    if trained_length is not None:
        limit = trained_length if scaling is None else scaling.max_positions
        if limit is not None and longest > limit:
            fix = (
                "pass a RopeScaling (e.g. 'yarn' or 'dynamic') and ideally fine-tune at the new length"
                if scaling is None
                else "raise the scaling factor"
            )
            warnings.warn(
                f"RoPE applied at position {longest - 1}, but the model was trained on {trained_length} "
                f"positions{'' if scaling is None else f' and scaled to {limit}'}: attention will see relative "
                f"distances it never learned and quality drops without any error; {fix}, or stay within "
                f"{limit} tokens.",
                RopeLengthWarning,
                stacklevel=2,
            )
    precision = torch.float64 if x.dtype == torch.float64 else torch.float32
    theta = rope_frequencies(dim, base, scaling, seq_len=longest, dtype=precision).to(x.device)  # [dim/2]
    angles = positions.to(precision)[..., None] * theta  # [..., seq, dim/2]
    if layout == "half":
        angles = torch.cat((angles, angles), dim=-1)  # [..., seq, dim]
    else:
        angles = angles.repeat_interleave(2, dim=-1)  # [..., seq, dim]
    gain = scaling.attention_factor if scaling is not None else 1.0
    cos, sin = (angles.cos() * gain).to(x.dtype), (angles.sin() * gain).to(x.dtype)
    return x * cos + _rotate(x, layout) * sin


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi's per-head slopes, shape [n_heads].

    For n a power of two: the geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8). Otherwise
    (Press et al., 2021, and their reference code): the slopes of the nearest smaller power of
    two m, followed by every other slope of 2m (the odd-numbered ones) until there are n.
    """
    if not isinstance(n_heads, int) or n_heads <= 0:
        raise ValueError(f"n_heads must be a positive integer, got {n_heads!r}")

    def powers_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (h + 1) for h in range(n)]

    m = 2 ** math.floor(math.log2(n_heads))
    slopes = powers_of_two(m) + powers_of_two(2 * m)[0::2][: n_heads - m]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(n_heads: int, seq_len: int, causal: bool = True) -> torch.Tensor:
    """ALiBi's additive attention bias, shape [n_heads, seq_len, seq_len].

    ``bias[h, i, j] = -slope_h * |i - j|``. With ``causal=True`` the future (j > i) is set to
    ``-inf``, so the tensor is also the causal mask. (Many implementations, BLOOM's among them,
    add ``slope_h * j`` instead; softmax over each row ignores a per-row constant, so the
    attention weights are the same.)
    """
    if seq_len < 0:
        raise ValueError(f"seq_len must be >= 0, got {seq_len}")
    index = torch.arange(seq_len)
    distance = (index[:, None] - index[None, :]).abs().float()  # [seq, seq]
    bias = -alibi_slopes(n_heads)[:, None, None] * distance  # [heads, seq, seq]
    if causal:
        future = index[None, :] > index[:, None]  # [seq, seq]
        bias = bias.masked_fill(future, float("-inf"))
    return bias


def wavelengths(dim: int, base: float = 10000.0, scaling: RopeScaling | None = None) -> torch.Tensor:
    """Tokens per full turn of each RoPE pair, 2 pi / theta_i, shape [dim/2]."""
    return 2 * math.pi / rope_frequencies(dim, base, scaling, dtype=torch.float64)


# ---------------------------------------------------------------- real decoders (transformers)


@torch.no_grad()
def causal_lm_losses(model: nn.Module, ids: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """Next-token loss (nats) at every position of one sequence, shape [seq - 1].

    ``model`` is a Hugging Face causal LM (``LlamaForCausalLM`` and relatives); ``ids`` is
    [seq]. Entry t is ``-log p(ids[t + 1] | ids[0 .. t])``. The vocabulary projection runs
    ``chunk`` positions at a time, so 16k positions of a 49k vocabulary never hold the full
    [seq, vocab] logits (3 GB in float32) at once.
    """
    if ids.ndim != 1 or ids.numel() < 2:
        raise ValueError(f"ids must be one sequence [seq] of at least 2 ids, got shape {tuple(ids.shape)}")
    hidden = model.base_model(input_ids=ids[None], use_cache=False).last_hidden_state[0]  # [seq, d]
    head = model.get_output_embeddings()
    losses = []
    for start in range(0, ids.numel() - 1, chunk):
        stop = min(start + chunk, ids.numel() - 1)
        logits = head(hidden[start:stop]).float()  # [chunk, vocab]
        losses.append(torch.nn.functional.cross_entropy(logits, ids[start + 1 : stop + 1], reduction="none"))
    return torch.cat(losses)


@torch.no_grad()
def rotated_scores(model: nn.Module, ids: torch.Tensor, positions: torch.Tensor, layer: int) -> torch.Tensor:
    """The query-key scores of one layer of a transformers LLaMA, as the model computes them.

    Runs ``model`` on ``ids`` [seq] at ``positions`` [seq] (its ``position_ids``) and
    captures the rotated queries and keys that the model's own ``apply_rotary_pos_emb``
    returns in layer ``layer``. Returns ``q_m . k_n / sqrt(head_dim)`` for every head and
    every pair of tokens, shape [heads, seq, seq] (no mask, no softmax). Grouped-query
    attention is handled by repeating each key head for the query heads that share it.
    """
    from transformers.models.llama import modeling_llama

    original = modeling_llama.apply_rotary_pos_emb
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []

    def recording(q: torch.Tensor, k: torch.Tensor, *args, **kwargs):
        out = original(q, k, *args, **kwargs)
        captured.append(out)
        return out

    modeling_llama.apply_rotary_pos_emb = recording
    try:
        model(input_ids=ids[None], position_ids=positions[None], use_cache=False)
    finally:
        modeling_llama.apply_rotary_pos_emb = original
    n_layers = model.config.num_hidden_layers
    if len(captured) != n_layers:
        raise RuntimeError(f"expected one RoPE call per layer ({n_layers}), saw {len(captured)}: not a LLaMA?")
    q, k = captured[layer]  # [1, heads, seq, hd], [1, kv_heads, seq, hd]
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # [1, heads, seq, hd]
    return (q @ k.transpose(-2, -1))[0] / math.sqrt(q.shape[-1])  # [heads, seq, seq]


@torch.no_grad()
def rope_offset_check(model: nn.Module, ids: torch.Tensor, layer: int, shift: int) -> dict[str, float | int | bool]:
    """Does a transformers LLaMA see positions only through offsets? Measured, with a control.

    Runs ``ids`` [seq] at positions 0 .. seq-1, at the same positions plus ``shift``, and (the
    control, which changes every offset) at doubled positions 0, 2, 4, .... Returns the
    largest change of layer ``layer``'s causal query-key scores (:func:`rotated_scores`)
    under the shift and under doubling, the largest score, the largest change of the
    model's logits under the shift, and whether the top token stays the same everywhere.
    """
    seq = ids.numel()
    plain = torch.arange(seq)
    base = rotated_scores(model, ids, plain, layer)  # [heads, seq, seq]
    shifted = rotated_scores(model, ids, plain + shift, layer)
    doubled = rotated_scores(model, ids, 2 * plain, layer)
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()  # the scores attention uses
    logits = model(input_ids=ids[None], position_ids=plain[None], use_cache=False).logits[0]
    logits_shifted = model(input_ids=ids[None], position_ids=(plain + shift)[None], use_cache=False).logits[0]
    return {
        "tokens": seq, "layer": layer, "shift": shift,
        "score_scale": base[:, causal].abs().max().item(),
        "shift_gap": (shifted - base)[:, causal].abs().max().item(),
        "doubled_gap": (doubled - base)[:, causal].abs().max().item(),
        "logit_scale": logits.abs().max().item(),
        "logit_shift_gap": (logits_shifted - logits).abs().max().item(),
        "same_top_token": bool((logits.argmax(-1) == logits_shifted.argmax(-1)).all()),
    }
