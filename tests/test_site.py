"""The website builds from the stored notebooks with warnings as errors and nitpicky references."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(output), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, f"the book did not build cleanly:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return output / "_build" / "html"


@pytest.mark.site
def test_book_builds_without_warnings(built_site):
    assert (built_site / "index.html").is_file()
    assert (built_site / "chapters" / "00_getting_started.html").is_file()


@pytest.mark.site
def test_glued_numbers_are_rendered(built_site):
    page = (built_site / "chapters" / "00_getting_started.html").read_text()
    assert '<span class="pasted-text">30,522</span>' in page


@pytest.mark.site
def test_notebook_pages_have_a_colab_button(built_site):
    page = (built_site / "chapters" / "00_getting_started.html").read_text()
    assert "colab.research.google.com/github/token-embeddings-course/token-embeddings/blob/main/chapters/00_getting_started.ipynb" in page
