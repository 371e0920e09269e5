"""The shared machinery of exercise checkers: verdicts, running learner code, comparisons."""

from __future__ import annotations

import functools
import math
import textwrap
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

NOT_ATTEMPTED = "not attempted yet"
CORRECT = "correct"
INCORRECT = "not yet right"
LINE_WIDTH = 88  # the width of the course's code column: longer lines are cut off on the site


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: its status and a message meant for the learner."""

    exercise: str
    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        mark = {CORRECT: "✔", NOT_ATTEMPTED: "…", INCORRECT: "✘"}[self.status]
        return f"{mark} {self.exercise}: {self.status}. {self.message}".rstrip()

    def __repr__(self) -> str:
        """What a notebook shows: the verdict wrapped to the width of the course's pages."""
        return "\n".join(
            textwrap.fill(paragraph, LINE_WIDTH, subsequent_indent="  ", break_on_hyphens=False)
            for paragraph in str(self).splitlines()
        )


class NotAttempted(Exception):
    """The learner's answer is still the stub (it raised ``NotImplementedError``)."""


class LearnerError(Exception):
    """The learner's answer is wrong in a way the message explains."""


def run_learner(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function, turning its failures into :class:`LearnerError` hints."""
    if function is None or function is Ellipsis:
        raise NotAttempted
    if not callable(function):
        raise LearnerError(
            f"expected a function, got {type(function).__name__}: pass the function itself, "
            "not its result."
        )
    try:
        result = function(*args, **kwargs)
    except NotImplementedError as error:
        raise NotAttempted from error
    except Exception as error:  # the learner's code may raise anything; report it, never crash
        raise LearnerError(f"your function raised {type(error).__name__}: {error}") from error
    if result is None:
        raise LearnerError("your function returned None: did you forget `return`?")
    return result


def as_array(value: Any, name: str = "the result", *, unordered: bool = False) -> np.ndarray:
    """Any numeric answer as a float64 array: tensors (also with gradients), NumPy arrays and
    scalars, 0-d tensors, lists and tuples, Python numbers; ``LearnerError`` otherwise.

    A set has no order: it is accepted (sorted) only where order does not matter
    (``unordered=True``); elsewhere the hint says to return an ordered sequence.
    """
    return _numeric(value, name, unordered=unordered).astype(np.float64)


def _numeric(value: Any, name: str, *, unordered: bool = False) -> np.ndarray:
    """The answer as a NumPy array in its own dtype (booleans stay booleans), or a hint."""
    if isinstance(value, (str, bytes)):
        raise LearnerError(f"{name} should be numbers (a tensor, array or float), got the text {value!r}.")
    if isinstance(value, (set, frozenset)):
        if not unordered:
            raise LearnerError(f"{name} is a set, which has no order: return a list or tensor in order.")
        value = sorted(value)
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        try:
            value = value.numpy()
        except TypeError:  # bfloat16 and the float8 types have no NumPy dtype
            value = value.double().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise LearnerError(f"{name} should be numbers (a tensor, array or float), got {type(value).__name__}.") from error
    if array.dtype == object and array.ndim == 0:
        array = _real_scalar(value, name, array)
    if np.iscomplexobj(array):
        raise LearnerError(f"{name} is complex: return real numbers.")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise LearnerError(f"{name} should be numbers (a tensor, array or float), got {type(value).__name__}.")
    return array


def _real_scalar(value: Any, name: str, array: np.ndarray) -> np.ndarray:
    """``value`` as float64 if it is a number NumPy keeps as an object (``Fraction``,
    ``Decimal``, an int beyond int64); otherwise ``array`` unchanged, for the caller's hint."""
    try:
        return np.asarray(float(value))
    except OverflowError as error:
        raise LearnerError(f"{name} is too large for any float: check the formula.") from error
    except (TypeError, ValueError):
        return array


def as_number(value: Any, name: str = "the result") -> float:
    """One number from a Python, NumPy or 0-d torch scalar (or a one-element array).

    A boolean (``True``, ``np.True_``, ``torch.tensor(True)``) is refused: it is never the
    number an exercise asks for, and read as 1 or 0 it would get a misleading hint.
    """
    array = _numeric(value, name)
    if array.size != 1:
        raise LearnerError(f"{name} should be one number, got shape {tuple(array.shape)}.")
    if array.dtype == bool:
        raise LearnerError(f"{name} is the boolean {bool(array.reshape(()))}: return a number.")
    return float(array.reshape(()))


def as_whole_number(value: Any, name: str = "the result") -> int:
    """A whole number (``int``, ``np.int64``, ``np.prod(...)``, ``2.0``) as a Python ``int``."""
    number = as_number(value, name)
    if not math.isfinite(number) or number != round(number):
        raise LearnerError(f"{name} should be a whole number, got {format_number(number)}.")
    return int(round(number))


def as_count(value: Any, name: str = "the result") -> int | float:
    """A count (of bytes, of tokens) as an ``int``; one with a fraction stays a ``float``.

    Any form :func:`as_number` accepts. Unlike :func:`as_whole_number`, a fraction is not
    refused here: a checker first compares it with the slips that produce one (a size in GiB
    where bytes were asked) and names that slip, and only then asks the learner to round.
    NaN and infinity are refused with a hint. (:func:`embedlib.shapes.as_count` is another
    thing: it validates a library argument and refuses any float.)
    """
    number = as_number(value, name)
    if not math.isfinite(number):
        raise LearnerError(f"{name} is {format_number(number)}: check for a division by zero.")
    return int(number) if number.is_integer() else number


def as_id_set(value: Any, name: str = "the result") -> set[int]:
    """Token or row ids where order does not matter: a set, list, array or tensor of ints."""
    array = as_array(value, name, unordered=True).reshape(-1)
    if not np.all(array == np.round(array)):
        raise LearnerError(f"{name} should hold whole-number ids, got {format_number(array[0])}.")
    return {int(i) for i in array}


def format_number(value: float) -> str:
    """A number at sensible precision for a message: float32 noise never shows."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if value == round(value) and abs(value) < 1e15:
        return f"{int(round(value)):,}" if abs(value) >= 10_000 else str(int(round(value)))
    return f"{value:.4g}"


def compare_values(got: Any, expected: Any, *, name: str = "the result", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Raise :class:`LearnerError` with a specific hint unless ``got`` matches ``expected``.

    Hints, in order: not numeric; wrong shape (and "transposed?"); NaN or infinity; every
    value with the wrong sign; the first wrong value with its index.
    """
    got_array = as_array(got, name)
    expected_array = as_array(expected, "the expected value")
    if got_array.shape != expected_array.shape:
        hint = f"{name} has shape {tuple(got_array.shape)}, expected {tuple(expected_array.shape)}"
        if got_array.ndim == 2 and got_array.shape[::-1] == expected_array.shape:
            hint += " (transposed?)"
        raise LearnerError(hint + ".")
    bad = ~np.isfinite(got_array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise LearnerError(
            f"{name} contains {got_array[index]} at index {index}: check for a division by zero "
            "or log of 0."
        )
    close = np.isclose(got_array, expected_array, atol=atol, rtol=rtol)
    if close.all():
        return
    if np.allclose(-got_array, expected_array, atol=atol, rtol=rtol):
        raise LearnerError(f"{name} has the right size but the wrong sign everywhere.")
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    where = f" at index {index}" if index else ""
    raise LearnerError(
        f"{name} is wrong{where}: expected {format_number(expected_array[index])}, "
        f"got {format_number(got_array[index])}."
    )


def matches(got: Any, expected: Any, *, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Whether ``got`` equals ``expected`` in the sense of :func:`compare_values` (no hint).

    Checkers use it to recognise a typical mistake and name it.
    """
    try:
        compare_values(got, expected, atol=atol, rtol=rtol)
    except LearnerError:
        return False
    return True


def compare_or_diagnose(
    got: Any,
    expected: Any,
    *,
    name: str,
    mistakes: Sequence[tuple[Callable[[], Any], str]] = (),
    otherwise: str = "",
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Pass if ``got`` matches ``expected``; else raise the comparison's hint plus a diagnosis.

    ``mistakes`` lists realistic wrong answers as (function computing that wrong answer,
    what to tell the learner); the first one ``got`` equals adds its advice. Wrong answers
    are computed only when needed. ``otherwise`` is the advice when none matches.
    """
    try:
        compare_values(got, expected, name=name, atol=atol, rtol=rtol)
    except LearnerError as error:
        for wrong_answer, advice in mistakes:
            if matches(got, wrong_answer(), atol=atol, rtol=rtol):
                raise LearnerError(f"{error} {advice}") from error
        if otherwise:
            raise LearnerError(f"{error} {otherwise}") from error
        raise


def checker(exercise: str) -> Callable[[Callable[..., str | None]], Callable[..., Verdict]]:
    """Turn a check body into a checker that always returns a :class:`Verdict`.

    The body receives the learner's answer and returns ``None`` (or a success message) when
    it is right; it raises :class:`LearnerError` with a hint, or :class:`NotAttempted`.
    """

    def decorate(body: Callable[..., str | None]) -> Callable[..., Verdict]:
        @functools.wraps(body)
        def check(*answer: Any, **kwargs: Any) -> Verdict:
            if not answer or any(a is None or a is Ellipsis for a in answer):
                return Verdict(
                    exercise, NOT_ATTEMPTED, "Fill in the cell above, run it, then run this check again."
                )
            try:
                praise = body(*answer, **kwargs)
            except NotAttempted:
                return Verdict(exercise, NOT_ATTEMPTED, "Replace `raise NotImplementedError` with your code.")
            except LearnerError as error:
                return Verdict(exercise, INCORRECT, str(error))
            except Exception as error:  # a checker must never crash on a learner's answer
                return Verdict(
                    exercise, INCORRECT, f"could not check your answer ({type(error).__name__}: {error})."
                )
            return Verdict(exercise, CORRECT, praise or "Well done.")

        return check

    return decorate
