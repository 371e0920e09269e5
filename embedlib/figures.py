"""The course's one figure style: a colour-blind-safe palette, distinct markers and dashes.

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), whose eight
hues stay distinguishable under the common colour-vision deficiencies. Every series also
gets its own line style (and, through :func:`series_style`, a marker), so no figure
relies on colour alone. ``apply_style``
(called by :func:`embedlib.notebook.setup`) makes these the matplotlib defaults and renders
inline figures at twice the pixel density, so they stay sharp on high-density screens.
"""

from __future__ import annotations

from cycler import cycler

PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "grey": "#6E6E6E",
}
SERIES_COLOURS = ("blue", "orange", "green", "vermillion", "sky", "purple", "grey")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)))


def series_style(index: int) -> dict[str, object]:
    """Colour, marker and line style of the ``index``-th series (wraps after seven)."""
    i = index % len(SERIES_COLOURS)
    return {"color": PALETTE[SERIES_COLOURS[i]], "marker": MARKERS[i], "linestyle": LINESTYLES[i]}


def apply_style() -> None:
    """Make the course style matplotlib's default for this process (idempotent)."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            # markers are not cycled by default (dense curves would drown in them):
            # pass ``**series_style(i)`` where several series share an axis
            "axes.prop_cycle": cycler(color=[PALETTE[c] for c in SERIES_COLOURS])
            + cycler(linestyle=list(LINESTYLES)),
            "lines.markersize": 4.5,
            "figure.dpi": 100,
            "figure.figsize": (6.4, 4.0),
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "image.cmap": "viridis",
        }
    )
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # outside IPython there is no inline backend to configure
        return
    set_matplotlib_formats("retina")
