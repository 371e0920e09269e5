"""The audit's figures, and the audit as one self-contained HTML page.

Four panels, each with alt text built from the numbers: the row-norm histogram; the N_k
histogram with the largest hubs labelled; each dimension's part of the mean cosine beside
noise of the same shape; pairwise-cosine histograms raw, centred and on noise. The page
holds the text report and the panels as inline PNGs (nothing else is fetched).
"""

from __future__ import annotations

import base64
import html
import io

from ..figures import PALETTE, apply_style

TITLES = ("Row norms", "Hubness", "Dimensions", "Cosines")


def _safe(label: str) -> str:
    """Labels outside the font (CJK, scripts) are written as escapes instead of boxes."""
    return label if label.isascii() else ascii(label)[1:-1]


def draw_norms(ax, data: dict) -> str:
    n = data["norms"]
    edges, counts = n["histogram"]["edges"], n["histogram"]["counts"]
    ax.stairs(counts, edges, fill=True, color=PALETTE["blue"])
    ax.set(xlabel="row norm (length)", ylabel="rows", title="Row norms")
    return (
        f"Histogram of the {data['rows']:,} row norms: x axis row length from 0 to "
        f"{edges[-1]:.3g}, y axis number of rows; mean {n['mean']:.3g}, median {n['median']:.3g}, "
        f"range {n['min']:.3g} to {n['max']:.3g}; {data['untrained']['near_zero']['count']} "
        "near-zero rows."
    )


def draw_hubness(ax, data: dict) -> str:
    h = data["hubness"]
    nk = h["n_k_counts"]
    ax.bar(range(len(nk)), nk, width=1.0, color=PALETTE["blue"])
    ax.set_yscale("log")
    ax.set(
        xlabel=f"N_{h['k']}: times a row is among others' {h['k']} nearest",
        ylabel="rows (log)",
        title=f"k-occurrence, {h['sample']:,} sampled rows",
    )
    for j, hub in enumerate(h["hubs"][:3]):
        ax.annotate(
            _safe(hub["label"])[:18],
            (hub["n_k"], 1),
            xytext=(hub["n_k"], 3 * 3**j),
            fontsize=8,
            color=PALETTE["vermillion"],
            ha="right",
            arrowprops={"arrowstyle": "-", "color": PALETTE["vermillion"]},
        )
    return (
        f"Histogram of N_{h['k']} on a sample of {h['sample']:,} rows, log y axis; skewness "
        f"{h['observed']['mean']:.2f} against {h['gaussian']['mean']:.2f} on noise; the largest "
        "hubs, labelled: "
        + ", ".join(f"{x['label']} ({x['n_k']})" for x in h["hubs"][:3])
        + "."
    )


def draw_dimensions(ax, data: dict) -> str:
    d = data["dimensions"]
    ax.plot(
        range(len(d["parts"])),
        d["parts"],
        color=PALETTE["blue"],
        label="this table",
        lw=1,
    )
    ax.plot(
        range(len(d["baseline_parts"])),
        d["baseline_parts"],
        color=PALETTE["orange"],
        linestyle="--",
        label="noise, same shape",
        lw=1,
    )
    ax.set(
        xlabel="dimension",
        ylabel="part of the mean cosine",
        title="Where the mean cosine comes from",
    )
    ax.legend(frameon=False)
    top = d["top"][0]
    return (
        f"Line plot of each of the {len(d['parts'])} dimensions' part of the mean cosine "
        f"({data['anisotropy']['mean_cosine']:.3f} in all), beside Gaussian noise of the same "
        f"shape (dashed); the largest part is dimension {top['dim']} with {top['part']:.3g}, "
        f"against {d['baseline_max_part']['max']:.2g} at most on noise."
    )


def draw_cosines(ax, data: dict) -> str:
    c = data["cosine_histograms"]
    styles = (
        ("raw", "this table", "blue", "-"),
        ("centred", "centred", "green", "--"),
        ("gaussian", "noise, same shape", "orange", ":"),
    )
    for key, label, colour, style in styles:
        total = max(sum(c[key]), 1)
        ax.stairs(
            [v / total for v in c[key]],
            c["edges"],
            color=PALETTE[colour],
            linestyle=style,
            label=label,
            lw=1.5,
        )
    ax.set(
        xlabel="cosine between two rows",
        ylabel="share of pairs",
        title=f"Pairwise cosines, {c['rows']:,} rows",
    )
    ax.legend(frameon=False)
    a = data["anisotropy"]
    return (
        f"Histograms of the pairwise cosines among {c['rows']:,} sampled rows, x axis cosine from "
        f"-1 to 1: the table raw (solid, mean {a['mean_cosine']:.3f}), after centring (dashed, "
        f"mean {a['mean_cosine_centred']:.3f}) and Gaussian noise of the same shape (dotted)."
    )


PANELS = (draw_norms, draw_hubness, draw_dimensions, draw_cosines)


def plot(data: dict):
    """All four panels in one 2 x 2 matplotlib figure; returns (figure, alt text)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    alts = [draw(ax, data) for draw, ax in zip(PANELS, axes.flat)]
    fig.tight_layout()
    return fig, " ".join(f"{title}: {alt}" for title, alt in zip(TITLES, alts))


def figures(data: dict) -> list[dict]:
    """[{"title", "alt", "png" (base64)}], one per panel."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    apply_style()
    out = []
    for title, draw in zip(TITLES, PANELS):
        fig, ax = plt.subplots(figsize=(6, 3.4))
        alt = draw(ax, data)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append(
            {
                "title": title,
                "alt": alt,
                "png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            }
        )
    return out


def render(data: dict, text: str) -> str:
    """The whole page as a string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Embedding audit: {html.escape(data['source'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>Embedding audit</h1><p>{html.escape(data['source'])}</p>",
        f"<pre>{html.escape(text)}</pre>",
    ]
    for figure in figures(data):
        parts.append(
            f'<figure><img src="data:image/png;base64,{figure["png"]}" '
            f'alt="{html.escape(figure["alt"])}"><figcaption>{html.escape(figure["title"])}'
            "</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)
