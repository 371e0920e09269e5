"""The audit as text: every statistic beside its noise baseline, then the findings."""

from __future__ import annotations

import textwrap

WIDTH = 88
MARKS = {"warning": "!", "ok": "ok", "info": "-"}


def _pm(spread: dict, digits: int = 2, style: str = "f") -> str:
    def f(v):
        return f"{v:.{digits}{style}}"

    if len(spread["values"]) == 1:
        return f(spread["mean"])
    return f"{f(spread['mean'])} +- {f(spread['sd'])} [{f(spread['min'])}, {f(spread['max'])}]"


def format_text(data: dict) -> str:
    s = data["settings"]
    u = data["untrained"]
    n = data["norms"]
    a = data["anisotropy"]
    dims = data["dimensions"]
    h = data["hubness"]
    lines = [
        f"embedding audit: {data['source']}",
        f"  {data['rows']:,} rows x {data['dims']} dims (float32); {u['rows_used']:,} rows in the "
        f"statistics{' (untrained rows masked)' if u['masked'] else ''}",
        f"  rows flagged    {u['near_zero']['count']:,} near-zero, {u['duplicates']['count']:,} "
        f"duplicate, {u['unused']['count']:,} unused names, {u['special']['count']:,} special",
        f"  row length      mean {n['mean']:.3f}, median {n['median']:.3f}, "
        f"range {n['min']:.3g} to {n['max']:.3g}",
        f"  {'statistic':<36}{'observed':>12}   noise of this shape ({s['repeats']} draw(s))",
        f"  {'mean cosine':<36}{a['mean_cosine']:>12.4f}   {_pm(a['baseline'], 1, 'e')}",
        f"  {'mean cosine after centring':<36}{a['mean_cosine_centred']:>12.4f}",
        f"  {'largest part of one dimension':<36}{dims['top'][0]['part']:>12.3g}   "
        f"{_pm(dims['baseline_max_part'], 2, 'e')}",
        f"  {'largest/median dimension spread':<36}{dims['sd_ratio']:>11.2f}x   "
        f"{_pm(dims['baseline_sd_ratio'])}",
    ]
    obs_label = f"N_{h['k']} skewness ({h['samples']} x {h['sample']:,} rows)"
    lines += [
        f"  {obs_label:<36}{h['observed']['mean']:>12.2f}   {_pm(h['gaussian'])}",
        f"  {'  spread over samples':<36}{h['observed']['sd']:>12.2f}   "
        f"range {h['observed']['min']:.2f} to {h['observed']['max']:.2f}",
        f"  {'  noise: permuted columns':<36}{'':>12}   {_pm(h['permuted'])}",
        f"  {'  after centring':<36}{h['centred']['mean']:>12.2f}   ({h['effect']['centred']} it)",
        f"  {'  with CSLS':<36}{h['csls']['mean']:>12.2f}   ({h['effect']['csls']} it)",
        f"  {'  anti-hubs (N_k = 0)':<36}{h['antihub_fraction']['mean']:>12.1%}",
    ]
    if dims["top"][0]["share"] is not None:
        lines.append(
            "  dimensions' shares of the mean cosine: "
            + ", ".join(f"{t['dim']} ({t['share']:.0%})" for t in dims["top"][:5])
        )
    hubs = ", ".join(
        f"{hub['label']} ({hub['n_k']}{', ' + '/'.join(hub['flags']) if hub['flags'] else ''})"
        for hub in h["hubs"][: s["top"]]
    )
    lines += textwrap.wrap(
        "top hubs (N_k): " + hubs, WIDTH, initial_indent="  ", subsequent_indent="    "
    )
    c = data["counts"]
    if c is not None:
        lines.append(
            f"  your counts     {c['rows_used']:,} of {c['rows']:,} rows used, "
            f"{c['share_rare_of_used']:.1%} of them fewer than {c['rare_below']} times"
        )
    f = data["fragmentation"]
    if f is not None and f["mode"] == "tokenizer":
        examples = "; ".join(
            f"{e['word']} -> {' '.join(e['pieces'])}" for e in f["examples"][:4]
        )
        lines += textwrap.wrap(
            f"fragmentation: {f['pieces_per_word']:.2f} pieces per word, "
            f"{f['share_split']:.0%} of {f['words']:,} words split; e.g. {examples}",
            WIDTH,
            initial_indent="  ",
            subsequent_indent="    ",
        )
    elif f is not None:
        lines.append(
            f"  your words      {f['share_words_found']:.0%} of {f['words']:,} found in the "
            f"table ({f['share_occurrences_found']:.0%} of occurrences)"
        )
    lines.append("findings:")
    for finding in data["findings"]:
        mark = MARKS[finding["level"]]
        lines += textwrap.wrap(
            finding["message"],
            WIDTH,
            initial_indent=f"  {mark:<3}",
            subsequent_indent="     ",
        )
    if c is not None:
        lines += textwrap.wrap(
            c["conclusions"],
            WIDTH,
            initial_indent="  about counts: ",
            subsequent_indent="     ",
        )
    lines += [f"  note: {note}" for note in data.get("notes", [])]
    return "\n".join(lines)
