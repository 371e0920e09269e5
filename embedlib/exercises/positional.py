"""Checkers for the positional chapter: sinusoidal encoding, RoPE on one pair, ALiBi slopes.

Each checker compares the learner's answer with :mod:`embedlib.positional` and, when it is
wrong, tests it against the usual mistakes (a flipped sign, sine and cosine swapped, an
exponent off by one) to name the one that was made.
"""

from __future__ import annotations

import math

import torch

from ..positional import alibi_slopes, apply_rope, sinusoidal_encoding
from .core import checker, compare_or_diagnose, run_learner


# ---------------------------------------------------------------- 1. sinusoidal encoding


def _sinusoidal_variant(n: int, dim: int, *, shift: int = 0, swap: bool = False, sign: float = 1.0,
                        halves: bool = False) -> torch.Tensor:
    pair = torch.arange(dim // 2, dtype=torch.float64) + shift  # pair index i (shifted for a mistake)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * 10000.0 ** (-2 * pair / dim)  # [n, dim/2]
    first, second = (torch.cos(angles), sign * torch.sin(angles)) if swap else (sign * torch.sin(angles), torch.cos(angles))
    if halves:
        return torch.cat((first, second), dim=1)
    return torch.stack((first, second), dim=-1).flatten(1)


_SINUSOIDAL_CASES = ((6, 4), (50, 16), (3, 2), (20, 10))


@checker("sinusoidal encoding")
def check_sinusoidal(sinusoidal) -> str:
    for n, dim in _SINUSOIDAL_CASES:
        got = run_learner(sinusoidal, n, dim)
        compare_or_diagnose(got, sinusoidal_encoding(n, dim), name=f"sinusoidal({n}, {dim})", mistakes=[
            (lambda: _sinusoidal_variant(n, dim, swap=True),
             "Sine and cosine are swapped: even columns (0, 2, ...) hold sin, odd columns hold cos."),
            (lambda: _sinusoidal_variant(n, dim, sign=-1.0),
             "The sine columns have the wrong sign: use sin(+p * w_i), the angle grows with the position."),
            (lambda: _sinusoidal_variant(n, dim, shift=1),
             "The exponent is off by one: with i counted from 0, the first pair has w_0 = 1 (exponent 2i/d = 0)."),
            (lambda: _sinusoidal_variant(n, dim, shift=-1),
             "The exponent is off by one: the frequency of pair i is 10000^(-2i/d) with i = 0, 1, ..., d/2 - 1."),
            (lambda: _sinusoidal_variant(n, dim, halves=True),
             "You put all sines first, then all cosines; the 2017 layout interleaves them (sin, cos, sin, cos, ...)."),
        ])
    return "Your encoding matches embedlib.positional.sinusoidal_encoding for four sizes."


# ---------------------------------------------------------------- 2. RoPE on one pair


def _pair_variant(x: torch.Tensor, m: int, i: int, d: int, *, shift: int = 0, swap: bool = False, sign: float = 1.0) -> torch.Tensor:
    angle = sign * m * 10000.0 ** (-2 * (i + shift) / d)
    c, s = (math.sin(angle), math.cos(angle)) if swap else (math.cos(angle), math.sin(angle))
    x1, x2 = float(x[0]), float(x[1])
    return torch.tensor([x1 * c - x2 * s, x1 * s + x2 * c], dtype=torch.float64)


def _rope_reference(x: torch.Tensor, m: int, i: int, d: int) -> torch.Tensor:
    """Pair i of a d-dim vector that is zero elsewhere, rotated by embedlib's RoPE at position m."""
    vector = torch.zeros(1, d, dtype=torch.float64)  # [1, d]
    vector[0, 2 * i : 2 * i + 2] = x
    return apply_rope(vector, torch.tensor([m]), layout="interleaved")[0, 2 * i : 2 * i + 2]


_PAIR_CASES = ((torch.tensor([1.0, 0.0]), 1, 0, 8), (torch.tensor([0.5, -2.0]), 3, 1, 8),
               (torch.tensor([1.5, 0.7]), 10, 2, 16), (torch.tensor([-0.3, 1.1]), 7, 3, 64))


@checker("RoPE on one pair")
def check_rope_pair(rope_pair) -> str:
    for x, m, i, d in _PAIR_CASES:
        got = run_learner(rope_pair, x.clone(), m, i, d)
        expected = _rope_reference(x, m, i, d)
        compare_or_diagnose(got, expected, name=f"rope_pair({x.tolist()}, m={m}, i={i}, d={d})", mistakes=[
            (lambda: _pair_variant(x, m, i, d, sign=-1.0),
             "You rotated by -m*theta (clockwise): the first output is x1 cos - x2 sin, the second x1 sin + x2 cos."),
            (lambda: _pair_variant(x, m, i, d, swap=True),
             "cos and sin are swapped: a zero angle must give the pair back unchanged (cos 0 = 1, sin 0 = 0)."),
            (lambda: _pair_variant(x, m, i, d, shift=1),
             "The exponent is off by one: with i counted from 0, theta_i = 10000^(-2i/d), so theta_0 = 1."),
            (lambda: _pair_variant(x, m, i, d, shift=-1),
             "The exponent is off by one: the seed's 10000^(-2(i-1)/d) counts i from 1; here i starts at 0."),
        ])
    return "Your rotation matches embedlib.positional.apply_rope on four pairs."


# ---------------------------------------------------------------- 3. ALiBi slopes


@checker("ALiBi slopes")
def check_alibi_slopes(slopes) -> str:
    for n in (8, 4, 16):
        got = run_learner(slopes, n)
        expected = alibi_slopes(n)
        start = 2.0 ** (-8.0 / n)
        compare_or_diagnose(got, expected, name=f"slopes({n})", mistakes=[
            (lambda: -expected, "Slopes are positive; the minus sign belongs to the bias, -slope * distance."),
            (lambda: torch.tensor([start**h for h in range(n)]),
             f"The exponent is off by one: the first head's slope is 2^(-8/n) (= {start:g} for n = {n}), not 1."),
            (lambda: torch.tensor([start ** (h + 2) for h in range(n)]),
             f"The exponent is off by one: head h = 1 .. n has slope 2^(-8h/n); the first is {start:g}."),
            (lambda: expected.flip(0), "The order is reversed: the first head has the largest slope, 2^(-8/n)."),
            (lambda: torch.tensor([2.0 ** (-8.0 * h) for h in range(1, n + 1)]),
             "Divide the exponent by the number of heads: 2^(-8h/n), so the last head's slope is 2^-8."),
        ])
    return "Your slopes match embedlib.positional.alibi_slopes for 4, 8 and 16 heads."
