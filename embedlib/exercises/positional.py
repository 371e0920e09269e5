"""Checkers for the positional chapter: sinusoidal encoding, RoPE on one pair, ALiBi slopes.

Each checker compares the learner's answer with :mod:`embedlib.positional` and, when it is
wrong, tests it against the classic slips to name the one that was made: sine and cosine
swapped, a flipped sign, the exponent off by one, ``10000^(-i/d)`` without the 2, positions
counted from 1, degrees instead of radians, a hard-coded head count. The cases are chosen so
that each slip gives a different answer from the right one (positions past 0, pairs past 0,
head counts other than 8).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..positional import alibi_slopes, apply_rope, sinusoidal_encoding
from .core import LearnerError, checker, compare_or_diagnose, run_learner

_DEGREES = (
    "The angle is in radians: torch.sin and math.sin take radians, and p * w_i already is "
    "one (do not convert it with radians() or pi / 180)."
)
_TO_DEGREES = "The angle is in radians already: do not convert it to degrees (180 / pi)."


def _complex_hint(value: Any) -> None:
    """Raise a clear hint if ``value`` is a complex number or holds complex entries."""
    is_complex = isinstance(value, complex) or (
        isinstance(value, torch.Tensor) and value.is_complex()
    ) or (isinstance(value, np.ndarray | np.generic) and np.iscomplexobj(value))
    if not is_complex and isinstance(value, list | tuple):
        is_complex = any(isinstance(v, complex) for v in value)
    if is_complex:
        raise LearnerError(
            "you returned a complex number. Multiplying x1 + i x2 by e^(i m theta) is exactly "
            "the rotation, well done; now return its real and imaginary parts as two numbers: "
            "torch.stack([z.real, z.imag])."
        )


# ---------------------------------------------------------------- 1. sinusoidal encoding


def _sinusoidal_variant(
    n: int, dim: int, *, exponent=lambda pair, dim: 2 * pair / dim, first_position: int = 0,
    angle_unit: float = 1.0, swap: bool = False, sign: float = 1.0, halves: bool = False,
) -> torch.Tensor:
    """The encoding with one slip: ``exponent(i, d)`` of 10000, positions from ``first_position``,
    angles multiplied by ``angle_unit``, sin/cos swapped, sign flipped, or halves layout."""
    pair = torch.arange(dim // 2, dtype=torch.float64)  # i = 0 .. d/2 - 1
    positions = torch.arange(n, dtype=torch.float64)[:, None] + first_position  # [n, 1]
    angles = positions * 10000.0 ** (-exponent(pair, dim)) * angle_unit  # [n, d/2]
    sin, cos = sign * torch.sin(angles), torch.cos(angles)
    first, second = (cos, sin) if swap else (sin, cos)
    if halves:
        return torch.cat((first, second), dim=1)
    return torch.stack((first, second), dim=-1).flatten(1)


_SINUSOIDAL_CASES = ((6, 4), (50, 16), (3, 2), (20, 10))


@checker("sinusoidal encoding")
def check_sinusoidal(sinusoidal) -> str:
    for n, dim in _SINUSOIDAL_CASES:
        got = run_learner(sinusoidal, n, dim)
        _complex_hint(got)

        def variant(**slip):
            return lambda: _sinusoidal_variant(n, dim, **slip)

        compare_or_diagnose(got, sinusoidal_encoding(n, dim), name=f"sinusoidal({n}, {dim})", mistakes=[
            (variant(swap=True),
             "Sine and cosine are swapped: even columns (0, 2, ...) hold sin, odd columns cos."),
            (variant(sign=-1.0),
             "The sine columns have the wrong sign: use sin(+p * w_i); the angle grows with p."),
            (variant(exponent=lambda i, d: i / d),
             "The 2 is missing from the exponent: w_i = 10000^(-2i/d) with i the pair index "
             "(or 10000^(-j/d) with j = 2i the even column index), not 10000^(-i/d)."),
            (variant(exponent=lambda i, d: 4 * i / d),
             "The 2 is counted twice: with torch.arange(0, dim, 2) the values are already 2i, "
             "so the exponent is -arange(0, dim, 2) / dim."),
            (variant(exponent=lambda i, d: 2 * (i + 1) / d),
             "The exponent is off by one: with i counted from 0 the first pair has w_0 = 1."),
            (variant(exponent=lambda i, d: 2 * (i - 1) / d),
             "The exponent is off by one: pair i has 10000^(-2i/d), i = 0, 1, ..., d/2 - 1."),
            (variant(first_position=1),
             "Positions are counted from 1: the first token is position p = 0, whose row is "
             "(0, 1, 0, 1, ...)."),
            (variant(angle_unit=math.pi / 180), _DEGREES),
            (variant(angle_unit=180 / math.pi), _TO_DEGREES),
            (variant(halves=True),
             "You put all sines first, then all cosines; the 2017 layout interleaves them "
             "(sin, cos, sin, cos, ...)."),
        ])
    return "Your encoding matches embedlib.positional.sinusoidal_encoding for four sizes."


# ---------------------------------------------------------------- 2. RoPE on one pair


def _pair_variant(
    x: torch.Tensor, m: int, i: int, d: int, *, exponent=lambda i, d: 2 * i / d, position_shift: int = 0,
    angle_unit: float = 1.0, swap: bool = False, sign: float = 1.0,
) -> torch.Tensor:
    """The rotation of one pair with one slip (see :func:`_sinusoidal_variant`)."""
    angle = sign * (m + position_shift) * 10000.0 ** (-exponent(i, d)) * angle_unit
    c, s = (math.sin(angle), math.cos(angle)) if swap else (math.cos(angle), math.sin(angle))
    x1, x2 = float(x[0]), float(x[1])
    return torch.tensor([x1 * c - x2 * s, x1 * s + x2 * c], dtype=torch.float64)


def _rope_reference(x: torch.Tensor, m: int, i: int, d: int) -> torch.Tensor:
    """Pair i of a d-dim vector that is zero elsewhere, rotated by embedlib's RoPE at position m."""
    vector = torch.zeros(1, d, dtype=torch.float64)  # [1, d]
    vector[0, 2 * i : 2 * i + 2] = x
    return apply_rope(vector, torch.tensor([m]), layout="interleaved")[0, 2 * i : 2 * i + 2]


# pairs past 0 and positions past 1, so that each slip changes the answer
_PAIR_CASES = ((torch.tensor([0.5, -2.0]), 3, 1, 8), (torch.tensor([1.0, 0.0]), 1, 0, 8),
               (torch.tensor([1.5, 0.7]), 10, 2, 16), (torch.tensor([-0.3, 1.1]), 7, 3, 64))


@checker("RoPE on one pair")
def check_rope_pair(rope_pair) -> str:
    for x, m, i, d in _PAIR_CASES:
        got = run_learner(rope_pair, x.clone(), m, i, d)
        _complex_hint(got)
        expected = _rope_reference(x, m, i, d)

        def variant(**slip):
            return lambda: _pair_variant(x, m, i, d, **slip)

        compare_or_diagnose(got, expected, name=f"rope_pair({x.tolist()}, m={m}, i={i}, d={d})", mistakes=[
            (variant(sign=-1.0),
             "You rotated by -m*theta (clockwise): the first output is x1 cos - x2 sin, the "
             "second x1 sin + x2 cos."),
            (variant(swap=True),
             "cos and sin are swapped: a zero angle must give the pair back unchanged."),
            (variant(exponent=lambda i, d: i / d),
             "The 2 is missing from the exponent: theta_i = 10000^(-2i/d), not 10000^(-i/d)."),
            (variant(exponent=lambda i, d: 2 * (i + 1) / d),
             "The exponent is off by one: with i counted from 0, theta_i = 10000^(-2i/d), so "
             "theta_0 = 1."),
            (variant(exponent=lambda i, d: 2 * (i - 1) / d),
             "The exponent is off by one: the seed's 10000^(-2(i-1)/d) counts i from 1; here i "
             "starts at 0."),
            (variant(position_shift=1),
             "Positions are counted from 1: position m turns the pair by m * theta_i, so the "
             "first token (m = 0) is not rotated at all."),
            (variant(position_shift=-1),
             "The angle uses m - 1: position m turns the pair by m * theta_i."),
            (variant(angle_unit=math.pi / 180), _DEGREES.replace("p * w_i", "m * theta_i")),
            (variant(angle_unit=180 / math.pi), _TO_DEGREES),
        ])
    return "Your rotation matches embedlib.positional.apply_rope on four pairs."


# ---------------------------------------------------------------- 3. ALiBi slopes


_ALIBI_CASES = (8, 4, 16)


@checker("ALiBi slopes")
def check_alibi_slopes(slopes) -> str:
    for n in _ALIBI_CASES:
        got = run_learner(slopes, n)
        _complex_hint(got)
        expected = alibi_slopes(n)
        length = np.size(got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got))
        if length != n and length in _ALIBI_CASES:
            raise LearnerError(
                f"slopes({n}) returned {length} slopes: is the head count hard-coded? Use the "
                "argument n_heads, one slope per head."
            )
        start = 2.0 ** (-8.0 / n)
        compare_or_diagnose(got, expected, name=f"slopes({n})", mistakes=[
            (lambda: -expected, "Slopes are positive; the minus sign belongs to the bias, -slope * distance."),
            (lambda: torch.tensor([2.0**-h for h in range(1, n + 1)]),
             f"The head count is hard-coded to 8: 2^(-h) is 2^(-8h/n) for n = 8 only; divide "
             f"by n_heads (here n = {n})."),
            (lambda: torch.tensor([start**h for h in range(n)]),
             f"The exponent is off by one: the first head's slope is 2^(-8/n) (= {start:.4g} for "
             f"n = {n}), not 1."),
            (lambda: torch.tensor([start ** (h + 2) for h in range(n)]),
             f"The exponent is off by one: head h = 1 .. n has slope 2^(-8h/n); the first is "
             f"{start:.4g}."),
            (lambda: expected.flip(0), "The order is reversed: the first head has the largest slope, 2^(-8/n)."),
            (lambda: torch.tensor([2.0 ** (-8.0 * h) for h in range(1, n + 1)]),
             "Divide the exponent by the number of heads: 2^(-8h/n), so the last head's slope "
             "is 2^-8."),
        ])
    return "Your slopes match embedlib.positional.alibi_slopes for 4, 8 and 16 heads."
