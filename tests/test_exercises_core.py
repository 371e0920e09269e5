"""The exercise-checker machinery, and the getting-started checker: accept right, reject wrong."""

from __future__ import annotations

import decimal
import fractions
import math
import re

import numpy as np
import pytest
import torch

from embedlib.exercises import (
    LearnerError, as_array, as_count, as_id_set, as_number, as_whole_number, checker, compare_values, format_number,
    run_learner,
)
from embedlib.exercises.core import CORRECT, INCORRECT, LINE_WIDTH, NOT_ATTEMPTED, Verdict
from embedlib.exercises.intro import check_cosine


def reference_cosine(a, b):
    return (a @ b) / (a.norm() * b.norm())


def stub(a, b):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (reference_cosine, CORRECT, "agrees"),
        (lambda a, b: float(reference_cosine(a, b)), CORRECT, "agrees"),  # a float is fine too
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (None, NOT_ATTEMPTED, "Fill in"),
        (lambda a, b: a @ b, INCORRECT, "plain dot product"),
        (lambda a, b: -reference_cosine(a, b), INCORRECT, "wrong sign"),
        (lambda a, b: (a @ b) / a.norm(), INCORRECT, "one length only"),
        (lambda a, b: a * b / (a.norm() * b.norm()), INCORRECT, "shape"),
        (lambda a, b: (a @ b) / 0.0, INCORRECT, "division by zero"),
        (lambda a, b: None, INCORRECT, "forget `return`"),
        (lambda a, b: a.undefined_method(), INCORRECT, "AttributeError"),
        (lambda a, b: "0.5", INCORRECT, "numbers"),
        (reference_cosine(torch.ones(2), torch.ones(2)), INCORRECT, "expected a function"),
    ],
)
def test_cosine_checker(answer, status, hint):
    verdict = check_cosine(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict)
    assert bool(verdict) is (status == CORRECT)


def test_compare_values_hints():
    compare_values(np.array([1.0, 2.0]), torch.tensor([1.0, 2.0]))
    with pytest.raises(LearnerError, match=r"transposed"):
        compare_values(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(LearnerError, match=r"nan at index \(1,\)"):
        compare_values([0.0, math.nan], [0.0, 1.0])
    with pytest.raises(LearnerError, match=r"index \(1,\): expected 2, got 3"):
        compare_values([1.0, 3.0], [1.0, 2.0])


def test_run_learner_passes_results_through():
    assert run_learner(lambda x: x + 1, 1) == 2


def test_a_checker_that_breaks_still_returns_a_verdict():
    @checker("broken")
    def check_broken(answer):
        raise RuntimeError("bug in the checker")

    verdict = check_broken(1)
    assert verdict.status == INCORRECT and "RuntimeError" in verdict.message


@pytest.mark.parametrize(
    "value", [3, 3.0, np.int64(3), np.float32(3.0), np.prod([3]), torch.tensor(3), torch.tensor([3.0]),
              np.array(3.0), torch.tensor(3.0, requires_grad=True)],
)
def test_one_number_in_any_form(value):
    assert as_number(value) == 3.0 and as_whole_number(value) == 3


@pytest.mark.parametrize(
    "value, hint",
    [
        ("3", "the text '3'"),
        (complex(1, 2), "complex"),
        (torch.tensor([1.0 + 2.0j]), "complex"),
        ([1.0, 2.0], "one number, got shape (2,)"),
        ({1, 2}, "a set, which has no order"),
        (object(), "should be numbers"),
    ],
)
def test_what_is_not_one_number_gets_a_specific_hint(value, hint):
    with pytest.raises(LearnerError, match=re.escape(hint)):
        as_number(value)


def test_whole_numbers_and_id_sets():
    with pytest.raises(LearnerError, match="whole number, got 1.5"):
        as_whole_number(1.5)
    assert as_id_set({3, 1}) == as_id_set([1, 3]) == as_id_set(torch.tensor([[3], [1]])) == {1, 3}
    with pytest.raises(LearnerError, match="whole-number ids"):
        as_id_set([0.5])
    assert as_array({2.0, 1.0}, unordered=True).tolist() == [1.0, 2.0]


def test_numbers_in_messages_hide_float32_noise():
    assert format_number(np.float32(0.3)) == "0.3"
    assert format_number(1_050_673_152.0) == "1,050,673,152"
    assert format_number(2.0) == "2"


def test_notebook_display_wraps_to_the_page_width():
    verdict = Verdict("an exercise", INCORRECT, "word " * 60)
    lines = repr(verdict).splitlines()
    assert len(lines) > 2 and max(map(len, lines)) <= LINE_WIDTH
    assert str(verdict).count("\n") == 0  # str stays one line for logs and tests


@pytest.mark.parametrize(
    "value",
    [fractions.Fraction(3), decimal.Decimal(3), np.float16(3.0), torch.tensor(3.0, dtype=torch.bfloat16),
     torch.tensor([[3]], dtype=torch.int8)],
)
def test_rarer_forms_of_one_number(value):
    """Python numbers NumPy keeps as objects, and bfloat16 (no NumPy dtype), are numbers too."""
    assert as_number(value) == 3.0 and as_count(value) == 3


def test_an_int_beyond_int64_is_a_number_and_one_beyond_float_gets_a_hint():
    assert as_number(2**70) == float(2**70)
    with pytest.raises(LearnerError, match="too large for any float"):
        as_number(10**400)


@pytest.mark.parametrize("value", [True, np.True_, torch.tensor(True), np.array([True]), [True]])
def test_a_boolean_in_any_form_is_not_a_number(value):
    """Read as 1, a truth value would get the hint of whatever wrong number 1 happens to be."""
    with pytest.raises(LearnerError, match="is the boolean True: return a number"):
        as_number(value)


def test_booleans_stay_numbers_in_arrays():
    """Arrays are compared as numbers, masks included: only a single answer is refused."""
    assert as_array(torch.tensor([True, False])).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("value", [complex(1, 2), np.complex64(1), torch.tensor([1.0 + 2.0j])])
def test_complex_answers_get_a_general_hint(value):
    with pytest.raises(LearnerError, match=re.escape("is complex: return real numbers.")):
        as_array(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_get_hints_not_crashes(value):
    assert format_number(value) == str(value)
    with pytest.raises(LearnerError, match=f"whole number, got {value}"):
        as_whole_number(value)
    with pytest.raises(LearnerError, match=f"is {value}: check for a division by zero"):
        as_count(value)


@pytest.mark.parametrize(
    "value, count",
    [(3, 3), (np.int64(3), 3), (np.prod([3]), 3), (3.0, 3), (torch.tensor(3.0), 3), (1.5, 1.5),
     (np.float32(0.25), 0.25)],
)
def test_a_count_is_an_int_unless_it_has_a_fraction(value, count):
    """The fraction is kept so that a checker can name the unit slip (GiB, MiB) first."""
    got = as_count(value)
    assert got == count and type(got) is type(count)
