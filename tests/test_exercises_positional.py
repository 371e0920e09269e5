"""The positional chapter's checkers accept the reference answers and name the usual mistakes."""

from __future__ import annotations

import math

import pytest
import torch

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.positional import check_alibi_slopes, check_rope_pair, check_sinusoidal

# ---------------------------------------------------------------- sinusoidal


def sinusoidal_with(shift=0, swap=False, sign=1.0, halves=False):
    def sinusoidal(n, dim):
        out = torch.zeros(n, dim)
        for p in range(n):
            for i in range(dim // 2):
                angle = sign * p / 10000 ** (2 * (i + shift) / dim)
                a, b = (math.cos(angle), math.sin(angle)) if swap else (math.sin(angle), math.cos(angle))
                if halves:
                    out[p, i], out[p, dim // 2 + i] = a, b
                else:
                    out[p, 2 * i], out[p, 2 * i + 1] = a, b
        return out

    return sinusoidal


def test_sinusoidal_reference_is_accepted():
    verdict = check_sinusoidal(sinusoidal_with())
    assert verdict.status == CORRECT, verdict


@pytest.mark.parametrize("mistake, hint", [
    (dict(swap=True), "Sine and cosine are swapped"),
    (dict(sign=-1.0), "wrong sign"),
    (dict(shift=1), "exponent is off by one"),
    (dict(shift=-1), "exponent is off by one"),
    (dict(halves=True), "interleaves them"),
])
def test_sinusoidal_mistakes_get_their_hint(mistake, hint):
    verdict = check_sinusoidal(sinusoidal_with(**mistake))
    assert verdict.status == INCORRECT and hint in verdict.message, verdict


def test_sinusoidal_stub_and_unknown_errors():
    def stub(n, dim):
        raise NotImplementedError

    assert check_sinusoidal(stub).status == NOT_ATTEMPTED
    verdict = check_sinusoidal(lambda n, dim: torch.ones(n, dim))
    assert verdict.status == INCORRECT and "is wrong at index" in verdict.message
    assert "shape (6, 2)" in check_sinusoidal(lambda n, dim: torch.zeros(n, 2)).message


# ---------------------------------------------------------------- RoPE on one pair


def rope_pair_with(shift=0, swap=False, sign=1.0):
    def rope_pair(x, m, i, d):
        angle = sign * m * 10000 ** (-2 * (i + shift) / d)
        c, s = (math.sin(angle), math.cos(angle)) if swap else (math.cos(angle), math.sin(angle))
        return torch.stack([x[0] * c - x[1] * s, x[0] * s + x[1] * c])

    return rope_pair


def test_rope_pair_reference_is_accepted():
    verdict = check_rope_pair(rope_pair_with())
    assert verdict.status == CORRECT, verdict


@pytest.mark.parametrize("mistake, hint", [
    (dict(sign=-1.0), "rotated by -m*theta"),
    (dict(swap=True), "cos and sin are swapped"),
    (dict(shift=1), "exponent is off by one"),
    (dict(shift=-1), "counts i from 1"),
])
def test_rope_pair_mistakes_get_their_hint(mistake, hint):
    verdict = check_rope_pair(rope_pair_with(**mistake))
    assert verdict.status == INCORRECT and hint in verdict.message, verdict


def test_rope_pair_missing_return_is_reported():
    verdict = check_rope_pair(lambda x, m, i, d: None)
    assert verdict.status == INCORRECT and "forget `return`" in verdict.message


# ---------------------------------------------------------------- ALiBi slopes


def test_alibi_reference_is_accepted():
    verdict = check_alibi_slopes(lambda n: [2 ** (-8 * h / n) for h in range(1, n + 1)])
    assert verdict.status == CORRECT, verdict


@pytest.mark.parametrize("answer, hint", [
    (lambda n: [-(2 ** (-8 * h / n)) for h in range(1, n + 1)], "Slopes are positive"),
    (lambda n: [2 ** (-8 * h / n) for h in range(n)], "first head's slope is 2^(-8/n)"),
    (lambda n: [2 ** (-8 * h / n) for h in range(2, n + 2)], "exponent is off by one"),
    (lambda n: [2 ** (-8 * h / n) for h in range(n, 0, -1)], "order is reversed"),
    (lambda n: [2 ** (-8 * h) for h in range(1, n + 1)], "Divide the exponent by the number of heads"),
])
def test_alibi_mistakes_get_their_hint(answer, hint):
    verdict = check_alibi_slopes(answer)
    assert verdict.status == INCORRECT and hint in verdict.message, verdict
