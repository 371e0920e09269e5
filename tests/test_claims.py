"""The claims ledger: complete, valid, and every claim demonstrated by some notebook cell."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, chapter_notebooks
from embedlib.claims import PENDING, demonstrated_claims, load_claims, undemonstrated

SEED_IDS = [f"C{n:02d}" for n in range(1, 37)]  # the ids of the project's claims ledger
CLAIMS = load_claims()
WHERE = demonstrated_claims(chapter_notebooks())


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
