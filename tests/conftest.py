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


def pytest_terminal_summary(terminalreporter):
    """Report claim coverage in every run, so the count of undemonstrated claims stays visible."""
    from embedlib.claims import load_claims, undemonstrated

    claims = load_claims()
    missing = undemonstrated(claims, chapter_notebooks())
    line = f"claims demonstrated by notebook cells: {len(claims) - len(missing)} of {len(claims)}"
    terminalreporter.write_line(line + (f"; not yet: {' '.join(missing)}" if missing else ""))
