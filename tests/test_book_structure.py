"""The book's structure: every notebook is listed, set up the same way, and stored executed."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import ROOT, chapter_notebooks

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"]
NOTEBOOKS = chapter_notebooks()


def toc_files(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for value in node.values():
            found.extend(toc_files(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(toc_files(item))
    return found


def code_cells(notebook):
    return [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]


def test_toc_and_chapters_folder_agree():
    listed = {f for f in toc_files(TOC) if f.startswith("chapters/")}
    on_disk = {f"chapters/{p.stem}" for p in NOTEBOOKS}
    assert listed == on_disk, f"only in _toc.yml: {listed - on_disk}; only on disk: {on_disk - listed}"


def test_chapter_files_are_numbered():
    for notebook in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z_]+", notebook.stem), notebook.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_installs_from_the_configured_repository(notebook):
    first = "".join(code_cells(notebook)[0]["source"])
    assert 'if "google.colab" in sys.modules' in first
    urls = re.findall(r'REPOSITORY = "(https://[^"]+)"', first)
    assert urls == [REPOSITORY], f"{notebook.name} installs from {urls}, _config.yml says {REPOSITORY}"
    assert 'git+{REPOSITORY}"' in first, f"{notebook.name}: the %pip line must install from REPOSITORY"
    assert "[offline]" not in first, f"{notebook.name}: Colab reaches the hub; the offline model bundles are not needed there"
    assert "embedlib.setup(" in first


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_executed_in_order_without_timings(notebook):
    cells = [c for c in code_cells(notebook) if "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{notebook.name}: re-execute it (make execute NB={notebook})"
    assert counts == list(range(1, len(cells) + 1)), f"{notebook.name}: cells were run out of order"
    assert all("execution" not in c["metadata"] for c in cells), "timing metadata: use make execute"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_error_outputs_or_local_paths(notebook):
    text = notebook.read_text()
    assert '"output_type": "error"' not in text or "raises-exception" in text
    assert str(ROOT) not in text, f"{notebook.name} stores a path of this machine"


def test_repository_url_is_a_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPOSITORY)
