"""Build the learner's copies of the chapters: plain Jupyter notebooks with no MyST left.

The chapters (``chapters/*.ipynb``) are written for Jupyter Book: their prose uses MyST roles
(``{glue:text}`key:.3f` ``, ``{term}`RoPE` ``, ``{cite:p}`su2021roformer` ``, ``{ref}``,
``{doc}``) and the exercise directives of sphinx-exercise, which plain Jupyter, Colab and a
downloaded ``.ipynb`` show as raw text. This tool writes ``learner/NN_topic.ipynb`` for each
chapter of ``_toc.yml``, with:

- glued numbers filled in from the chapter's stored outputs, formatted as on the website;
- glossary terms, cross-references and chapter references as links to the website's pages;
- citations as "Author et al. (year)" / "(Author et al., year)" linking to the paper (arXiv or
  DOI, from ``references.bib``);
- each exercise as a numbered heading (numbers restart in every chapter) with its task and
  checker cell, and its solution folded in an HTML ``<details>`` block (the solution's code
  is shown there, not run, so it cannot overwrite the learner's answer);
- hidden check cells (tag ``remove-cell``) left out;
- no stored outputs: the learner runs the cells (the website shows every output), which
  keeps the copies small enough to download and to serve (9 MB with outputs, most of it
  figures twice the screen's resolution).

Usage: python scripts/learner_notebooks.py [--check]   (``make learner``; --check: fail if stale)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from embedlib.claims import format_glued, glued_values, toc_chapters  # noqa: E402

LEARNER = ROOT / "learner"
TARGET_LINE = re.compile(r"^\(([\w-]+)\)=[ \t]*\n?", re.M)
DIRECTIVE = re.compile(r"^```\{(exercise-start|exercise-end|solution-start|solution-end)\}([^\n]*)\n(.*?)^```[ \t]*\n?", re.M | re.S)
ROLE = re.compile(r"\{(glue:text|term|cite:p|cite:t|ref|doc)\}`([^`]+)`")
ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5})")


GLOSSARY: dict[str, str] = {}  # filled by build(): lower-case term -> term as in glossary.md


@dataclass(frozen=True)
class Reference:
    """A bibliography entry as the text cites it: first author's surname, year, a link."""

    authors: str
    year: str
    url: str | None


def site_url() -> str:
    """The website's address, from ``html.baseurl`` in ``_config.yml`` (ends with '/')."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["html"]["baseurl"].rstrip("/") + "/"


def load_references(bib: Path) -> dict[str, Reference]:
    """Every entry of a BibTeX file, keyed as cited; links from its DOI or arXiv id."""
    from pybtex.database import parse_file

    references = {}
    for key, entry in parse_file(str(bib)).entries.items():
        people = entry.persons.get("author", [])
        surnames = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        if len(surnames) > 2 or "others" in surnames:
            authors = f"{surnames[0]} et al."
        else:
            authors = " and ".join(surnames) or entry.fields.get("title", key)
        fields = entry.fields
        arxiv = ARXIV.search(" ".join(fields.get(f, "") for f in ("note", "journal", "eprint")))
        if "doi" in fields:
            url = f"https://doi.org/{fields['doi']}"
        elif "url" in fields:
            url = fields["url"]
        elif arxiv:
            url = f"https://arxiv.org/abs/{arxiv.group(1)}"
        else:
            url = None
        references[key] = Reference(authors, fields.get("year", "n.d."), url)
    return references


def _heading_after(text: str, start: int) -> str | None:
    match = re.compile(r"^#+\s+(.+?)\s*$", re.M).search(text, start)
    if match and not text[start:match.start()].strip():
        return match.group(1)
    return None


def book_targets(notebooks: list[Path]) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Labels -> (notebook stem, section title), and notebook stem -> its page title."""
    labels, titles = {}, {}
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        for index, text in enumerate(markdown):
            first = re.search(r"^#\s+(.+?)\s*$", text, re.M)
            if first and path.stem not in titles:
                titles[path.stem] = first.group(1)
            for match in TARGET_LINE.finditer(text):
                title = _heading_after(text, match.end())
                if title is None and index + 1 < len(markdown):
                    title = _heading_after(markdown[index + 1], 0)
                labels[match.group(1)] = (path.stem, title or match.group(1))
    return labels, titles


def glossary_terms(glossary: Path) -> dict[str, str]:
    """The glossary's terms as written there, keyed by their lower case ({term} ignores case)."""
    text = glossary.read_text(encoding="utf-8")
    block = re.search(r"^```\{glossary\}\n(.*?)^```", text, re.M | re.S)
    terms = re.findall(r"^(\S[^\n]*)$", block.group(1), re.M) if block else []
    return {term.strip().lower(): term.strip() for term in terms}


def _glossary_anchor(term: str) -> str:
    from sphinx.util.nodes import _make_id  # Sphinx's own ids for glossary terms

    return _make_id(f"term-{GLOSSARY.get(term.lower(), term)}")


def _split_target(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    match = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content.strip(), re.S)
    return (match.group(1), match.group(2)) if match else (None, content.strip())


class Renderer:
    """Turns one chapter's MyST prose into plain Markdown with links to the website."""

    def __init__(self, stem: str, glued: dict[str, str], references: dict[str, Reference],
                 labels: dict[str, tuple[str, str]], titles: dict[str, str], base: str):
        self.stem, self.glued, self.references = stem, glued, references
        self.labels, self.titles, self.base = labels, titles, base

    def role(self, match: re.Match) -> str:
        kind, content = match.group(1), match.group(2)
        if kind == "glue:text":
            key, _, spec = content.partition(":")
            if key not in self.glued:
                raise KeyError(f"{self.stem}: {{glue:text}}`{key}` is glued by no cell")
            return format_glued(self.glued[key], spec)
        if kind == "term":
            text, term = _split_target(content)
            return f"[{text or term}]({self.base}glossary.html#{_glossary_anchor(term)})"
        if kind in ("cite:p", "cite:t"):
            return self._cite(kind, [k.strip() for k in content.split(",")])
        if kind == "ref":
            text, label = _split_target(content)
            stem, title = self.labels[label]
            return f"[{text or title}]({self.base}chapters/{stem}.html#{label})"
        text, target = _split_target(content)  # {doc}
        stem = Path(target).name
        page = f"chapters/{stem}" if (ROOT / "chapters" / f"{stem}.ipynb").is_file() else stem
        return f"[{text or self.titles.get(stem, stem)}]({self.base}{page}.html)"

    def _cite(self, kind: str, keys: list[str]) -> str:
        parts = []
        for key in keys:
            reference = self.references[key]
            text = (f"{reference.authors} ({reference.year})" if kind == "cite:t"
                    else f"{reference.authors}, {reference.year}")
            parts.append(f"[{text}]({reference.url})" if reference.url else text)
        return "; ".join(parts) if kind == "cite:t" else f"({'; '.join(parts)})"

    def text(self, markdown: str) -> str:
        return ROLE.sub(self.role, TARGET_LINE.sub("", markdown))


def _exercise_label(body: str) -> str | None:
    match = re.search(r"^:label:\s*(\S+)", body, re.M)
    return match.group(1) if match else None


def learner_notebook(path: Path, renderer: Renderer, base: str) -> nbformat.NotebookNode:
    """The learner's copy of one chapter (see the module docstring for what changes)."""
    source = nbformat.read(path, as_version=4)
    cells: list[nbformat.NotebookNode] = []
    markdown: list[str] = []
    solution: list[str] | None = None
    exercises: dict[str, int] = {}

    def flush() -> None:
        text = re.sub(r"\n{3,}", "\n\n", "".join(markdown)).strip("\n")
        markdown.clear()
        if text.strip():
            cells.append(nbformat.v4.new_markdown_cell(text))

    for cell in source.cells:
        if "remove-cell" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            if solution is not None:
                solution.append(f"```python\n{cell.source.rstrip()}\n```\n\n")
                continue
            flush()
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata=copy.deepcopy(cell.metadata)))
            continue
        text, position = cell.source, 0
        for match in DIRECTIVE.finditer(text):
            prose = renderer.text(text[position:match.start()])
            (solution if solution is not None else markdown).append(prose)
            position = match.end()
            name, argument, body = match.group(1), match.group(2).strip(), match.group(3)
            if name == "exercise-start":
                label = _exercise_label(body) or f"exercise-{len(exercises) + 1}"
                exercises[label] = len(exercises) + 1
                markdown.append(f"\n\n### Exercise {exercises[label]}\n\n")
            elif name == "solution-start":
                number = exercises.get(argument, len(exercises))
                solution = [f"<details>\n<summary>Solution to exercise {number} (try it first)</summary>\n\n"]
            elif name == "solution-end" and solution is not None:
                markdown.append("\n\n" + "".join(solution).rstrip("\n") + "\n\n</details>\n\n")
                solution = None
        rest = renderer.text(text[position:])
        (solution if solution is not None else markdown).append(rest + "\n\n")
    flush()
    title = renderer.titles.get(path.stem, path.stem)
    note = (
        f"*The learner's copy of the chapter [{title}]({base}chapters/{path.stem}.html), "
        f"generated from `chapters/{path.stem}.ipynb` by `scripts/learner_notebooks.py`. "
        "Run the cells from the top to see their outputs; the website shows them all.*"
    )
    cells.insert(0, nbformat.v4.new_markdown_cell(note))
    for index, cell in enumerate(cells):
        cell["id"] = f"{path.stem[:2]}-{index:03d}"
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    notebook.nbformat_minor = max(source.nbformat_minor, 5)
    return notebook


def chapter_paths() -> list[Path]:
    return [ROOT / "chapters" / f"{stem}.ipynb" for stem in sorted(toc_chapters(ROOT / "_toc.yml"))]


def build() -> dict[Path, str]:
    """Every learner notebook as the JSON text it should have, by its path."""
    paths = chapter_paths()
    GLOSSARY.update(glossary_terms(ROOT / "glossary.md"))
    labels, titles = book_targets(paths)
    references = load_references(ROOT / "references.bib")
    base = site_url()
    built = {}
    for path in paths:
        renderer = Renderer(path.stem, glued_values(path), references, labels, titles, base)
        notebook = learner_notebook(path, renderer, base)
        built[LEARNER / path.name] = nbformat.writes(notebook) + "\n"
    return built


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a learner copy is stale")
    options = parser.parse_args(arguments)
    stale = []
    for path, text in build().items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not options.check:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if options.check and stale:
        print(f"stale learner notebooks: {', '.join(p.name for p in stale)}; run `make learner`")
        return 1
    print(f"{'checked' if options.check else 'wrote'} {len(chapter_paths())} learner notebooks in learner/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
