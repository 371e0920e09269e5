"""embedlib.cone_origin: the stored run of chapter 6's experiment, and the code that makes it."""

from __future__ import annotations

import math

import pytest
import torch

from embedlib import degeneration as dg
from embedlib import diagnostics as diag
from embedlib import rare_tokens as rt
from embedlib.bench_results import stored_result
from embedlib.cone_origin import EDGES, RUNS, domain_groups, load_cone_origin, run_cone_origin

TINY_RUNS = {  # the chapter's four settings, a few steps each
    "tied, Adam": (True, "adam", 3e-3, 6),
    "untied, Adam": (False, "adam", 3e-3, 6),
    "tied, SGD": (True, "sgd", 1.0, 6),
    "tied, Adam, 100 steps": (True, "adam", 3e-3, 2),
}


@pytest.fixture(scope="module")
def tiny_corpus() -> dg.TokenCorpus:
    """40 tokens; the two "fire" documents use tokens 0-19 often and 20-23 three times each,
    the other two use all 40, so every group of the fine-tuning report has rows."""
    generator = torch.Generator().manual_seed(0)
    common = lambda: torch.randint(0, 20, (500,), generator=generator)  # noqa: E731
    spread = lambda: torch.randint(0, 40, (600,), generator=generator)  # noqa: E731
    rare = torch.arange(20, 24).repeat(3)
    parts = [torch.cat([common(), rare]), spread(), common(), spread()]
    ids = torch.cat(parts)
    ends = torch.tensor([0] + [len(p) for p in parts]).cumsum(0)
    return dg.TokenCorpus(
        ids=ids,
        counts=torch.bincount(ids, minlength=40),
        tokens=[f"t{i}" for i in range(40)],
        documents=["a fire broke out", "nothing here", "the fire spread", "calm"],
        offsets=ends,
    )


def test_a_run_measures_what_the_chapter_prints(tiny_corpus):
    result = run_cone_origin(tiny_corpus, TINY_RUNS, fine_tune_steps=3)
    assert list(result["loss"]) == list(TINY_RUNS)
    assert set(result["bands"]) == set(TINY_RUNS) | {"untied, Adam: output"}
    assert list(result["fine_tuning"]) == ["tied, Adam", "untied, Adam", "tied, SGD"]
    # the short run is the long run's snapshot: the same as training it on its own
    torch.manual_seed(0)
    alone = dg.WindowLM(tiny_corpus.vocab_size, dim=64, window=4, hidden=256, tied=True)
    dg.train_window_lm(alone, tiny_corpus.ids, 2, batch_size=128, lr=3e-3, seed=0)
    bins = rt.by_count(alone.wte.weight.detach(), tiny_corpus.counts, EDGES, diag.mean_cosine, 2)
    stored = result["bands"]["tied, Adam, 100 steps"]
    assert {b.label: b.mean for b in bins} == {k: v["mean"] for k, v in stored.items()}


def test_load_gives_the_bands_and_drifts_back(tiny_corpus):
    result = run_cone_origin(tiny_corpus, TINY_RUNS, fine_tune_steps=3)
    by_count, fine_tuning = load_cone_origin(result)
    for name, bands in result["bands"].items():
        assert list(by_count[name]) == list(bands)  # labels round-trip: "1-2" ... "100+"
        for label, band in bands.items():
            assert (by_count[name][label].n, by_count[name][label].mean) == (band["n"], band["mean"])
    drift = fine_tuning["tied, SGD"]["absent"]
    assert isinstance(drift, dg.Drift) and drift.n == result["fine_tuning"]["tied, SGD"]["absent"]["n"]


def test_domain_groups_split_the_watched_rows_by_use(tiny_corpus):
    domain, watched, groups = domain_groups(tiny_corpus)
    assert domain.numel() == 512 + 500  # documents 0 and 2 mention "fire"
    assert watched.tolist() == (tiny_corpus.counts >= 20).tolist()
    total = sum(mask.long() for mask in groups.values())
    assert total.eq(1).all(), "every token in exactly one group"


def test_the_stored_run_is_the_chapters_experiment():
    cone = stored_result("cone_origin")
    assert {name: tuple(r) for name, r in cone["runs"].items()} == RUNS
    assert cone["fine_tune_steps"] == 100 and cone["script"] == "scripts/cone_origin.py"
    numbers = [v for bands in cone["bands"].values() for b in bands.values() for v in b.values()]
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert list(cone["bands"]["tied, Adam"]) == ["1-2", "3-9", "10-99", "100+"]
