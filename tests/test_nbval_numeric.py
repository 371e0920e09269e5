"""The notebook comparison with tolerances (tests/nbval_numeric.py): it must pass what only
float noise changed and still catch real drift, with a message naming the cell and values."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from nbval_numeric import Tolerance, compare_outputs, compare_text, last_digit_unit, split_numbers

DEFAULT = Tolerance()


def stream(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def glued(name: str, value: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": value},
        metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    )


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("vocabulary 30,522 tokens, width 384", ["30,522", "384"]),
        ("loss 3.22 nats (-0.5 vs 1.1e-15)", ["3.22", "-0.5", "1.1e-15"]),
        ("torch 2.13.0, fp32, bf16, claim C27, 4.3x", ["4.3"]),
        ("shape (30522, 384).", ["30522", "384"]),
        ("0.5% at position 3.", ["0.5", "3"]),
    ],
)
def test_numbers_are_found_and_identifiers_stay_text(text, numbers):
    assert split_numbers(text)[1] == numbers


def test_last_printed_digit():
    assert last_digit_unit("0.973") == pytest.approx(1e-3)
    assert last_digit_unit("1.1e-15") == pytest.approx(1e-16)
    assert last_digit_unit("12.5%"[:-1]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "stored, new",
    [
        ("0.023085545748472214", "0.023085543885827065"),  # float32 noise in the 7th digit
        ("value 1.1e-15", "value 2.9e-15"),  # machine epsilon: under the absolute floor
        ("accuracy 0.973", "accuracy 0.972"),  # one unit of the last printed digit
        ("loss  9.99 |", "loss 10.00 |"),  # padding follows the printed width
        ("mean -0.000", "mean 0.000"),
    ],
)
def test_float_noise_passes(stored, new):
    assert compare_text(stored, new, DEFAULT) is None


@pytest.mark.parametrize(
    "stored, new, expected",
    [
        ("loss 3.20", "loss 3.36", "stored 3.20, new 3.36"),  # moved by 5%
        ("0.5000000", "0.5250000", "5.00% relative"),
        ("accuracy 0.973", "accuracy 0.971", "stored 0.973, new 0.971"),  # two last digits
        ("rank 1", "rank 2", "integer 1 differs: stored 1, new 2"),
        ("queen is first", "quean is first", "text differs on line 1"),  # a changed word
        ("torch 2.13.0", "torch 2.14.0", "text differs"),  # versions are text
        ("(30522, 384)", "(30522, 385)", "integer 2 differs"),
        ("a 1 b 2", "a 1 b", "text differs"),
    ],
)
def test_real_drift_fails_with_stored_and_new_value(stored, new, expected):
    problem = compare_text(stored, new, DEFAULT)
    assert problem is not None and expected in problem


def test_declared_tolerance_passes_inside_and_fails_just_beyond():
    declared = Tolerance.from_metadata({"tolerance": {"abs": 0.004, "reason": "spread 0.0015"}})
    assert compare_text("loss 3.2200", "loss 3.2239", declared) is None
    problem = compare_text("loss 3.2200", "loss 3.2241", declared)
    assert problem is not None and "declared rel 0, abs 0.004: spread 0.0015" in problem
    assert compare_text("12,154 correct", "12,155 correct", declared) is not None  # 1 > 0.004
    assert compare_text("12,154 correct", "12,155 correct", DEFAULT) is not None
    loose = Tolerance.from_metadata({"tolerance": {"abs": 2, "reason": "counts move by 1"}})
    assert compare_text("12,154 correct", "12,155 correct", loose) is None


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"tolerance": 0.01}, "must be a dict"),
        ({"tolerance": {"abs": 0.01}}, "needs a 'reason'"),
        ({"tolerance": {"abs": -1, "reason": "x"}}, "must be a number >= 0"),
        ({"tolerance": {"atol": 0.01, "reason": "x"}}, "must be a dict with keys"),
    ],
)
def test_malformed_declarations_are_refused(metadata, message):
    with pytest.raises(ValueError, match=message):
        Tolerance.from_metadata(metadata)


def test_outputs_name_the_glued_value_and_check_images_for_presence_only():
    image = nbformat.v4.new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"})
    other_image = nbformat.v4.new_output("display_data", data={"image/png": "BBBB", "text/plain": "<Figure>"})
    assert compare_outputs([image, glued("x", "0.5")], [other_image, glued("x", "0.50000001")], DEFAULT) is None
    problem = compare_outputs([glued("pitfalls_skew", "1.50")], [glued("pitfalls_skew", "1.60")], DEFAULT)
    assert "glued value 'pitfalls_skew'" in problem and "stored 1.50, new 1.60" in problem
    no_image = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    assert "missing now ['image/png']" in compare_outputs([image], [no_image], DEFAULT)


NOTEBOOK_CODE = "x = 0.1 + 0.2\nprint(f'loss {x:.4f} after 1,000 steps')"


def _notebook(tmp_path, stored_text: str, metadata: dict | None = None):
    cell = nbformat.v4.new_code_cell(NOTEBOOK_CODE, execution_count=1, outputs=[stream(stored_text)])
    cell.metadata.update(metadata or {})
    notebook = nbformat.v4.new_notebook(cells=[cell])
    path = tmp_path / "drift.ipynb"
    nbformat.write(notebook, path)
    return path


def _run_plugin(path):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.nbval_numeric", "--nbval-numeric",
         "--nbval-current-env", "-q", "-p", "no:cacheprovider", "--rootdir", str(path.parent), str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


def test_plugin_runs_a_notebook_and_reports_drift_by_cell(tmp_path):
    """End to end through nbval's kernel: noise passes, a 5% move fails naming cell and values."""
    assert _run_plugin(_notebook(tmp_path, "loss 0.30000001 after 1,000 steps\n")).returncode == 0
    result = _run_plugin(_notebook(tmp_path, "loss 0.3150 after 1,000 steps\n"))
    assert result.returncode == 1
    assert "drift.ipynb, Cell 0: stdout: number 1 differs: stored 0.3150, new 0.3000" in result.stdout
    declared = {"tolerance": {"abs": 0.02, "reason": "test: a declared tolerance covers 0.015"}}
    assert _run_plugin(_notebook(tmp_path, "loss 0.3150 after 1,000 steps\n", declared)).returncode == 0
