"""The learner's copies of the chapters (learner/*.ipynb): in sync, and free of MyST markup."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from chromium import Chromium, SiteServer, chromium_executable

sys.path.insert(0, str(ROOT / "scripts"))
import learner_notebooks as ln  # noqa: E402

BUILT = ln.build()
RAW_MYST = re.compile(r"\{(?:glue|term|cite|ref|doc|numref|eq)[\w:]*\}`|```\{|^\([\w-]+\)=\s*$", re.M)


def _markdown(text: str) -> list[str]:
    notebook = json.loads(text)
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]


def test_every_chapter_has_a_learner_copy_in_sync():
    stale = [path.name for path, text in BUILT.items() if not path.is_file() or path.read_text() != text]
    assert not stale, f"learner copies out of date: {stale}; run `make learner` and commit learner/"
    assert {p.name for p in (ROOT / "learner").glob("*.ipynb")} == {p.name for p in BUILT}


@pytest.mark.parametrize("path", sorted(BUILT), ids=lambda p: p.stem)
def test_no_myst_role_or_directive_is_left(path):
    for text in _markdown(BUILT[path]):
        assert not RAW_MYST.search(text), f"{path.name}: raw MyST left: {RAW_MYST.search(text).group()!r}"


@pytest.mark.parametrize("path", sorted(BUILT), ids=lambda p: p.stem)
def test_exercises_are_numbered_from_one_with_folded_solutions(path):
    chapter = (ROOT / "chapters" / path.name).read_text()
    solutions = chapter.count("{solution-start}")
    markdown = "\n".join(_markdown(BUILT[path]))
    numbers = [int(n) for n in re.findall(r"^### Exercise (\d+)$", markdown, re.M)]
    assert numbers == list(range(1, chapter.count("{exercise-start}") + 1))
    assert markdown.count("<details>") == markdown.count("</details>") == solutions
    notebook = json.loads(BUILT[path])
    assert not [c for c in notebook["cells"] if "remove-cell" in c["metadata"].get("tags", [])]
    assert not [c for c in notebook["cells"] if c.get("outputs")], "learner copies carry no outputs"


def test_glued_numbers_terms_citations_and_references_become_plain_markdown():
    base = ln.site_url()
    markdown = "\n".join(_markdown(BUILT[ROOT / "learner" / "00_getting_started.ipynb"]))
    assert "vocabulary has 30,522 tokens" in markdown.replace("\n", " ")
    assert f"]({base}chapters/99_claims.html)" in markdown
    references = ln.load_references(ROOT / "references.bib")
    renderer = ln.Renderer("x", {"v": "0.75461"}, references, {"lab": ("01_lookup", "A title")},
                           {"06_pitfalls": "Production pitfalls"}, base)
    assert renderer.text("a {glue:text}`v:.2f` b") == "a 0.75 b"
    assert renderer.text("{term}`RoPE`") == f"[RoPE]({base}glossary.html#term-RoPE)"
    assert renderer.text("{term}`rope`") == f"[rope]({base}glossary.html#term-RoPE)"
    assert renderer.text("{term}`hubs <hubness>`") == f"[hubs]({base}glossary.html#term-hubness)"
    assert renderer.text("{cite:p}`su2021roformer`") == "([Su et al., 2021](https://arxiv.org/abs/2104.09864))"
    assert renderer.text("{cite:t}`su2021roformer`") == "[Su et al. (2021)](https://arxiv.org/abs/2104.09864)"
    assert renderer.text("{ref}`lab`") == f"[A title]({base}chapters/01_lookup.html#lab)"
    assert renderer.text("{doc}`06_pitfalls`") == f"[Production pitfalls]({base}chapters/06_pitfalls.html)"
    assert renderer.text("(lab)=\n# Heading") == "# Heading"
    with pytest.raises(KeyError, match="nope"):
        renderer.text("{glue:text}`nope`")


@pytest.mark.site
def test_a_learner_notebook_renders_in_a_browser_without_markup(tmp_path):
    """Rendered as plain Jupyter renders it (nbconvert's HTML), in headless Chromium."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    source = ROOT / "learner" / "01_lookup.ipynb"
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )
    with SiteServer(tmp_path) as server, Chromium(executable, tmp_path / "profile") as chromium:
        log = chromium.open(server.url + "01_lookup.html")
        text = chromium.evaluate("document.body.innerText")
        details = chromium.evaluate("[...document.querySelectorAll('details')].map(d => d.open)")
    assert not log.exceptions
    assert not re.search(r"\{(glue|term|cite|ref|doc)[\w:]*\}|```\{|exercise-start|solution-start", text)
    assert "Exercise 1" in text and details and not any(details)
