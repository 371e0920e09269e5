"""The audit itself: each statistic beside the same statistic on noise of the same shape.

For a table ``x`` [n, d] (rows = tokens or words) the audit measures

- row norms, near-zero rows, duplicate rows and rows named like untrained placeholders
  (:mod:`embedlib.audit.masks`); near-zero rows never enter cosine statistics;
- the mean cosine over all pairs of kept rows, exact in O(nd)
  (:func:`embedlib.diagnostics.mean_cosine`), raw and after centring;
- each dimension's part of that mean cosine,
  :math:`c_j = (s_j^2 - \\sum_i u_{ij}^2) / (n(n-1))` with :math:`s = \\sum_i u_i` over unit
  rows (Timkey & van Schijndel, 2021, arXiv:2109.04404), and the largest over the median
  of the columns' standard deviations (one coordinate varying far more than the rest);
- hubness: the skewness of :math:`N_k` (Radovanović et al., 2010) on ``repeats`` random
  samples of ``sample`` rows, raw, after centring and with CSLS (Conneau et al., 2018,
  arXiv:1710.04087), so each suggested mitigation is measured before it is suggested.

Every statistic is also computed on Gaussian vectors with the table's row norms and shape
(and hubness on a column-permutation null too, :mod:`embedlib.audit.baselines`). A
warning needs the observed value beyond that baseline *and* beyond a practical size, both
printed. Everything runs in float32 with blocked similarities, so peak memory stays near
one copy of the table.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Sequence

import torch

from .. import diagnostics
from ..similarity import normalize_rows
from . import baselines, counts as counting, masks
from .loaders import AuditInputError, as_float32

SCHEMA = "embedlib.audit/1"
BLOCK_ROWS = 2048
# practical sizes a finding must also exceed (beyond its noise baseline)
MEAN_COSINE_MIN = 0.1  # a cone worth centring for
ROGUE_SHARE_MIN = 0.25  # one dimension holding a quarter of the mean cosine
ROGUE_OVER_NOISE = 10.0  # ... and 10x the largest part any dimension holds in noise
MAGNITUDE_RATIO_MIN = 3.0  # largest/median column RMS
HUB_SKEW_MIN = 1.0
HUB_MARGIN = 0.5  # skewness above the noise baseline's largest value
MITIGATION_MARGIN = (
    0.3  # a mitigation "helps" if it lowers mean skewness by more than this
)
HIST_ROWS = 2000  # rows whose pairwise cosines fill the cosine histograms
HIST_BINS = 80


def _progress(enabled: bool | None):
    from tqdm.auto import tqdm

    quiet = not sys.stderr.isatty() if enabled is None else not enabled

    def bar(iterable=None, total=None, desc=""):
        return tqdm(
            iterable,
            total=total,
            desc=desc,
            disable=quiet,
            leave=False,
            file=sys.stderr,
        )

    return bar


def _spread(values: Sequence[float]) -> dict:
    t = torch.tensor(list(values), dtype=torch.float64)
    return {
        "values": [float(v) for v in t],
        "mean": float(t.mean()),
        "sd": float(t.std()) if t.numel() > 1 else 0.0,
        "min": float(t.min()),
        "max": float(t.max()),
    }


def _row_blocks(x: torch.Tensor, keep: torch.Tensor, mu: torch.Tensor | None = None):
    for start in range(0, x.shape[0], BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS]
        mask = keep[start : start + BLOCK_ROWS]
        if not bool(mask.all()):
            block = block[mask]
        if mu is not None:
            block = block - mu
        yield block


def _moments(blocks) -> dict:
    """One pass: unit-row sums (mean cosine, parts per dimension), raw column sums of squares."""
    s = q = sq = None
    n = 0
    for block in blocks:
        if s is None:
            d = block.shape[1]
            s, q, sq = (torch.zeros(d, dtype=torch.float64) for _ in range(3))
            col = torch.zeros(d, dtype=torch.float64)
        # float32 sums within a block (sum(dtype=float64) is many times slower), float64 across
        units = normalize_rows(block)
        s += units.sum(dim=0).double()
        q += units.square_().sum(dim=0).double()
        sq += block.square().sum(dim=0).double()
        col += block.sum(dim=0).double()
        n += block.shape[0]
    pairs = n * (n - 1)
    parts = (s * s - q) / pairs
    mean = col / n
    # each dimension's spread around its own mean: a common offset (a cone) is the parts'
    # business; this catches one coordinate that varies far more than the rest
    sd = (sq / n - mean * mean).clamp_min(0).sqrt()
    return {
        "n": n,
        "mean_cosine": float(parts.sum()),
        "parts": parts,
        "sd": sd,
        "sd_ratio": float(sd.max() / sd.median().clamp_min(1e-30)),
        "mean": mean,
    }


def _knn(units: torch.Tensor, k: int, r: torch.Tensor | None = None):
    """Top-k neighbours of every row among the other rows (cosine, or CSLS given r)."""
    m = units.shape[0]
    ids = torch.empty(m, k, dtype=torch.int64)
    values = torch.empty(m, k, dtype=units.dtype)
    for start in range(0, m, BLOCK_ROWS):
        block = units[start : start + BLOCK_ROWS] @ units.T  # [rows, m]
        if r is not None:
            block.mul_(2).sub_(r[start : start + block.shape[0], None]).sub_(r[None, :])
        rows = torch.arange(block.shape[0])
        block[rows, rows + start] = -torch.inf
        v, i = block.topk(k, dim=1)
        ids[start : start + block.shape[0]], values[start : start + block.shape[0]] = (
            i,
            v,
        )
    return ids, values


def _n_k(ids: torch.Tensor, m: int) -> torch.Tensor:
    return torch.bincount(ids.reshape(-1), minlength=m)


def _histogram(units: torch.Tensor) -> list[int]:
    h = units[:HIST_ROWS]
    cos = h @ h.T
    upper = cos[torch.triu(torch.ones_like(cos, dtype=torch.bool), diagonal=1)]
    return (
        torch.histc(upper.clamp(-1, 1), bins=HIST_BINS, min=-1, max=1).long().tolist()
    )


class AuditReport:
    """What :func:`audit` found. ``print(report)`` for people, ``report.as_dict()`` for code.

    Top-level keys are also attributes (``report.hubness["observed"]["mean"]``);
    ``report.warnings`` lists the findings that warn.
    """

    def __init__(self, data: dict):
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def warnings(self) -> list[str]:
        return [f["message"] for f in self._data["findings"] if f["level"] == "warning"]

    @property
    def mean_cosine(self) -> float:
        return self._data["anisotropy"]["mean_cosine"]

    @property
    def hub_skewness(self) -> float:
        return self._data["hubness"]["observed"]["mean"]

    def as_dict(self) -> dict:
        return json.loads(self.to_json())

    def to_json(self, indent: int | None = None) -> str:
        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            return value

        return json.dumps(
            clean(self._data), indent=indent, allow_nan=False, ensure_ascii=False
        )

    def plot(self):
        """The report's four figures in one matplotlib figure: returns (figure, alt text)."""
        from .html import plot

        return plot(self._data)

    def html(self) -> str:
        """The self-contained HTML page (what ``--html`` writes)."""
        from .html import render

        return render(self._data, str(self))

    def __str__(self) -> str:
        from .report import format_text

        return format_text(self._data)

    def __repr__(self) -> str:
        return f"<AuditReport {self._data['rows']:,} x {self._data['dims']}: {len(self.warnings)} warning(s)>"


def audit(
    vectors: Any,
    counts: Sequence[int] | torch.Tensor | None = None,
    *,
    tokens: Sequence[str] | None = None,
    word_counts: dict[str, int] | None = None,
    tokenizer: Any = None,
    special_tokens: Sequence[str] = (),
    mask_untrained: bool = False,
    k: int = 10,
    sample: int = 5000,
    repeats: int = 3,
    rare_below: int = 100,
    top: int = 10,
    seed: int = 0,
    source: str = "tensor",
    progress: bool | None = None,
) -> AuditReport:
    """Audit an embedding table ``vectors`` [n, d]; every finding is checked against noise.

    Args:
        vectors: one row per token or word (tensor or array; used as float32).
        counts: optional count of each row's token in *your* corpus (one per row).
        tokens: optional names of the rows (token strings or words).
        word_counts: optional {word: count} from your corpus; with ``tokenizer`` each word is
            cut into the model's tokens (fragmentation) and its count given to each piece,
            else words are matched to ``tokens``. Use instead of ``counts``.
        tokenizer: the model's tokenizer (special tokens and fragmentation).
        special_tokens: extra names to flag as special.
        mask_untrained: drop rows flagged as untrained (special or unused names, near-zero,
            duplicates) from every statistic. Near-zero rows are always left out of cosines.
        k: neighbourhood size for N_k and CSLS.
        sample: rows per hubness sample (cost O(sample^2 d) per pass).
        repeats: samples (seeds ``seed``, ``seed + 1``, ...) for the hubness spread and noise
            draws for every baseline.
        rare_below: the count under which a row counts as rare in your corpus.
        top: how many hubs and dimensions to list.
        seed: seed of the samples and of the noise baselines.
        source: what the table is, for the report.
        progress: show progress bars (None: only when stderr is a terminal).
    """
    bar = _progress(progress)
    x = as_float32(vectors, "the table")
    n, d = x.shape
    try:
        diagnostics.check_vectors(x, "the table", min_rows=3)
    except ValueError as error:
        raise AuditInputError(f"{error}") from None
    if tokens is not None and len(tokens) != n:
        raise AuditInputError(
            f"got {len(tokens)} token names for {n} vectors; pass one name per row"
        )
    if counts is not None and word_counts is not None:
        raise AuditInputError(
            "pass counts (one per row) or word_counts ({word: count}), not both"
        )
    if repeats < 1 or sample < 3:
        raise AuditInputError(
            f"repeats={repeats} must be >= 1 and sample={sample} >= 3"
        )
    labels = list(tokens) if tokens is not None else None
    specials = set(special_tokens) | set(
        getattr(tokenizer, "all_special_tokens", []) or []
    )

    norms = torch.empty(n, dtype=torch.float32)
    for start in range(0, n, BLOCK_ROWS):
        norms[start : start + BLOCK_ROWS] = x[start : start + BLOCK_ROWS].norm(dim=1)
    flags = masks.flag_rows(x, norms, labels, specials)
    reasons = flags.reasons()
    keep = torch.ones(n, dtype=torch.bool)
    keep[flags.near_zero] = False
    if mask_untrained:
        keep[list(reasons)] = False
    kept = int(keep.sum())
    if kept < max(3, k + 2):
        raise AuditInputError(
            f"only {kept} rows are left after removing near-zero"
            f"{' and untrained' if mask_untrained else ''} rows; the audit needs at "
            f"least {max(3, k + 2)} (lower -k or drop --mask-untrained)"
        )
    name = (lambda i: labels[i]) if labels is not None else (lambda i: f"row {i}")

    def listed(rows):
        return {"count": len(rows), "examples": [name(i) for i in rows[:top]]}

    data: dict[str, Any] = {
        "schema": SCHEMA,
        "source": source,
        "rows": n,
        "dims": d,
        "dtype": "float32",
        "settings": {
            "k": k,
            "sample": sample,
            "repeats": repeats,
            "seed": seed,
            "top": top,
            "mask_untrained": mask_untrained,
            "rare_below": rare_below,
        },
        "untrained": {
            "near_zero": listed(flags.near_zero),
            "duplicates": listed(flags.duplicates),
            "duplicate_groups": len(set(flags.duplicate_of.values())),
            "unused": listed(flags.unused),
            "special": listed(flags.special),
            "flagged": len(reasons),
            "rows_used": kept,
            "masked": mask_untrained,
        },
    }
    kept_norms = norms[keep]
    edges = torch.linspace(0, float(norms.max()) * 1.0001 + 1e-12, 41)
    data["norms"] = {
        "mean": float(kept_norms.mean()),
        "median": float(kept_norms.median()),
        "min": float(kept_norms.min()),
        "max": float(kept_norms.max()),
        "histogram": {
            "edges": edges.tolist(),
            "counts": torch.histogram(norms, edges).hist.long().tolist(),
        },
    }

    # ---- anisotropy and dimensions: every kept row, exact; the baseline on Gaussian rows
    steps = bar(total=2 + repeats, desc="table statistics")
    raw = _moments(_row_blocks(x, keep))
    steps.update()
    centred = _moments(_row_blocks(x, keep, raw["mean"].float()))
    steps.update()
    null = []
    for r in range(repeats):
        gen = torch.Generator().manual_seed(seed + 1000 + r)
        null.append(_moments(baselines.gaussian_blocks(kept_norms, d, gen, BLOCK_ROWS)))
        steps.update()
    steps.close()
    null_cos = _spread([m["mean_cosine"] for m in null])
    # a few draws estimate the noise's sd poorly: floor it by the isotropic value,
    # sd of the mean of n(n-1)/2 pairwise cosines, each of variance 1/d
    null_cos["sd_isotropic"] = math.sqrt(2 / (d * kept * (kept - 1)))
    noise_sd = max(null_cos["sd"], null_cos["sd_isotropic"])
    beyond = (
        raw["mean_cosine"] > null_cos["max"]
        and raw["mean_cosine"] - null_cos["mean"] > 5 * noise_sd
    )
    data["anisotropy"] = {
        "mean_cosine": raw["mean_cosine"],
        "mean_cosine_centred": centred["mean_cosine"],
        "baseline": null_cos,
        "beyond_baseline": bool(beyond),
        "warn": bool(beyond and raw["mean_cosine"] >= MEAN_COSINE_MIN),
    }
    parts = raw["parts"]
    order = torch.argsort(parts, descending=True)[:top]
    null_part = _spread([float(m["parts"].max()) for m in null])
    top_share = float(parts[order[0]] / raw["mean_cosine"]) if beyond else None
    rogue_cos = bool(
        beyond
        and top_share >= ROGUE_SHARE_MIN
        and float(parts[order[0]]) > ROGUE_OVER_NOISE * null_part["max"]
    )
    null_ratio = _spread([m["sd_ratio"] for m in null])
    rogue_mag = bool(raw["sd_ratio"] > max(2 * null_ratio["max"], MAGNITUDE_RATIO_MIN))
    sd_order = torch.argsort(raw["sd"], descending=True)[:top]
    data["dimensions"] = {
        "parts": parts.tolist(),
        "baseline_parts": null[0]["parts"].tolist(),
        "top": [
            {
                "dim": int(j),
                "part": float(parts[j]),
                "share": float(parts[j] / raw["mean_cosine"]) if beyond else None,
            }
            for j in order
        ],
        "baseline_max_part": null_part,
        "warn_cosine": rogue_cos,
        "sd_ratio": raw["sd_ratio"],
        "baseline_sd_ratio": null_ratio,
        "top_sd": [{"dim": int(j), "sd": float(raw["sd"][j])} for j in sd_order],
        "median_sd": float(raw["sd"].median()),
        "warn_magnitude": rogue_mag,
    }

    # ---- hubness on samples: raw, centred, CSLS; baselines Gaussian and permuted columns
    kept_rows = torch.nonzero(keep).flatten()
    m = min(sample, kept)
    observed_repeats = (
        repeats if m < kept else 1
    )  # all rows used: resampling changes nothing
    skews = {"observed": [], "centred": [], "csls": [], "gaussian": [], "permuted": []}
    antihubs, hub_rows, first_counts = [], None, None
    mu = raw["mean"].float()
    passes = bar(
        total=observed_repeats * 3 + repeats * 2, desc=f"hubness (samples of {m:,})"
    )
    hist = {}
    for r in range(repeats):
        gen = torch.Generator().manual_seed(seed + r)
        rows = (
            kept_rows[torch.randperm(kept, generator=gen)[:m]]
            if m < kept
            else kept_rows
        )
        xs = x[rows]
        if r < observed_repeats:
            units = normalize_rows(xs)
            ids, values = _knn(units, k)
            counts_k = _n_k(ids, m)
            skews["observed"].append(diagnostics.skewness(counts_k))
            antihubs.append(float((counts_k == 0).double().mean()))
            passes.update()
            ids_csls, _ = _knn(units, k, r=values.mean(dim=1))
            skews["csls"].append(diagnostics.skewness(_n_k(ids_csls, m)))
            passes.update()
            centred_units = normalize_rows(xs - mu)
            skews["centred"].append(
                diagnostics.skewness(_n_k(_knn(centred_units, k)[0], m))
            )
            passes.update()
            if r == 0:
                first_counts = counts_k
                hub_order = torch.argsort(counts_k, descending=True, stable=True)[:top]
                hub_rows = [(int(rows[i]), int(counts_k[i])) for i in hub_order]
                hist["raw"] = _histogram(units)
                hist["centred"] = _histogram(centred_units)
            del units, centred_units
        noise = normalize_rows(baselines.gaussian_like(norms[rows], d, gen))
        skews["gaussian"].append(diagnostics.skewness(_n_k(_knn(noise, k)[0], m)))
        if r == 0:
            hist["gaussian"] = _histogram(noise)
        del noise
        passes.update()
        permuted = normalize_rows(baselines.permute_columns(xs, gen))
        skews["permuted"].append(diagnostics.skewness(_n_k(_knn(permuted, k)[0], m)))
        del permuted, xs
        passes.update()
    passes.close()
    spreads = {key: _spread(values) for key, values in skews.items()}
    obs, gauss = spreads["observed"], spreads["gaussian"]
    hub_warn = bool(
        obs["mean"] >= HUB_SKEW_MIN and obs["min"] > gauss["max"] + HUB_MARGIN
    )

    def effect(key):
        change = spreads[key]["mean"] - obs["mean"]
        margin = max(MITIGATION_MARGIN, obs["sd"] + spreads[key]["sd"])
        return (
            "lowers" if change < -margin else "raises" if change > margin else "leaves"
        )

    data["hubness"] = {
        "k": k,
        "sample": m,
        "samples": observed_repeats,
        **spreads,
        "effect": {"centred": effect("centred"), "csls": effect("csls")},
        "antihub_fraction": _spread(antihubs),
        "hubs": [
            {"row": row, "label": name(row), "n_k": c, "flags": reasons.get(row, [])}
            for row, c in hub_rows
        ],
        "n_k_counts": torch.bincount(first_counts).tolist(),
        "warn": hub_warn,
    }
    data["cosine_histograms"] = {
        "edges": torch.linspace(-1, 1, HIST_BINS + 1).tolist(),
        "rows": min(m, HIST_ROWS),
        **hist,
    }

    # ---- your corpus: counts per row and fragmentation
    data["counts"], data["fragmentation"] = None, None
    if word_counts is not None:
        counts, data["fragmentation"] = counting.row_counts(
            word_counts, n, labels, tokenizer
        )
    if counts is not None:
        counts = torch.as_tensor(counts).long().flatten()
        if counts.numel() != n:
            raise AuditInputError(
                f"counts has {counts.numel()} entries; pass one count per vector ({n})"
            )
        data["counts"] = counting.summarise_row_counts(counts, keep, rare_below)
        data["counts"]["conclusions"] = counting.CONCLUSIONS.format(rare=rare_below)
    data["findings"] = findings(data)
    data["notes"] = []
    return AuditReport(data)


def findings(data: dict) -> list[dict]:
    """The warnings (each with its observed value and baseline) and the checks that passed."""
    out = []

    def add(id_, level, message):
        out.append({"id": id_, "level": level, "message": message})

    u = data["untrained"]
    verb = "dropped" if u["masked"] else "included; --mask-untrained drops them"
    if u["near_zero"]["count"]:
        add(
            "near_zero",
            "warning",
            f"{u['near_zero']['count']:,} near-zero rows (e.g. "
            f"{', '.join(u['near_zero']['examples'][:3])}) are left out of every cosine statistic",
        )
    if u["duplicates"]["count"]:
        add(
            "duplicates",
            "warning",
            f"{u['duplicates']['count']:,} rows in {u['duplicate_groups']:,} "
            f"groups of identical rows (e.g. {', '.join(u['duplicates']['examples'][:3])}; {verb})",
        )
    if u["unused"]["count"]:
        add(
            "untrained_names",
            "warning",
            f"{u['unused']['count']:,} unused/placeholder rows (e.g. "
            f"{', '.join(u['unused']['examples'][:3])}), probably never trained ({verb})",
        )
    if u["special"]["count"]:
        add(
            "special_tokens",
            "info",
            f"{u['special']['count']:,} special tokens (e.g. "
            f"{', '.join(u['special']['examples'][:3])}; {verb})",
        )
    a = data["anisotropy"]
    b = a["baseline"]
    if a["warn"]:
        add(
            "anisotropy",
            "warning",
            f"a cone: mean cosine {a['mean_cosine']:.3f} against "
            f"{b['mean']:.1e} +- {b['sd']:.1e} on noise; centring brings it to "
            f"{a['mean_cosine_centred']:.3f}: centre (or whiten) before thresholding cosines",
        )
    else:
        size = "beyond noise but small" if a["beyond_baseline"] else "within noise"
        add(
            "anisotropy",
            "ok",
            f"no cone: mean cosine {a['mean_cosine']:.3f} ({size}; noise "
            f"{b['mean']:.1e} +- {b['sd']:.1e}; a warning needs {MEAN_COSINE_MIN} and beyond noise)",
        )
    dims = data["dimensions"]
    first = dims["top"][0]
    if dims["warn_cosine"]:
        add(
            "rogue_cosine",
            "warning",
            f"rogue dimension {first['dim']}: it carries "
            f"{first['share']:.0%} of the mean cosine (part {first['part']:.4f}; the largest part "
            f"of any dimension on noise {dims['baseline_max_part']['max']:.1e}); cosines mostly "
            "measure that one coordinate: centre, or standardise dimensions",
        )
    if dims["warn_magnitude"]:
        big = dims["top_sd"][0]
        add(
            "rogue_magnitude",
            "warning",
            f"dimension {big['dim']} spreads {dims['sd_ratio']:.1f}x "
            f"as widely as the median dimension (standard deviation; noise of this shape "
            f"{dims['baseline_sd_ratio']['max']:.2f}x): it dominates dot products and cosines; "
            "standardise dimensions or check that coordinate",
        )
    if not (dims["warn_cosine"] or dims["warn_magnitude"]):
        add(
            "dimensions",
            "ok",
            f"no rogue dimension: largest/median dimension spread "
            f"{dims['sd_ratio']:.2f}x (noise {dims['baseline_sd_ratio']['max']:.2f}x)",
        )
    h = data["hubness"]
    o, g = h["observed"], h["gaussian"]
    spread = (
        f"{o['mean']:.2f} +- {o['sd']:.2f} over {h['samples']} samples"
        if h["samples"] > 1
        else f"{o['mean']:.2f} (all rows)"
    )
    if h["warn"]:
        helps = [
            (h[key]["mean"], label)
            for key, label in (("centred", "centring"), ("csls", "CSLS"))
            if h["effect"][key] == "lowers"
        ]
        advice = (
            "; ".join(
                f"{label} lowers it to {value:.2f}" for value, label in sorted(helps)
            )
            if helps
            else "neither centring nor CSLS lowers it here"
        )
        for effect_name in ("raises", "leaves"):
            for key, label in (("centred", "centring"), ("csls", "CSLS")):
                if h["effect"][key] == effect_name:
                    advice += f"; {label} {effect_name} it ({h[key]['mean']:.2f})"
        flagged = sum(1 for hub in h["hubs"] if hub["flags"])
        extra = (
            (
                f"; {flagged} of the top {len(h['hubs'])} hubs are flagged untrained/special rows"
                f"{'' if data['untrained']['masked'] else ' (try --mask-untrained)'}"
            )
            if flagged
            else ""
        )
        add(
            "hubness",
            "warning",
            f"hubs: N_{h['k']} skewness {spread}, against {g['mean']:.2f} on "
            f"noise (permuted columns {h['permuted']['mean']:.2f}); {advice}{extra}",
        )
    else:
        add(
            "hubness",
            "ok",
            f"hubness like noise or mild: N_{h['k']} skewness {spread} "
            f"(noise {g['mean']:.2f}; a warning needs {HUB_SKEW_MIN} and noise + {HUB_MARGIN})",
        )
    c = data["counts"]
    if c is not None:
        add(
            "counts",
            "info",
            f"your counts touch {c['rows_used']:,} of {c['rows']:,} rows; "
            f"{c['share_rare_of_used']:.0%} of those fewer than {c['rare_below']} times",
        )
    f = data["fragmentation"]
    if f is not None and f["mode"] == "tokenizer":
        add(
            "fragmentation",
            "info",
            f"the tokenizer cuts your {f['words']:,} words into "
            f"{f['pieces_per_word']:.2f} pieces on average ({f['pieces_per_occurrence']:.2f} per "
            f"running word); {f['share_split']:.0%} are split, {f['share_split_3']:.0%} into 3+",
        )
    return out
