"""embedlib.audit: findings against same-shape noise, masks, counts, JSON and HTML."""

from __future__ import annotations

import json

import pytest
import torch

import embedlib
from embedlib import diagnostics as diag
from embedlib.audit import AuditInputError, AuditReport, audit, baselines, core, masks

FAST = {"sample": 300, "repeats": 2, "k": 5}


def noise(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def cone(n: int, d: int, shift: float = 10.0, seed: int = 0) -> torch.Tensor:
    """Gaussian rows plus one common direction (mean cosine about shift^2 / (d + shift^2))."""
    direction = torch.nn.functional.normalize(noise(1, d, seed=seed + 1), dim=1)
    return noise(n, d, seed) + shift * direction


def warned(report: AuditReport) -> set[str]:
    return {f["id"] for f in report.findings if f["level"] == "warning"}


@pytest.mark.parametrize("n, d", [(2000, 384), (500, 32)])
def test_noise_raises_no_warning_and_no_negative_share(n, d):
    report = audit(noise(n, d), **FAST)
    assert warned(report) == set()
    assert all(
        t["share"] is None for t in report.dimensions["top"]
    )  # mean cosine is noise
    assert "-" not in str(report).split("shares of the mean cosine")[-1].split("\n")[0]
    # the observed value and its baseline are both reported
    assert (
        report.anisotropy["baseline"]["values"] and report.hubness["gaussian"]["values"]
    )


def test_a_planted_cone_warns_and_centring_is_measured():
    report = audit(cone(1500, 256), **FAST)
    assert "anisotropy" in warned(report)
    assert not {"rogue_cosine", "rogue_magnitude"} & warned(
        report
    )  # spread over dimensions
    assert report.anisotropy["mean_cosine"] > 0.2
    assert abs(report.anisotropy["mean_cosine_centred"]) < 0.01
    assert "centring brings it to" in " ".join(report.warnings)


def test_a_planted_rogue_dimension_warns_by_name():
    x = noise(2000, 384)
    x[:, 66] += 5.0  # every row leans on dimension 66
    report = audit(x, **FAST)
    assert "rogue_cosine" in warned(report)
    assert (
        report.dimensions["top"][0]["dim"] == 66
        and report.dimensions["top"][0]["share"] > 0.9
    )
    big = noise(2000, 384)
    big[:, 7] *= 10.0  # a dimension ten times larger, mean zero
    report = audit(big, **FAST)
    assert (
        "rogue_magnitude" in warned(report)
        and report.dimensions["top_sd"][0]["dim"] == 7
    )
    assert "rogue_cosine" not in warned(report)


def test_hubness_has_a_spread_and_its_mitigations_are_measured():
    x = cone(1200, 256)  # in a cone, rows nearer the common direction are hubs
    report = audit(x, sample=400, repeats=3, k=5)
    h = report.hubness
    assert (
        h["samples"] == 3
        and len(set(h["observed"]["values"])) == 3
        and h["observed"]["sd"] > 0
    )
    for key in ("centred", "csls", "gaussian", "permuted"):
        assert len(h[key]["values"]) == 3
    assert "hubness" in warned(report) and h["effect"]["centred"] == "lowers"
    # all rows fit in one sample: no resampling spread, said so
    small = audit(x[:200], sample=400, repeats=3, k=5)
    assert small.hubness["samples"] == 1 and small.hubness["sample"] == 200


def test_table_statistics_match_the_diagnostics_and_blocks_change_nothing(monkeypatch):
    x = noise(300, 12) + 0.5
    report = audit(x, **FAST)
    assert report.mean_cosine == pytest.approx(diag.mean_cosine(x), abs=1e-6)
    parts = torch.tensor(report.dimensions["parts"])
    torch.testing.assert_close(
        parts, diag.cosine_contributions(x).float(), atol=1e-6, rtol=0
    )
    units = torch.nn.functional.normalize(x, dim=1)
    whole = core._n_k(core._knn(units, 5)[0], 300)
    assert whole.tolist() == diag.k_occurrence(x, k=5).tolist()
    monkeypatch.setattr(core, "BLOCK_ROWS", 64)
    assert core._n_k(core._knn(units, 5)[0], 300).tolist() == whole.tolist()
    assert audit(x, **FAST).mean_cosine == pytest.approx(report.mean_cosine, abs=1e-6)


def test_the_report_is_float32_and_seeded():
    x = noise(400, 16).double()
    first, second = audit(x, **FAST).as_dict(), audit(x, **FAST).as_dict()
    assert first == second and first["dtype"] == "float32"
    assert audit(x, seed=1, **FAST).hubness["observed"] != first["hubness"]["observed"]


def test_baselines_keep_norms_and_columns():
    gen = torch.Generator().manual_seed(0)
    norms = torch.rand(50) + 0.5
    g = baselines.gaussian_like(norms, 8, gen)
    torch.testing.assert_close(g.norm(dim=1), norms)
    x = noise(40, 6)
    shuffled = baselines.permute_columns(x, gen)
    torch.testing.assert_close(shuffled.sort(dim=0).values, x.sort(dim=0).values)
    assert not torch.equal(shuffled, x)


def test_duplicate_rows_match_a_slow_loop():
    x = noise(60, 5)
    x[10], x[20], x[59], x[33] = x[3], x[3], x[7], x[31]
    slow = {
        j: min(i for i in range(j) if torch.equal(x[i], x[j]))
        for j in range(60)
        if any(torch.equal(x[i], x[j]) for i in range(j))
    }
    assert masks.duplicate_rows(x) == slow == {10: 3, 20: 3, 33: 31, 59: 7}


def test_untrained_rows_are_flagged_by_name_and_can_be_masked():
    x = noise(200, 16)
    labels = [f"w{i}" for i in range(200)]
    labels[:4] = ["[PAD]", "[CLS]", "[unused0]", "[unused1]"]
    x[5] = 0.0  # near-zero
    x[6] = 1e-6 * x[7]
    x[9] = x[8]  # duplicate
    report = audit(x, tokens=labels, **FAST)
    u = report.untrained
    assert u["unused"]["examples"] == ["[unused0]", "[unused1]"]
    assert u["special"]["examples"] == ["[PAD]", "[CLS]"]
    assert u["near_zero"]["examples"] == ["w5", "w6"] and u["duplicates"][
        "examples"
    ] == ["w8", "w9"]
    assert u["rows_used"] == 198  # near-zero rows never enter cosines
    assert {"near_zero", "duplicates", "untrained_names"} <= warned(report)
    masked = audit(x, tokens=labels, mask_untrained=True, **FAST)
    assert masked.untrained["rows_used"] == 200 - 8 and masked.untrained["masked"]
    assert "dropped" in " ".join(masked.warnings)
    text = str(report)
    assert "[unused0]" in text and "--mask-untrained" in text


def test_hubs_that_are_untrained_rows_are_named_so():
    x = cone(300, 256)
    labels = [f"w{i}" for i in range(300)]
    for i in range(5):  # placeholder rows along the cone's axis: everybody's neighbours
        x[i] = 3 * x.mean(dim=0) + 0.5 * noise(1, 256, seed=10 + i)[0]
        labels[i] = f"[unused{i}]"
    report = audit(x, tokens=labels, **FAST)
    assert report.hubness["hubs"][0]["flags"] == ["unused"]
    assert "try --mask-untrained" in " ".join(report.warnings)


def test_counts_by_label_and_what_they_can_say():
    x = noise(50, 8)
    labels = [f"w{i}" for i in range(50)]
    report = audit(
        x, tokens=labels, word_counts={"w0": 500, "w1": 3, "unknown": 9}, **FAST
    )
    c, f = report.counts, report.fragmentation
    assert (
        c["rows_used"] == 2
        and c["share_rare_of_used"] == 0.5
        and c["rare_below"] == 100
    )
    assert f["mode"] == "labels" and f["share_words_found"] == pytest.approx(2 / 3)
    assert f["examples_missing"] == ["unknown"]
    assert "not from the model's training data" in c["conclusions"]
    assert "expect unstable vectors" not in str(report)
    per_row = torch.zeros(50, dtype=torch.int64)
    per_row[:3] = torch.tensor([0, 150, 20])
    assert audit(x, counts=per_row, **FAST).counts["rows_used"] == 2


def test_the_json_schema():
    report = audit(noise(100, 8), tokens=[f"t{i}" for i in range(100)], **FAST)
    data = json.loads(report.to_json())
    assert data["schema"] == "embedlib.audit/1"
    for key in (
        "source",
        "rows",
        "dims",
        "dtype",
        "settings",
        "untrained",
        "norms",
        "anisotropy",
        "dimensions",
        "hubness",
        "cosine_histograms",
        "counts",
        "fragmentation",
        "findings",
    ):
        assert key in data
    for key in ("observed", "centred", "csls", "gaussian", "permuted"):
        assert set(data["hubness"][key]) == {"values", "mean", "sd", "min", "max"}
    assert all(
        set(f) == {"id", "level", "message"} and f["level"] in {"warning", "ok", "info"}
        for f in data["findings"]
    )
    assert isinstance(data["hubness"]["hubs"][0]["label"], str)
    assert sum(data["norms"]["histogram"]["counts"]) == 100
    assert len(data["dimensions"]["parts"]) == 8


def test_html_holds_its_four_figures_with_alt_text():
    from embedlib.audit.html import render

    report = audit(noise(120, 8), **FAST)
    page = render(report._data, str(report))
    assert page.count('<img src="data:image/png;base64,') == 4
    assert page.count(' alt="') == 4 and 'alt=""' not in page
    for title in ("Row norms", "Hubness", "Dimensions", "Cosines"):
        assert f"<figcaption>{title}</figcaption>" in page


def test_old_entry_points_still_work():
    x = noise(60, 8)
    assert isinstance(diag.audit(x, k=5, sample=50, repeats=1), AuditReport)
    assert isinstance(
        embedlib.audit(x, k=5, sample=50, repeats=1), AuditReport
    )  # callable module
    assert diag.AuditReport is AuditReport is embedlib.AuditReport


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: audit(torch.ones(2, 4)), "at least 3"),
        (lambda: audit(torch.ones(4)), "2-D"),
        (
            lambda: audit(torch.tensor([[1.0, float("nan")]] * 4)),
            "nan at row 0, column 1",
        ),
        (lambda: audit(noise(5, 3), k=5), "rows are left"),
        (lambda: audit(noise(5, 3), k=2, counts=[1, 2]), "one count per vector"),
        (lambda: audit(noise(5, 3), k=2, tokens=["a"]), "token names"),
        (lambda: audit(torch.zeros(6, 3), k=2), "near-zero"),
    ],
)
def test_bad_input_to_the_function(call, message):
    with pytest.raises(AuditInputError, match=message):
        call()
