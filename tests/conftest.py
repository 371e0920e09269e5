"""Shared test set-up: no network, fixed seeds, one thread, paths of the book's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"


def chapter_notebooks() -> list[Path]:
    return sorted(p for p in CHAPTERS.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.fixture(autouse=True)
def _seeded():
    import torch

    from embedlib import seed_everything

    torch.set_num_threads(1)
    seed_everything(0)


NOTEBOOK_SECONDS: dict[str, float] = {}
NOTEBOOK_BUDGET_S = 60.0


def pytest_runtest_logreport(report):
    """Add up the time of each notebook's cells (nbval runs one test per cell)."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        NOTEBOOK_SECONDS[path] = NOTEBOOK_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """Per-notebook seconds (so drift is visible) and claim coverage, in every run."""
    from embedlib.claims import load_claims, undemonstrated

    if NOTEBOOK_SECONDS:
        terminalreporter.section("notebook durations (budget 60 s each)")
        for path, seconds in sorted(NOTEBOOK_SECONDS.items()):
            flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
            terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")
    claims = load_claims()
    missing = undemonstrated(claims, chapter_notebooks())
    line = f"claims demonstrated by notebook cells: {len(claims) - len(missing)} of {len(claims)}"
    terminalreporter.write_line(line + (f"; not yet: {' '.join(missing)}" if missing else ""))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The website, built once per session from the stored notebooks with -W -n (used by test_site*.py)."""
    import subprocess
    import sys

    output = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(output), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, f"the book did not build cleanly:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return output / "_build" / "html"
