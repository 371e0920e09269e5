"""The claims ledger: complete, valid, and every claim demonstrated by some notebook cell."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, chapter_notebooks
from embedlib.claims import (
    GLUE_ROLE,
    PENDING,
    VERDICTS,
    chapter_glue,
    demonstrated_claims,
    fill_glue,
    format_glued,
    label_targets,
    load_claims,
    toc_chapters,
    undemonstrated,
    verdict_counts,
    verdict_page,
    verdict_table,
)

SEED_IDS = [f"C{n:02d}" for n in range(1, 37)]  # the ids of the project's claims ledger
CLAIMS = load_claims()
WHERE = demonstrated_claims(chapter_notebooks())
TOC_CHAPTERS = toc_chapters(ROOT / "_toc.yml")
TARGETS = label_targets(chapter_notebooks())
LINKABLE = {label for label, stems in TARGETS.items() if set(stems) & TOC_CHAPTERS}
JUDGED = [c for c in CLAIMS if c.verdict != PENDING]
GLUED = chapter_glue(CLAIMS, ROOT / "chapters")


def test_ledger_has_exactly_the_seed_ids_in_order():
    assert [c.id for c in CLAIMS] == SEED_IDS


def test_every_claim_names_an_existing_or_planned_chapter():
    for claim in CLAIMS:
        assert re.fullmatch(r"\d\d_[a-z_]+", claim.chapter), claim


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, reason=f"{c.id} is pending: no chapter demonstrates it yet")]
            if c.verdict == PENDING
            else [],
        )
        for c in CLAIMS
    ],
)
def test_claim_is_demonstrated_and_judged(claim):
    """A judged claim must be tagged in a notebook; a pending one is an expected failure.

    strict=True: once a chapter tags a pending claim, this test passes unexpectedly and fails
    the run until the ledger gets the verdict.
    """
    assert claim.id in WHERE, f"{claim.id} is demonstrated by no notebook cell (tag a cell claim-{claim.id})"
    assert claim.verdict != PENDING, f"{claim.id} is demonstrated in {WHERE[claim.id]} but its verdict is pending"


def test_only_pending_claims_may_be_undemonstrated():
    """The count itself is printed at the end of every run (conftest.pytest_terminal_summary)."""
    missing = undemonstrated(CLAIMS, chapter_notebooks())
    pending = [c.id for c in CLAIMS if c.verdict == PENDING]
    assert set(missing) <= set(pending), f"judged but not demonstrated: {sorted(set(missing) - set(pending))}"


def test_tags_name_only_known_claims():
    assert set(WHERE) <= set(SEED_IDS), sorted(set(WHERE) - set(SEED_IDS))


def test_judged_claims_link_to_a_target_that_exists():
    targets = set()
    for notebook in chapter_notebooks():
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                targets.update(re.findall(r"^\(([\w-]+)\)=", "".join(cell["source"]), re.M))
    for claim in CLAIMS:
        if claim.verdict != PENDING:
            assert claim.label in targets, f"{claim.id}: no MyST target ({claim.label})= in any chapter"


def test_coverage_check_fails_on_an_untagged_notebook(tmp_path):
    """The coverage machinery can fail: a notebook without tags demonstrates nothing."""
    notebook = tmp_path / "untagged.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": ["claim-C05"]}, "source": ""},
                                              {"cell_type": "code", "metadata": {}, "source": ""}]}))
    assert undemonstrated(CLAIMS, [notebook]) == [c for c in SEED_IDS if c != "C05"]


def test_bad_ledger_is_rejected(tmp_path):
    ledger = tmp_path / "claims.yml"
    ledger.write_text("- {id: C01, chapter: 01_lookup, statement: x, verdict: maybe}\n")
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        load_claims(ledger)
    ledger.write_text("- {id: C01, chapter: 01_lookup, statement: x, verdict: confirmed}\n")
    with pytest.raises(ValueError, match="no finding or label"):
        load_claims(ledger)


# The appendix page (chapters/99_claims.ipynb) and the links it makes.


def _rows(page: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in page.splitlines():
        match = re.match(r"\| (C\d\d) \|", line)
        if match:
            rows.setdefault(match.group(1), []).append(line)
    return rows


def test_appendix_has_one_row_per_claim_with_its_verdict():
    rows = _rows(verdict_page(CLAIMS, TOC_CHAPTERS, LINKABLE))
    assert sorted(rows) == SEED_IDS
    for claim in CLAIMS:
        (row,) = rows[claim.id]
        assert f"| **{claim.verdict}** |" in row, row
        assert claim.statement in row


@pytest.mark.parametrize("claim", JUDGED, ids=lambda c: c.id)
def test_judged_claim_links_to_a_unique_target_in_a_book_chapter(claim):
    """A judged claim's row links with {ref} to a label defined once, in a chapter listed in _toc.yml."""
    assert claim.label in TARGETS, f"{claim.id}: no ({claim.label})= in any chapter"
    assert len(TARGETS[claim.label]) == 1, f"{claim.id}: ({claim.label})= is defined in {TARGETS[claim.label]}"
    assert TARGETS[claim.label][0] in TOC_CHAPTERS, f"{claim.id}: {TARGETS[claim.label][0]} is not in _toc.yml"
    (row,) = _rows(verdict_page(CLAIMS, TOC_CHAPTERS, LINKABLE, GLUED))[claim.id]
    assert f"{{ref}}`{claim.label}`" in row
    assert fill_glue(claim.finding, GLUED[claim.chapter]).replace("|", "\\|") in row


def test_sources_are_arxiv_ids_or_bibliography_keys():
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(), re.M))
    for claim in CLAIMS:
        for source in claim.sources:
            assert re.fullmatch(r"arXiv:\d{4}\.\d{4,5}", source) or source in keys, f"{claim.id}: unknown source {source!r}"


@pytest.mark.parametrize(
    "text_plain, spec",
    [("0.7546119213104248", ".3f"), ("30522", ","), ("30522", ""), ("0.9721", ".1%"), ("'queen'", ""),
     ("3", ".2f"), ("1.0507e-05", ".2e"), ("128256", ",d"), ("12.0", ".0f"), ("True", "")],
)
def test_glued_values_are_formatted_as_the_book_formats_them(text_plain, spec):
    variables = pytest.importorskip("myst_nb.core.variables", reason="needs the book stack")
    format_plain_text = variables.format_plain_text  # the book's own formatting

    assert format_glued(text_plain, spec) == format_plain_text(text_plain, spec)


def test_a_finding_quoting_a_value_nobody_glued_is_an_error():
    with pytest.raises(KeyError, match="the finding of C99 quotes .*`nope`"):
        fill_glue("measured {glue:text}`nope:.2f` here", {"yes": "1"}, "the finding of C99")
    assert fill_glue("{glue:text}`yes:.2f` and {glue:text}`yes`", {"yes": "1"}) == "1.00 and 1"
    assert fill_glue("{glue:text}`nope`", {}, missing="[?]") == "[?]"
    page = verdict_page(CLAIMS, set(), set(), glued={})  # no chapter notebook at hand (Colab)
    assert "{glue:text}" not in page and "[measured in the chapter]" in page


@pytest.mark.parametrize("claim", JUDGED, ids=lambda c: c.id)
def test_numbers_in_a_finding_come_from_its_chapter(claim):
    """A finding's measured numbers are glue references; any number typed by hand (a published
    figure, a count) must appear in its chapter's text or outputs, so it cannot drift away."""
    chapter = json.loads((ROOT / "chapters" / f"{claim.chapter}.ipynb").read_text())
    shown = " ".join(
        "".join(cell["source"]) + " ".join(
            "".join(value) for output in cell.get("outputs", [])
            for value in [*output.get("data", {}).values(), output.get("text", "")]
            if isinstance(value, (str, list))
        )
        for cell in chapter["cells"]
    )
    typed = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", GLUE_ROLE.sub("", claim.finding))
    missing = [number for number in typed if number.rstrip(",") not in shown]
    assert not missing, f"{claim.id}: {missing} are typed in the finding but shown nowhere in {claim.chapter}"


def test_verdict_counts_add_up():
    counts = verdict_counts(CLAIMS)
    assert list(counts) == [*VERDICTS, PENDING]
    assert sum(counts.values()) == len(CLAIMS) == 36


def test_page_links_nothing_it_cannot_resolve():
    """Without the book (e.g. on Colab) the page names chapters and labels but links none."""
    page = verdict_page(CLAIMS, set(), set())
    assert "{ref}" not in page and "{doc}" not in page
    assert "not yet demonstrated" in verdict_table(CLAIMS[:1], linkable=set())
    assert "{ref}`x-y`" in verdict_table([CLAIMS[0].__class__("C01", "01_lookup", "s", "confirmed", "f", "x-y")])


def test_stored_appendix_is_the_current_ledger():
    """The book shows the stored output of 99_claims: it must be what the ledger gives now."""
    cells = json.loads((ROOT / "chapters" / "99_claims.ipynb").read_text())["cells"]
    stored = ["".join(o["data"]["text/markdown"]) for c in cells if c["cell_type"] == "code"
              for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    assert stored == [verdict_page(CLAIMS, TOC_CHAPTERS, LINKABLE, GLUED)], (
        "chapters/99_claims.ipynb is out of date: re-run it (make execute NB=chapters/99_claims.ipynb)"
    )


@pytest.mark.site
def test_built_appendix_links_every_judged_claim(built_site):
    page = (built_site / "chapters" / "99_claims.html").read_text()
    for claim in JUDGED:
        stem = TARGETS[claim.label][0]
        assert re.search(rf'href="{re.escape(stem)}\.html#{re.escape(claim.label)}"', page), claim.id
