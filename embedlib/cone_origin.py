"""Chapter 6's cone-origin experiment, run once by a script and read back by the chapter.

Four window language models (:class:`embedlib.degeneration.WindowLM`) trained on the
WordPiece tokens of gensim's Lee background corpus: tied with Adam (400 steps, and the same
run kept at 100 steps), untied with Adam, tied with plain SGD. For each, the mean cosine
between its table's rows by how often the token occurs (Gao et al., 2019,
arXiv:1907.12009: rare rows collapse into a cone when the table is tied), and then what 100
steps of fine-tuning on the articles that mention "fire" do to the well-trained rows
(:func:`embedlib.degeneration.fine_tune_drift`).

Training takes about 20 s of one CPU thread, a third of the chapter's time budget, so
``scripts/cone_origin.py`` runs :func:`run_cone_origin` and stores the numbers in
``embedlib/results/cone_origin.json``; :func:`load_cone_origin` gives them back in the shapes
the chapter prints. Nothing is rounded on the way, and the run is seeded, so the script
reproduces the stored file on the same kernels.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from . import degeneration as dg
from . import diagnostics as diag
from . import rare_tokens as rt

RUNS: dict[str, tuple[bool, str, float, int]] = {  # name: (tied, optimizer, lr, steps)
    "tied, Adam": (True, "adam", 3e-3, 400),
    "untied, Adam": (False, "adam", 3e-3, 400),
    "tied, SGD": (True, "sgd", 1.0, 400),
    "tied, Adam, 100 steps": (True, "adam", 3e-3, 100),
}
EDGES = (1, 3, 10, 100)  # occurrence bands 1-2, 3-9, 10-99, 100+
FINE_TUNED = ("tied, Adam", "untied, Adam", "tied, SGD")
DOMAIN_WORD = "fire"


def train_runs(corpus: dg.TokenCorpus, runs: dict = RUNS) -> dict[str, dg.WindowLM]:
    """Train every run once per setting, keeping shorter runs as snapshots of longer ones."""
    lms: dict[str, dg.WindowLM] = {}
    for name, (tied, optimizer, lr, _) in runs.items():
        if name in lms:  # kept along the way by a longer run of the same settings
            continue
        lengths = {n: r[3] for n, r in runs.items() if r[:3] == (tied, optimizer, lr)}
        torch.manual_seed(0)
        model = dg.WindowLM(corpus.vocab_size, dim=64, window=4, hidden=256, tied=tied)
        kept = dg.window_lm_snapshots(
            model, corpus.ids, lengths.values(), batch_size=128, lr=lr, seed=0,
            optimizer=optimizer,
        )
        lms.update({n: kept[length] for n, length in lengths.items()})
    return lms


def domain_groups(corpus: dg.TokenCorpus) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The fine-tuning text, the well-trained rows (>= 20 occurrences) and the groups watched."""
    domain = corpus.select(DOMAIN_WORD)
    in_domain = torch.bincount(domain, minlength=corpus.vocab_size)
    groups = {
        "absent": in_domain == 0,
        "1-9 times": (in_domain > 0) & (in_domain < 10),
        "10+ times": in_domain >= 10,
    }
    return domain, corpus.counts >= 20, groups


def run_cone_origin(corpus: dg.TokenCorpus, runs: dict = RUNS, fine_tune_steps: int = 100) -> dict:
    """Train, measure and fine-tune; every number the chapter prints, as plain JSON types."""
    lms = train_runs(corpus, runs)
    tables = {name: lms[name].wte.weight.detach() for name in runs}
    tables["untied, Adam: output"] = lms["untied, Adam"].out.weight.detach()
    bands = {}
    for name, table in tables.items():
        bins = rt.by_count(table, corpus.counts, EDGES, statistic=diag.mean_cosine, min_rows=2)
        bands[name] = {b.label: {"n": b.n, "mean": b.mean} for b in bins}
    domain, watched, groups = domain_groups(corpus)
    fine_tuning = {}
    for name in (n for n in FINE_TUNED if n in runs):
        _, optimizer, lr, _ = runs[name]
        report = dg.fine_tune_drift(
            lms[name], domain, watched, groups, steps=fine_tune_steps, lr=lr, seed=1,
            optimizer=optimizer,
        )
        fine_tuning[name] = {group: asdict(drift) for group, drift in report.items()}
    return {
        "runs": {name: list(settings) for name, settings in runs.items()},
        "loss": {name: dg.window_lm_loss(lms[name], corpus.ids) for name in runs},
        "bands": bands,
        "mean_cosine": {name: diag.mean_cosine(t) for name, t in tables.items()},
        "mean_cosine_centred": {
            name: diag.mean_cosine(diag.center(t)) for name, t in tables.items()
        },
        "fine_tune_steps": fine_tune_steps,
        "fine_tuning": fine_tuning,
    }


def load_cone_origin(result: dict) -> tuple[dict, dict]:
    """The stored result's bands as :class:`rare_tokens.CountBin` and its fine-tuning reports
    as :class:`degeneration.Drift`: ``({run: {band: CountBin}}, {run: {group: Drift}})``."""
    by_count = {}
    for name, bands in result["bands"].items():
        bins = []
        for label, band in bands.items():
            low, _, high = label.partition("-")
            top = None if label.endswith("+") else int(high) + 1
            bins.append(rt.CountBin(int(low.rstrip("+")), top, band["n"], band["mean"]))
        by_count[name] = rt.by_label(bins)
    fine_tuning = {
        name: {group: dg.Drift(**drift) for group, drift in report.items()}
        for name, report in result["fine_tuning"].items()
    }
    return by_count, fine_tuning
