"""The claims ledger: what the seed notes assert, and where the course demonstrates it.

``claims.yml`` (beside this module) holds one record per claim id. Notebook cells that
demonstrate a claim carry the cell tag ``claim-CNN``; :func:`demonstrated_claims` reads those
tags, so tests can check that every claim is shown somewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LEDGER = Path(__file__).with_name("claims.yml")
VERDICTS = ("confirmed", "nuanced", "corrected")
PENDING = "pending"
TAG_PATTERN = re.compile(r"^claim-(C\d\d)$")


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


def verdict_table(claims: list[Claim]) -> str:
    """The ledger as a MyST Markdown table: id, claim, verdict, finding, where, sources."""
    rows = [
        "| Id | The claim | Verdict | What the course found | Where | Sources |",
        "|---|---|---|---|---|---|",
    ]
    for claim in claims:
        where = f"{{ref}}`{claim.label}`" if claim.label else "not yet demonstrated"
        sources = ", ".join(
            f"{{cite:p}}`{s}`" if not s.startswith("arXiv:") else f"[{s}](https://arxiv.org/abs/{s[6:]})"
            for s in claim.sources
        )
        verdict = claim.verdict if claim.verdict != PENDING else "pending"
        rows.append(
            f"| {claim.id} | {claim.statement} | **{verdict}** | {claim.finding or '—'} | {where} | {sources or '—'} |"
        )
    return "\n".join(rows)
