"""Re-execute notebooks in place and store their outputs (maintainers run this via `make execute`).

Usage: python scripts/execute_notebooks.py [--output DIR] [chapters/NN_name.ipynb ...]
       (default: all chapters, stored in place; with --output, written to DIR instead)

Runs each notebook top to bottom in a fresh kernel, from the chapters/ folder, offline, with
the same environment variables as the test command, then drops per-cell timing metadata so a
re-run that changes no output changes no byte. Prints each notebook's wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
TIMEOUT_PER_CELL_S = 300

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def strip_volatile_metadata(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)


def execute(path: Path, output: Path | None = None) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_PER_CELL_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        allow_errors=False,
    )
    client.execute()
    seconds = time.perf_counter() - start
    strip_volatile_metadata(notebook)
    nbformat.write(notebook, path if output is None else output / path.name)
    return seconds


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--output", type=Path, help="write executed copies here, not in place")
    options = parser.parse_args(arguments)
    paths = options.notebooks or sorted(CHAPTERS.glob("*.ipynb"))
    if options.output:
        options.output.mkdir(parents=True, exist_ok=True)
    for path in paths:
        seconds = execute(path, options.output)
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT) if path.is_absolute() else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
