"""Every figure a chapter shows has alt text and a caption in its cell's metadata.

myst-nb reads them from the code cell's metadata (https://myst-nb.readthedocs.io, "Images and
figures"): ``mystnb.image.alt`` becomes the ``<img alt>`` (without it the site's alt text is a
file hash), ``mystnb.figure.caption`` a numbered caption, ``mystnb.figure.name`` its label:

    "mystnb": {"figure": {"caption": "...", "name": "fig-<chapter>-<topic>"},
               "image": {"alt": "What a blind reader needs: axes, series, the pattern."}}
"""

from __future__ import annotations

import json
import re

from conftest import ROOT, chapter_notebooks

HIDDEN = {"remove-output", "remove-cell"}


def _figure_cells(notebook) -> list[tuple[int, dict]]:
    cells = json.loads(notebook.read_text())["cells"]
    return [
        (index, cell) for index, cell in enumerate(cells)
        if cell["cell_type"] == "code" and not HIDDEN & set(cell["metadata"].get("tags", []))
        and any(
            any(key.startswith("image/") for key in output.get("data", {}))
            and "scrapbook" not in output.get("metadata", {})
            for output in cell.get("outputs", [])
        )
    ]


def _problems(cell: dict) -> list[str]:
    meta = cell["metadata"].get("mystnb", {})
    alt = str(meta.get("image", {}).get("alt", "")).strip()
    caption = str(meta.get("figure", {}).get("caption", "")).strip()
    name = str(meta.get("figure", {}).get("name", ""))
    problems = []
    if len(alt) < 20 or re.fullmatch(r"[0-9a-f]{16,}(\.\w+)?", alt):
        problems.append("no alt text (mystnb.image.alt)" if not alt else f"alt text too thin: {alt!r}")
    if not caption:
        problems.append("no caption (mystnb.figure.caption)")
    if name and not re.fullmatch(r"fig-[a-z0-9-]+", name):
        problems.append(f"figure name {name!r} is not fig-<chapter>-<topic>")
    return problems


def test_every_figure_has_alt_text_and_a_caption():
    offending = []
    for notebook in chapter_notebooks():
        for index, cell in _figure_cells(notebook):
            problems = _problems(cell)
            if problems:
                first = "".join(cell["source"]).strip().splitlines()[:1] or [""]
                offending.append(f"{notebook.name} cell {index} ({first[0][:50]!r}): {'; '.join(problems)}")
    assert not offending, f"{len(offending)} figures lack alt text or a caption:\n" + "\n".join(offending)


def test_figure_names_are_unique_across_the_book():
    seen: dict[str, str] = {}
    for notebook in chapter_notebooks():
        for index, cell in _figure_cells(notebook):
            name = cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
            if name:
                assert name not in seen, f"{name} names a figure in {seen[name]} and in {notebook.name} cell {index}"
                seen[name] = f"{notebook.name} cell {index}"


def test_the_check_sees_figures():
    assert sum(len(_figure_cells(nb)) for nb in chapter_notebooks()) >= 10
    assert (ROOT / "chapters" / "01_lookup.ipynb") in chapter_notebooks()
