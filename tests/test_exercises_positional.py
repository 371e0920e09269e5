"""The positional chapter's checkers: a catalogue of correct answers in several forms and of
realistic wrong answers, each with the hint it must get."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.positional import check_alibi_slopes, check_rope_pair, check_sinusoidal


def assert_correct(verdict):
    assert verdict.status == CORRECT, verdict


def assert_hint(verdict, hint):
    assert verdict.status == INCORRECT and hint in verdict.message, verdict


# ---------------------------------------------------------------- sinusoidal


def sinusoidal_with(exponent=lambda i, d: 2 * i / d, first=0, unit=1.0, swap=False, sign=1.0, halves=False):
    """A loop-by-loop learner answer with one slip."""

    def sinusoidal(n, dim):
        out = torch.zeros(n, dim)
        for p in range(n):
            for i in range(dim // 2):
                angle = sign * (p + first) / 10000 ** exponent(i, dim) * unit
                a, b = (math.cos(angle), math.sin(angle)) if swap else (math.sin(angle), math.cos(angle))
                if halves:
                    out[p, i], out[p, dim // 2 + i] = a, b
                else:
                    out[p, 2 * i], out[p, 2 * i + 1] = a, b
        return out

    return sinusoidal


def sinusoidal_numpy(n, dim):
    p = np.arange(n)[:, None]
    omega = 10000.0 ** (-np.arange(0, dim, 2) / dim)
    out = np.zeros((n, dim))
    out[:, 0::2], out[:, 1::2] = np.sin(p * omega), np.cos(p * omega)
    return out


def sinusoidal_lists(n, dim):
    return [[(math.sin if j % 2 == 0 else math.cos)(p / 10000 ** ((j - j % 2) / dim)) for j in range(dim)]
            for p in range(n)]


def sinusoidal_torch32(n, dim):
    angles = torch.arange(n)[:, None] * torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2) / dim)
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(1)  # float32


@pytest.mark.parametrize("answer", [sinusoidal_with(), sinusoidal_numpy, sinusoidal_lists, sinusoidal_torch32])
def test_sinusoidal_correct_forms_are_accepted(answer):
    assert_correct(check_sinusoidal(answer))


@pytest.mark.parametrize("mistake, hint", [
    (dict(swap=True), "Sine and cosine are swapped"),
    (dict(sign=-1.0), "wrong sign"),
    (dict(exponent=lambda i, d: i / d), "The 2 is missing from the exponent"),
    (dict(exponent=lambda i, d: 4 * i / d), "The 2 is counted twice"),
    (dict(exponent=lambda i, d: 2 * (i + 1) / d), "exponent is off by one"),
    (dict(exponent=lambda i, d: 2 * (i - 1) / d), "exponent is off by one"),
    (dict(first=1), "Positions are counted from 1"),
    (dict(unit=math.pi / 180), "The angle is in radians"),
    (dict(halves=True), "interleaves them"),
])
def test_sinusoidal_mistakes_get_their_hint(mistake, hint):
    assert_hint(check_sinusoidal(sinusoidal_with(**mistake)), hint)


def test_sinusoidal_stub_and_unknown_errors():
    def stub(n, dim):
        raise NotImplementedError

    assert check_sinusoidal(stub).status == NOT_ATTEMPTED
    verdict = check_sinusoidal(lambda n, dim: torch.ones(n, dim))
    assert verdict.status == INCORRECT and "is wrong at index" in verdict.message
    assert "shape (6, 2)" in check_sinusoidal(lambda n, dim: torch.zeros(n, 2)).message


# ---------------------------------------------------------------- RoPE on one pair


def rope_pair_with(exponent=lambda i, d: 2 * i / d, shift=0, unit=1.0, swap=False, sign=1.0):
    def rope_pair(x, m, i, d):
        angle = sign * (m + shift) * 10000 ** (-exponent(i, d)) * unit
        c, s = (math.sin(angle), math.cos(angle)) if swap else (math.cos(angle), math.sin(angle))
        return torch.stack([x[0] * c - x[1] * s, x[0] * s + x[1] * c])

    return rope_pair


def rope_pair_complex(x, m, i, d):
    z = complex(float(x[0]), float(x[1])) * complex(math.cos(m * 10000 ** (-2 * i / d)),
                                                     math.sin(m * 10000 ** (-2 * i / d)))
    return [z.real, z.imag]


def rope_pair_matrix(x, m, i, d):
    angle = torch.tensor(m * 10000.0 ** (-2 * i / d))
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    return rotation @ x


def rope_pair_numpy(x, m, i, d):
    angle = m * np.power(10000.0, -2 * i / d)
    x1, x2 = np.asarray(x, dtype=np.float64)
    return np.array([x1 * np.cos(angle) - x2 * np.sin(angle), x1 * np.sin(angle) + x2 * np.cos(angle)])


@pytest.mark.parametrize("answer", [rope_pair_with(), rope_pair_complex, rope_pair_matrix, rope_pair_numpy])
def test_rope_pair_correct_forms_are_accepted(answer):
    assert_correct(check_rope_pair(answer))


def returns_complex_scalar(x, m, i, d):
    angle = m * 10000 ** (-2 * i / d)
    return complex(float(x[0]), float(x[1])) * complex(math.cos(angle), math.sin(angle))


def returns_complex_tensor(x, m, i, d):
    angle = torch.tensor(m * 10000 ** (-2 * i / d), dtype=torch.float64)
    return torch.complex(x[0].double(), x[1].double()) * torch.polar(torch.tensor(1.0, dtype=torch.float64), angle)


@pytest.mark.parametrize("answer, hint", [
    (rope_pair_with(sign=-1.0), "rotated by -m*theta"),
    (rope_pair_with(swap=True), "cos and sin are swapped"),
    (rope_pair_with(exponent=lambda i, d: i / d), "The 2 is missing from the exponent"),
    (rope_pair_with(exponent=lambda i, d: 2 * (i + 1) / d), "exponent is off by one"),
    (rope_pair_with(exponent=lambda i, d: 2 * (i - 1) / d), "counts i from 1"),
    (rope_pair_with(shift=1), "Positions are counted from 1"),
    (rope_pair_with(unit=math.pi / 180), "The angle is in radians"),
    (returns_complex_scalar, "you returned a complex number"),
    (returns_complex_tensor, "you returned a complex number"),
])
def test_rope_pair_mistakes_get_their_hint(answer, hint):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning may leak to the learner
        assert_hint(check_rope_pair(answer), hint)


def test_rope_pair_missing_return_is_reported():
    verdict = check_rope_pair(lambda x, m, i, d: None)
    assert verdict.status == INCORRECT and "forget `return`" in verdict.message


# ---------------------------------------------------------------- ALiBi slopes


@pytest.mark.parametrize("answer", [
    lambda n: [2 ** (-8 * h / n) for h in range(1, n + 1)],
    lambda n: torch.pow(2.0 ** (-8.0 / n), torch.arange(1, n + 1)),
    lambda n: np.geomspace(2 ** (-8 / n), 2 ** -8, n),
    lambda n: torch.exp2(-8 * torch.arange(1, n + 1, dtype=torch.float32) / n),
])
def test_alibi_correct_forms_are_accepted(answer):
    assert_correct(check_alibi_slopes(answer))


@pytest.mark.parametrize("answer, hint", [
    (lambda n: [-(2 ** (-8 * h / n)) for h in range(1, n + 1)], "Slopes are positive"),
    (lambda n: [2 ** (-8 * h / n) for h in range(n)], "first head's slope is 2^(-8/n)"),
    (lambda n: [2 ** (-8 * h / n) for h in range(2, n + 2)], "exponent is off by one"),
    (lambda n: [2 ** (-8 * h / n) for h in range(n, 0, -1)], "order is reversed"),
    (lambda n: [2 ** (-8 * h) for h in range(1, n + 1)], "Divide the exponent by the number of heads"),
    (lambda n: [2.0 ** -h for h in range(1, n + 1)], "head count is hard-coded to 8"),
    (lambda n: [2 ** (-8 * h / 8) for h in range(1, 9)], "is the head count hard-coded?"),
])
def test_alibi_mistakes_get_their_hint(answer, hint):
    assert_hint(check_alibi_slopes(answer), hint)
