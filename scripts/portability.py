"""Check that the stored notebook outputs verify under several CPU kernel settings.

MKL, ATen (PyTorch's CPU kernels) and OpenBLAS pick code paths by CPU; these environment
variables make one machine take the paths of others, so float results change in their
late digits, and trained results more, as they would on a contributor's laptop or another
CI runner.

Usage:
    python scripts/portability.py test [NOTEBOOK ...]     # nbval (with tolerances) per setting
    python scripts/portability.py measure [NOTEBOOK ...]  # how far each cell's numbers move
        [--keep DIR]                                      # and keep the executed copies
    python scripts/portability.py check DIR [NOTEBOOK ...]  # compare kept copies, as nbval does

``test`` runs the notebook tests of ``make test`` once per setting and prints one line per
setting; it exits 1 if any setting fails. ``measure`` executes every notebook under every
setting into a temporary folder and prints, per cell whose numbers move beyond the default
tolerance, the largest absolute and relative change seen: the measured spread a declared
cell tolerance must cover (see tests/nbval_numeric.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from nbval_numeric import Tolerance, allowed_difference, compare_outputs, paired_numbers  # noqa: E402

SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "MKL_CBWR=AVX2": {"MKL_CBWR": "AVX2"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "OPENBLAS_CORETYPE=Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
}
NBVAL = ["-p", "tests.nbval_numeric", "--nbval-numeric", "--nbval-current-env",
         "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:cacheprovider"]


def notebooks(arguments: list[str]) -> list[Path]:
    return [Path(a) for a in arguments] or sorted((ROOT / "chapters").glob("*.ipynb"))


def run_tests(paths: list[Path], workers: int) -> int:
    """Run the notebook tests once per setting; print a summary line per setting."""
    results = []
    for name, variables in SETTINGS.items():
        start = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *NBVAL, "-q", "-n", str(workers), "--dist", "loadfile",
             *map(str, paths)],
            cwd=ROOT, env={**os.environ, **variables}, capture_output=True, text=True,
        )
        summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else "no output"
        results.append((name, completed.returncode, summary, time.perf_counter() - start))
        print(f"{name:<28} {'ok  ' if completed.returncode == 0 else 'FAIL'} {summary}", flush=True)
        if completed.returncode:
            failures = [line for line in completed.stdout.splitlines() if ", Cell " in line]
            print("\n".join(f"    {line}" for line in failures[:20]), flush=True)
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


def _execute(path: Path, name: str, folder: Path) -> Path:
    output = folder / name.replace("=", "-")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "execute_notebooks.py"), "--output", str(output), str(path)],
        cwd=ROOT, env={**os.environ, **SETTINGS[name]}, check=True, capture_output=True,
    )
    return output / path.name


def check(paths: list[Path], folder: Path) -> int:
    """Compare the copies ``measure --keep`` executed under each setting with the stored
    outputs, cell by cell, with each cell's declared tolerance (nbval_numeric's comparison)."""
    failed = 0
    for name in SETTINGS:
        problems = []
        for path in paths:
            copy = folder / name.replace("=", "-") / path.name
            stored = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            new = [c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
            for index, (a, b) in enumerate(zip(stored, new)):
                if "nbval-ignore-output" in a.metadata.get("tags", []):
                    continue
                problem = compare_outputs(a.outputs, b.outputs, Tolerance.from_metadata(a.metadata))
                if problem:
                    problems.append(f"{path.name}, Cell {index}: {problem}")
        failed += bool(problems)
        print(f"{name:<28} {'FAIL' if problems else 'ok  '} {len(problems)} cells differ beyond tolerance")
        print("\n".join(f"    {line}" for line in problems[:20]), flush=True)
    return 1 if failed else 0


def measure(paths: list[Path], workers: int, keep: Path | None = None) -> int:
    """Execute under every setting; print the cells whose numbers move beyond the default."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = keep or Path(temporary)
        jobs = [(path, name) for path in paths for name in SETTINGS]
        with ThreadPoolExecutor(workers) as pool:
            executed = list(pool.map(lambda job: (job, _execute(*job, folder)), jobs))
        spread: dict[tuple[str, int], list[tuple[str, float, float, str]]] = {}
        for (path, name), copy in executed:
            stored = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            new = [c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
            for index, (a, b) in enumerate(zip(stored, new)):
                if "nbval-ignore-output" in a.metadata.get("tags", []):
                    continue
                try:
                    pairs = paired_numbers(a.outputs, b.outputs)
                except ValueError as error:
                    spread.setdefault((path.name, index), []).append((name, float("inf"), float("inf"), str(error)))
                    continue
                moved = [(x, y) for x, y in pairs if x != y]
                beyond = [(x, y) for x, y in moved if _beyond_default(x, y)]
                if beyond:
                    worst_abs = max(abs(_number(x) - _number(y)) for x, y in moved)
                    worst_rel = max(abs(_number(x) - _number(y)) / (abs(_number(x)) or 1.0) for x, y in moved)
                    example = f"{beyond[0][0]} -> {beyond[0][1]}"
                    spread.setdefault((path.name, index), []).append((name, worst_abs, worst_rel, example))
    print(f"{'notebook':<28} {'cell':>4}  {'setting':<28} {'max abs':>10} {'max rel':>10}  example")
    for (notebook, cell), rows in sorted(spread.items()):
        for name, worst_abs, worst_rel, example in rows:
            print(f"{notebook:<28} {cell:>4}  {name:<28} {worst_abs:10.3g} {worst_rel:10.3g}  {example[:60]}")
    print(f"{len(spread)} cells move beyond the default tolerance under some setting")
    return 0


def _number(token: str) -> float:
    return float(token.replace(",", ""))


def _beyond_default(stored: str, new: str) -> bool:
    allowed = allowed_difference(stored, new, Tolerance())
    return allowed is None or abs(_number(stored) - _number(new)) > allowed * (1 + 1e-9)


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("test", "measure", "check"))
    parser.add_argument("notebooks", nargs="*", help="for check: the kept folder, then notebooks")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="measure: keep the executed copies here")
    options = parser.parse_intermixed_args(arguments)
    if options.command == "check":
        folder, *rest = options.notebooks
        return check(notebooks(rest), Path(folder))
    paths = notebooks(options.notebooks)
    if options.command == "measure":
        return measure(paths, options.workers, options.keep)
    return run_tests(paths, options.workers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
