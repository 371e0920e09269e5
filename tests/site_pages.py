"""The website's pages as the book's sources define them: what the site tests expect to find."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from conftest import ROOT

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def _toc_docnames(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        found.extend([node["file"]] if "file" in node else [])
        for key, value in node.items():
            if key != "file":
                found.extend(_toc_docnames(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_toc_docnames(item))
    return found


@dataclass(frozen=True)
class Page:
    docname: str  # e.g. "chapters/01_lookup"
    source: Path

    @property
    def html(self) -> str:
        return f"{self.docname}.html"

    @property
    def is_notebook(self) -> bool:
        return self.source.suffix == ".ipynb"

    @property
    def is_chapter(self) -> bool:
        """A numbered teaching chapter (01-98): those must show figures."""
        return re.fullmatch(r"chapters/(0[1-9]|[1-8]\d|9[0-8])_\w+", self.docname) is not None

    def markdown(self) -> str:
        """The page's Markdown: the file itself, or a notebook's markdown cells joined."""
        if not self.is_notebook:
            return self.source.read_text()
        cells = json.loads(self.source.read_text())["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")

    def title(self) -> str:
        """The first level-1 heading, with Markdown emphasis and code marks removed."""
        match = re.search(r"^# (.+)$", self.markdown(), flags=re.MULTILINE)
        assert match, f"{self.source.name} has no level-1 heading to serve as its title"
        return re.sub(r"[*_`]", "", match.group(1)).strip()

    def count(self, directive: str) -> int:
        """How many ``{directive}`` blocks the page's Markdown opens (``` or ::: fences)."""
        return len(re.findall(r"^(?:```+|:::+)\{" + re.escape(directive) + r"\}", self.markdown(), flags=re.MULTILINE))

    def image_outputs(self) -> int:
        """How many stored cell outputs show an image on the page (the figures it must show).

        Outputs of cells tagged remove-output/remove-cell are not shown, and glued outputs
        (myst-nb's ``glue``, marked "scrapbook") appear where they are pasted, if anywhere.
        """
        if not self.is_notebook:
            return 0
        cells = json.loads(self.source.read_text())["cells"]
        return sum(
            1 for c in cells
            if c["cell_type"] == "code" and not {"remove-output", "remove-cell"} & set(c["metadata"].get("tags", []))
            for output in c.get("outputs", [])
            if any(k.startswith("image/") for k in output.get("data", {})) and "scrapbook" not in output.get("metadata", {})
        )

    @property
    def learner_copy(self) -> Path:
        """The chapter's learner notebook (plain Jupyter), which Colab and the download open."""
        return ROOT / "learner" / f"{Path(self.docname).name}.ipynb"

    def colab_url(self) -> str:
        """Where the page's Colab button must point: the learner copy in the configured repository."""
        repository = CONFIG["repository"]
        owner_name = repository["url"].removeprefix("https://github.com/")
        learner = f"learner/{Path(self.docname).name}"
        path = "/".join(p for p in (repository.get("path_to_book", "").strip("/"), learner) if p)
        return f"https://colab.research.google.com/github/{owner_name}/blob/{repository['branch']}/{path}.ipynb"


def _page(docname: str) -> Page:
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{docname}{suffix}").is_file():
            return Page(docname, ROOT / f"{docname}{suffix}")
    raise FileNotFoundError(f"_toc.yml lists {docname!r} but neither {docname}.ipynb nor {docname}.md exists")


PAGES = [_page(name) for name in [TOC["root"], *_toc_docnames(TOC.get("parts", TOC.get("chapters", [])))]]
NOTEBOOK_PAGES = [p for p in PAGES if p.is_notebook]
