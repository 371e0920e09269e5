"""Declare each cell's tolerance from the spread measured across CPU kernel settings.

Reads the copies that ``scripts/portability.py measure --keep DIR`` executed under each setting,
finds, per code cell, how far its numbers moved from the stored outputs, and writes a
``tolerance`` into the cell's metadata only where the default comparison would fail:
``abs`` = margin x the largest change among numbers of magnitude <= 10, ``rel`` = margin x
the largest relative change among larger numbers, and a reason that quotes the measured
spread. Cells whose text (not only numbers) changed are listed: no tolerance can fix those;
they need a change to the notebook (e.g. printing a ranking near a tie in an order-free form).

Usage: python scripts/set_tolerances.py DIR [NOTEBOOK ...] [--margin 3]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))
from nbval_numeric import Tolerance, compare_outputs, paired_numbers  # noqa: E402
from portability import SETTINGS, notebooks  # noqa: E402

SMALL = 10.0


def _number(token: str) -> float:
    return float(token.replace(",", ""))


def _round_up(value: float) -> float:
    """One significant digit, rounded up: 0.00234 -> 0.003."""
    if value <= 0:
        return 0.0
    exponent = math.floor(math.log10(value))
    return math.ceil(value / 10**exponent) * 10**exponent


def measured_spread(path: Path, folder: Path) -> tuple[dict[int, tuple[float, float, list[str]]], dict[int, str]]:
    """Per failing cell: (max abs change of small numbers, max relative change of large ones,
    settings where the default fails); and per cell whose text changed: the first difference."""
    stored = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    spread: dict[int, tuple[float, float, list[str]]] = {}
    broken: dict[int, str] = {}
    for name in SETTINGS:
        copy = folder / name.replace("=", "-") / path.name
        new = [c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
        for index, (a, b) in enumerate(zip(stored, new)):
            if "nbval-ignore-output" in a.metadata.get("tags", []):
                continue
            if compare_outputs(a.outputs, b.outputs, Tolerance()) is None:
                continue
            try:
                pairs = paired_numbers(a.outputs, b.outputs)
            except ValueError as error:
                broken.setdefault(index, f"{name}: {error}")
                continue
            small = [abs(_number(x) - _number(y)) for x, y in pairs if abs(_number(x)) <= SMALL]
            large = [abs(_number(x) - _number(y)) / abs(_number(x)) for x, y in pairs if abs(_number(x)) > SMALL]
            old_abs, old_rel, settings = spread.get(index, (0.0, 0.0, []))
            spread[index] = (max([old_abs, *small]), max([old_rel, *large]), [*settings, name])
    return spread, broken


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--margin", type=float, default=3.0)
    options = parser.parse_args(arguments)
    for path in notebooks(options.notebooks):
        spread, broken = measured_spread(path, options.folder)
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        for index, (worst_abs, worst_rel, settings) in sorted(spread.items()):
            cell = code[index]
            declared = cell.metadata.get("tolerance", {})
            abs_tol = max(_round_up(options.margin * worst_abs), float(declared.get("abs", 0.0)))
            rel_tol = max(_round_up(options.margin * worst_rel), float(declared.get("rel", 0.0)))
            what = str(declared.get("reason", "")).split(";")[0].strip() or "a computed result"
            what = what.removesuffix(".")
            reason = (
                f"{what}; measured across the six CPU kernel settings (scripts/portability.py, "
                f"2026-12-01): largest change {worst_abs:.2g} (numbers <= {SMALL:g}), "
                f"{worst_rel:.2g} relative (larger ones), under {', '.join(settings)}"
            )
            if declared and (abs_tol > _round_up(options.margin * worst_abs) or rel_tol > _round_up(options.margin * worst_rel)):
                reason += "; the declared value is kept wider for CPUs these settings do not emulate"
                reason += " (ARM64, AVX-512 with AMX)"
            cell.metadata["tolerance"] = {"abs": abs_tol, "rel": rel_tol, "reason": reason}
            print(f"{path.name} cell {index}: abs {abs_tol:g}, rel {rel_tol:g} ({len(settings)} settings)")
        for index, cell in enumerate(code):
            declared = cell.metadata.get("tolerance")
            if declared and index not in spread and "measured across" not in declared.get("reason", ""):
                what = str(declared.get("reason", "")).split(";")[0].strip().removesuffix(".")
                declared["reason"] = (
                    f"{what}; no change beyond the default measured under the six CPU kernel settings "
                    "here (scripts/portability.py, 2026-12-01); kept for CPUs they do not emulate "
                    "(ARM64, AVX-512 with AMX), where trained results moved in the 3rd decimal"
                )
        for index, problem in sorted(broken.items()):
            print(f"{path.name} cell {index}: TEXT CHANGED, fix the notebook: {problem[:300]}")
        nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
