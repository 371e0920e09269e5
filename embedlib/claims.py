"""The claims ledger: what the seed notes assert, and where the course demonstrates it.

``claims.yml`` (beside this module) holds one record per claim id. Notebook cells that
demonstrate a claim carry the cell tag ``claim-CNN``; :func:`demonstrated_claims` reads those
tags, so tests can check that every claim is shown somewhere. A finding quotes the numbers
its chapter measured as glue references, ``{glue:text}`key:.3f` ``, filled in from the
chapter notebook's stored outputs (:func:`glued_values`), so the appendix cannot drift from
the chapters.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LEDGER = Path(__file__).with_name("claims.yml")
VERDICTS = ("confirmed", "nuanced", "corrected")
PENDING = "pending"
TAG_PATTERN = re.compile(r"^claim-(C\d\d)$")
TARGET_PATTERN = re.compile(r"^\(([\w-]+)\)=\s*$", re.M)
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`:]+)(?::([^`]*))?`")
GLUE_MIME = "application/papermill.record/text/plain"


@dataclass(frozen=True)
class Claim:
    """One claim of the seed notes and what the course found about it."""

    id: str
    chapter: str
    statement: str
    verdict: str = PENDING
    finding: str = ""
    label: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)


def load_claims(path: Path = LEDGER) -> list[Claim]:
    """Read and validate the ledger; raise ``ValueError`` naming the first bad record."""
    records = yaml.safe_load(path.read_text(encoding="utf-8"))
    claims = []
    for record in records:
        record = dict(record)
        record["sources"] = tuple(record.get("sources", ()))
        claim = Claim(**record)
        if not re.fullmatch(r"C\d\d", claim.id):
            raise ValueError(f"{path}: bad claim id {claim.id!r}; ids look like C07")
        if claim.verdict not in VERDICTS + (PENDING,):
            raise ValueError(f"{path}: {claim.id} has verdict {claim.verdict!r}; use one of {VERDICTS}")
        if claim.verdict != PENDING and not (claim.finding and claim.label):
            raise ValueError(f"{path}: {claim.id} has a verdict but no finding or label")
        claims.append(claim)
    ids = [c.id for c in claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate claim ids {duplicates}")
    return claims


def notebook_claim_tags(notebook: Path) -> set[str]:
    """Claim ids named by ``claim-CNN`` tags on the cells of one notebook."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    found = set()
    for cell in cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            match = TAG_PATTERN.match(tag)
            if match:
                found.add(match.group(1))
    return found


def demonstrated_claims(notebooks: list[Path]) -> dict[str, list[str]]:
    """Map each claim id to the notebooks (by stem) whose cells are tagged with it."""
    where: dict[str, list[str]] = {}
    for notebook in sorted(notebooks):
        for claim_id in notebook_claim_tags(notebook):
            where.setdefault(claim_id, []).append(Path(notebook).stem)
    return where


def undemonstrated(claims: list[Claim], notebooks: list[Path]) -> list[str]:
    """Ids of the claims that no notebook cell demonstrates."""
    where = demonstrated_claims(notebooks)
    return [claim.id for claim in claims if claim.id not in where]


def label_targets(notebooks: list[Path]) -> dict[str, list[str]]:
    """Map each MyST target ``(label)=`` at the start of a markdown line to the notebooks defining it."""
    where: dict[str, list[str]] = {}
    for notebook in sorted(notebooks):
        for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                for label in TARGET_PATTERN.findall("".join(cell["source"])):
                    where.setdefault(label, []).append(Path(notebook).stem)
    return where


def toc_chapters(toc: Path) -> set[str]:
    """Stems of the ``chapters/...`` files listed in a Jupyter Book ``_toc.yml`` (empty if absent)."""
    if not Path(toc).is_file():
        return set()
    return set(re.findall(r"file:\s*chapters/([\w-]+)", Path(toc).read_text(encoding="utf-8")))


def glued_values(notebook: Path) -> dict[str, str]:
    """The ``text/plain`` form of every value glued in a notebook's stored outputs, by name."""
    values = {}
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and GLUE_MIME in output.get("data", {}):
                values[name] = "".join(output["data"][GLUE_MIME])
    return values


def format_glued(text_plain: str, spec: str) -> str:
    """Format a glued value as the book's ``{glue:text}`key:spec` `` role shows it.

    The stored ``text/plain`` is a Python literal (``0.7546``, ``30522``, ``'queen'``); the
    format spec's type letter decides how it is read, as in myst-nb's glue roles.
    """
    try:
        value = ast.literal_eval(text_plain)
    except (SyntaxError, ValueError):
        value = text_plain
    if not spec:
        return str(value)
    kind = spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, spec)


def fill_glue(text: str, values: dict[str, str], where: str = "the text", missing: str | None = None) -> str:
    """Replace every ``{glue:text}`key:spec` `` in ``text`` by its formatted value.

    ``KeyError`` names the key (and ``where``) when a value was never glued, unless
    ``missing`` is given: then it stands in for the value (the chapter is not at hand).
    """
    def paste(match: re.Match) -> str:
        key, spec = match.group(1), match.group(2) or ""
        if key not in values:
            if missing is not None:
                return missing
            raise KeyError(f"{where} quotes {{glue:text}}`{key}`, which no cell glues")
        return format_glued(values[key], spec)

    return GLUE_ROLE.sub(paste, text)


def chapter_glue(claims: list[Claim], folder: Path) -> dict[str, dict[str, str]]:
    """The glued values of each claim's chapter notebook in ``folder`` (chapters absent: none)."""
    paths = {c.chapter: Path(folder) / f"{c.chapter}.ipynb" for c in claims}
    return {chapter: glued_values(path) for chapter, path in paths.items() if path.is_file()}


def verdict_counts(claims: list[Claim]) -> dict[str, int]:
    """How many claims have each verdict, in the order confirmed, nuanced, corrected, pending."""
    return {verdict: sum(c.verdict == verdict for c in claims) for verdict in VERDICTS + (PENDING,)}


def _sources(claim: Claim) -> str:
    return ", ".join(
        f"[{s}](https://arxiv.org/abs/{s[6:]})" if s.startswith("arXiv:") else f"{{cite:p}}`{s}`"
        for s in claim.sources
    ) or "—"


def _row(claim: Claim, linkable: set[str] | None, glued: dict[str, dict[str, str]] | None) -> str:
    if claim.label and (linkable is None or claim.label in linkable):
        where = f"{{ref}}`{claim.label}`"
    else:
        where = "not yet demonstrated"
    finding = claim.finding or "—"
    if glued is not None and claim.chapter in glued:
        finding = fill_glue(finding, glued[claim.chapter], f"the finding of {claim.id}")
    elif glued is not None:  # e.g. on Colab, where only the appendix notebook is at hand
        finding = fill_glue(finding, {}, missing="[measured in the chapter]")
    finding = finding.replace("|", "\\|").replace("\n", " ")
    return f"| {claim.id} | {claim.statement} | **{claim.verdict}** | {finding} | {where} | {_sources(claim)} |"


_HEADER = (
    "| Id | The claim | Verdict | What the course found | Where | Sources |",
    "|---|---|---|---|---|---|",
)


def verdict_table(
    claims: list[Claim], linkable: set[str] | None = None, glued: dict[str, dict[str, str]] | None = None
) -> str:
    """The ledger as one MyST Markdown table: id, claim, verdict, finding, where, sources.

    ``linkable``: the labels that exist in the built book; a claim whose label is not among
    them gets no link (None: link every label). ``glued``: each chapter's glued values
    (:func:`chapter_glue`), which fill the findings' glue references (None: leave them).
    """
    return "\n".join(_HEADER + tuple(_row(claim, linkable, glued) for claim in claims))


def verdict_page(
    claims: list[Claim], chapters: set[str], linkable: set[str], glued: dict[str, dict[str, str]] | None = None
) -> str:
    """The appendix: counts by verdict, then one table per chapter, in chapter order.

    ``chapters``: the chapter stems in the book (their headings link with ``{doc}``);
    ``linkable``: the labels defined in those chapters; ``glued``: their glued values (see
    :func:`verdict_table`).
    """
    counts = verdict_counts(claims)
    parts = [
        "| Verdict | Claims |",
        "|---|---|",
        *(f"| {verdict} | {count} |" for verdict, count in counts.items()),
        f"| **all** | **{len(claims)}** |",
    ]
    for chapter in sorted({c.chapter for c in claims}):
        group = [c for c in claims if c.chapter == chapter]
        title = f"{{doc}}`{chapter}`" if chapter in chapters else f"`{chapter}` (not in the book yet)"
        judged = sum(c.verdict != PENDING for c in group)
        parts += ["", f"**Chapter {title}**: {judged} of {len(group)} claims judged.", "",
                  verdict_table(group, linkable, glued)]
    return "\n".join(parts)
