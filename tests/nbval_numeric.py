"""A pytest plugin that runs notebooks with nbval but compares their numbers with a tolerance.

nbval compares a fresh output with the stored one character by character, so a float that
differs in its 7th digit between two CPUs (MKL and ATen pick kernels by CPU) fails the
test. This plugin keeps nbval as the runner (its kernel, its cells, its sanitize file) and
replaces only the comparison:

- every output is split into numbers and the text between them; the text must match
  exactly (words, token strings, layout), except that padding next to a number may change
  with the number's width;
- integers (``30522``, ``30,522``, ids, shapes) must match exactly;
- floats (a decimal point or an exponent) match when
  ``|stored - new| <= max(rel * max(|stored|, |new|), abs, one unit of the last printed digit)``
  with ``rel = 1e-4`` and ``abs = 1e-12`` (float32 arithmetic carries ~7 significant digits;
  values at machine epsilon differ in their first; a printed value may round either way);
- a cell may declare a looser tolerance, for every number it prints (integers included, by
  the declared amounts only), in its metadata, with the reason and the spread measured
  across CPU kernel settings::

      "tolerance": {"abs": 0.004, "rel": 0, "reason": "500 training steps; spread +-0.0015"}

- images are checked for presence, not pixels.

Run it with ``python -m pytest -p tests.nbval_numeric --nbval-numeric chapters`` (instead
of ``--nbval``); nbval's own options (``--nbval-current-env``, ``--nbval-sanitize-with``)
apply unchanged.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile, coalesce_streams, transform_streams_for_comparison

DEFAULT_REL = 1e-4
DEFAULT_ABS = 1e-12
TOLERANCE_KEY = "tolerance"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
# Output fields that never carry a cell's result (nbval skips the same ones).
SKIPPED_FIELDS = {
    "metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
    "application/vnd.jupyter.widget-view+json",  # widget model ids are random
}
# A number: not glued to a word or another number on its left ("fp32", "C27", "2.13.0" stay
# text), optional sign, thousands separators, decimals, exponent; not followed by more digits
# or a dotted continuation (version strings stay text).
NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\.\d+|\d+)(?:[eE][-+]?\d+)?(?!\.?\d)"
)


@dataclass(frozen=True)
class Tolerance:
    """How far a number may move: the defaults for floats, plus what a cell declares.

    A declared ``rel``/``abs`` loosens floats beyond the defaults and also lets integers
    move (by the declared amounts only: the float defaults never apply to integers).
    """

    rel: float = 0.0
    abs: float = 0.0
    reason: str = ""

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Tolerance:
        """The cell's declared tolerance, or none; ``ValueError`` if malformed."""
        declared = metadata.get(TOLERANCE_KEY)
        if declared is None:
            return cls()
        if not isinstance(declared, dict) or set(declared) - {"abs", "rel", "reason"}:
            raise ValueError(
                f"cell metadata {TOLERANCE_KEY!r} must be a dict with keys abs, rel, reason; "
                f"got {declared!r}"
            )
        reason = declared.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"cell metadata {TOLERANCE_KEY!r} needs a 'reason' (measured spread)")
        values = {key: declared.get(key, 0.0) for key in ("abs", "rel")}
        for key, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{TOLERANCE_KEY}.{key} must be a number >= 0, got {value!r}")
        return cls(rel=float(values["rel"]), abs=float(values["abs"]), reason=reason)

    def allowed(self, scale: float, integer: bool, units: list[float]) -> float | None:
        """The largest allowed difference for numbers of magnitude ``scale``; None: exact."""
        declared = max(self.rel * scale, self.abs)
        if integer:
            return declared if declared > 0 else None
        return max(DEFAULT_REL * scale, DEFAULT_ABS, declared, *units)

    def describe(self) -> str:
        text = f"rel {DEFAULT_REL:g}, abs {DEFAULT_ABS:g} or one unit of the last printed digit"
        if self.reason:
            text += f"; declared rel {self.rel:g}, abs {self.abs:g}: {self.reason}"
        return text


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def _is_integer(token: str) -> bool:
    return not any(mark in token for mark in ".eE")


def last_digit_unit(token: str) -> float:
    """One unit in the last printed place: ``0.973`` -> 0.001, ``1.1e-15`` -> 1e-16."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def allowed_difference(stored: str, new: str, tolerance: Tolerance) -> float | None:
    """The largest allowed ``|stored - new|``; None when the two must be identical."""
    scale = max(abs(_value(stored)), abs(_value(new)))
    integer = _is_integer(stored) and _is_integer(new)
    units = [last_digit_unit(t) for t in (stored, new) if not _is_integer(t)]
    return tolerance.allowed(scale, integer, units)


def split_numbers(text: str) -> tuple[list[str], list[str]]:
    """``text`` as the texts between numbers (one more than the numbers) and the numbers."""
    texts, numbers, start = [], [], 0
    for match in NUMBER.finditer(text):
        texts.append(text[start:match.start()])
        numbers.append(match.group())
        start = match.end()
    texts.append(text[start:])
    return texts, numbers


def _padding_free(texts: list[str]) -> list[str]:
    """Drop the spaces that touch a number (they follow its printed width), keep the rest."""
    out = []
    last = len(texts) - 1
    for i, text in enumerate(texts):
        if i > 0:
            text = text.lstrip(" ") if text[:1] == " " else text
        if i < last:
            text = text.rstrip(" ") if text[-1:] == " " else text
        out.append(text)
    return out


def _line_of(text: str, numbers: list[str], texts: list[str], index: int) -> str:
    offset = sum(len(t) for t in texts[: index + 1]) + sum(len(n) for n in numbers[:index])
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start: end if end >= 0 else len(text)].strip()


def compare_text(stored: str, new: str, tolerance: Tolerance) -> str | None:
    """None when ``new`` matches ``stored`` under ``tolerance``, else why not (one paragraph)."""
    if stored == new:
        return None
    stored_texts, stored_numbers = split_numbers(stored)
    new_texts, new_numbers = split_numbers(new)
    if len(stored_numbers) != len(new_numbers) or _padding_free(stored_texts) != _padding_free(new_texts):
        return _text_difference(stored, new)
    for i, (a, b) in enumerate(zip(stored_numbers, new_numbers)):
        if a == b:
            continue
        allowed = allowed_difference(a, b, tolerance)
        difference = abs(_value(a) - _value(b))
        if allowed is None:
            return (
                f"integer {i + 1} differs: stored {a}, new {b} (integers must match exactly "
                f"unless the cell declares a tolerance)\n  in: {_line_of(new, new_numbers, new_texts, i)}"
            )
        if difference > allowed * (1 + 1e-9):
            relative = difference / (abs(_value(a)) or abs(_value(b)))
            return (
                f"number {i + 1} differs: stored {a}, new {b} (difference {difference:.3g}, "
                f"{relative:.2%} relative; allowed {allowed:.3g}: {tolerance.describe()})"
                f"\n  in: {_line_of(new, new_numbers, new_texts, i)}"
            )
    return None


def _text_difference(stored: str, new: str) -> str:
    stored_lines, new_lines = stored.splitlines(), new.splitlines()
    for number, (a, b) in enumerate(zip(stored_lines, new_lines), start=1):
        if a != b:
            return f"text differs on line {number}:\n  stored: {a}\n  new:    {b}"
    return (
        f"text differs: stored has {len(stored_lines)} lines, new has {len(new_lines)}"
        f"\n  stored ends: {stored_lines[-1:]}\n  new ends:    {new_lines[-1:]}"
    )


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(value)
    return repr(value)


def _fields(outputs: list[dict[str, Any]], sanitize) -> dict[str, list[tuple[str, str]]]:
    """Each compared field (MIME type or stream name) -> its (label, text) values, in order."""
    fields: dict[str, list[tuple[str, str]]] = defaultdict(list)
    # nbval merges a cell's stream outputs before comparing (coalesce_streams edits in place)
    outputs = coalesce_streams([nbformat.from_dict(copy.deepcopy(dict(o))) for o in outputs])
    for output in transform_streams_for_comparison(outputs):
        glue_name = output.get("metadata", {}).get("scrapbook", {}).get("name")
        for key, value in output.items():
            if key in SKIPPED_FIELDS:
                continue
            items = value.items() if key == "data" else [(key, value)]
            for field, content in items:
                if field in SKIPPED_FIELDS:
                    continue
                label = f"glued value {glue_name!r}" if glue_name else field
                text = "<image>" if field in IMAGE_TYPES else sanitize(_as_text(content))
                fields[field].append((label, text))
    return fields


def paired_numbers(stored: list, new: list, sanitize=lambda s: s) -> list[tuple[str, str]]:
    """The (stored, new) number pairs of a cell whose text matches; ``ValueError`` if it does not.

    Used to measure how far numbers move between kernel settings (scripts/portability.py).
    """
    stored_fields, new_fields = _fields(stored, sanitize), _fields(new, sanitize)
    if set(stored_fields) != set(new_fields):
        raise ValueError("output fields differ")
    pairs = []
    for field, stored_values in stored_fields.items():
        if len(stored_values) != len(new_values := new_fields[field]):
            raise ValueError(f"{field}: number of outputs differs")
        for (_, a), (_, b) in zip(stored_values, new_values):
            a_texts, a_numbers = split_numbers(a)
            b_texts, b_numbers = split_numbers(b)
            if len(a_numbers) != len(b_numbers) or _padding_free(a_texts) != _padding_free(b_texts):
                raise ValueError(_text_difference(a, b))
            pairs += list(zip(a_numbers, b_numbers))
    return pairs


def compare_outputs(stored: list, new: list, tolerance: Tolerance, sanitize=lambda s: s) -> str | None:
    """None when a cell's new outputs match its stored ones, else a message saying where not."""
    stored_fields, new_fields = _fields(stored, sanitize), _fields(new, sanitize)
    if set(stored_fields) != set(new_fields):
        missing = sorted(set(stored_fields) - set(new_fields))
        extra = sorted(set(new_fields) - set(stored_fields))
        return f"output fields differ: missing now {missing}, new {extra}"
    for field, stored_values in stored_fields.items():
        new_values = new_fields[field]
        if len(stored_values) != len(new_values):
            return f"{field}: {len(stored_values)} outputs stored, {len(new_values)} now"
        for (label, a), (_, b) in zip(stored_values, new_values):
            problem = compare_text(a, b, tolerance)
            if problem:
                return f"{label}: {problem}"
    return None


class NumericCell(IPyNbCell):
    """An nbval cell whose outputs are compared by :func:`compare_outputs`."""

    def compare_outputs(self, test, ref, skip_compare=None):  # noqa: ARG002 (nbval's signature)
        try:
            tolerance = Tolerance.from_metadata(self.cell.metadata)
        except ValueError as error:
            self.comparison_traceback = [f"Cell {self.cell_num}: {error}"]
            return False
        problem = compare_outputs(ref, test, tolerance, self.sanitize)
        self.comparison_traceback = [] if problem is None else [
            f"{self.fspath.basename}, Cell {self.cell_num}: {problem}"
        ]
        return problem is None


class NumericNotebook(IPyNbFile):
    """nbval's notebook collector, yielding :class:`NumericCell` items."""

    def collect(self):
        for cell in super().collect():
            yield NumericCell.from_parent(
                self, name=cell.name, cell_num=cell.cell_num, cell=cell.cell, options=cell.options
            )


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-numeric", action="store_true",
        help="run notebooks with nbval, comparing numbers with tolerances (tests/nbval_numeric.py)",
    )


def pytest_configure(config):
    if config.option.nbval_numeric and (config.option.nbval or config.option.nbval_lax):
        raise pytest.UsageError("use --nbval-numeric instead of --nbval, not both")


def pytest_collect_file(file_path, parent):
    if parent.config.option.nbval_numeric and file_path.suffix == ".ipynb":
        return NumericNotebook.from_parent(parent, path=file_path)
    return None
