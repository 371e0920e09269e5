"""Point labels that do not overlap: a small greedy placer for scatter plots of words.

For each point in turn, try label positions on rings around it (8 directions, growing
distance) and keep the first whose text box overlaps no label placed so far, no marker and
stays inside the axes. If no candidate is free, the one with the least overlap is kept.
Labels placed away from their point get a thin leader line. Deterministic: the same
figure gives the same placement. (adjustText does this iteratively; a greedy search is
enough for the few dozen labels of a course figure and adds no dependency.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# (dx, dy) unit directions in reading order of preference: right, left, above, below, diagonals
_DIRECTIONS = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
_RINGS_PT = (3, 9, 16, 24, 34)


def _overlap(box: np.ndarray, boxes: np.ndarray) -> float:
    """Summed overlap area of ``box`` [4] = (x0, y0, x1, y1) with each row of ``boxes`` [n, 4]."""
    if len(boxes) == 0:
        return 0.0
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def place_labels(
    ax,
    x: Sequence[float],
    y: Sequence[float],
    texts: Sequence[str],
    fontsize: float = 8,
    marker_pt: float = 4.0,
) -> list:
    """Annotate point ``i`` at (``x[i]``, ``y[i]``) with ``texts[i]`` without overlaps.

    Call after the scatter, the axis limits and the legend (if any) are set: it reads the
    figure's layout and keeps the legend clear.
    ``marker_pt`` is the half-width of the markers to keep clear, in points.
    Returns the text artists (``matplotlib.text.Annotation``), in the order of ``texts``.
    """
    if not len(x) == len(y) == len(texts):
        raise ValueError(
            f"{len(x)} x, {len(y)} y and {len(texts)} labels; pass one of each per point"
        )
    figure = ax.figure
    figure.canvas.draw()  # fixes the layout, so display coordinates are final
    renderer = figure.canvas.get_renderer()
    to_px = figure.dpi / 72  # points to pixels
    points = ax.transData.transform(
        np.column_stack([x, y]).astype(float)
    )  # [n, 2] pixels
    half = marker_pt * to_px
    obstacles = [
        np.array([px - half, py - half, px + half, py + half]) for px, py in points
    ]
    fixed = []  # a legend drawn before the labels is kept clear too
    if ax.get_legend() is not None:
        extent = ax.get_legend().get_window_extent(renderer)
        fixed.append(np.array([extent.x0, extent.y0, extent.x1, extent.y1]))
    frame = ax.get_window_extent(renderer)
    placed: list[np.ndarray] = []
    artists = []
    for i, text in enumerate(texts):
        others = np.array(
            [b for j, b in enumerate(obstacles) if j != i] + fixed + placed
        ).reshape(-1, 4)
        best = None
        for ring in _RINGS_PT:
            for dx, dy in _DIRECTIONS:
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
                offset = (dx * (ring + marker_pt), dy * (ring + marker_pt))
                artist = ax.annotate(
                    text,
                    (x[i], y[i]),
                    xytext=offset,
                    textcoords="offset points",
                    ha=ha,
                    va=va,
                    fontsize=fontsize,
                )
                extent = artist.get_window_extent(renderer)
                box = np.array(
                    [extent.x0 - 1, extent.y0 - 1, extent.x1 + 1, extent.y1 + 1]
                )  # 1 px gap
                outside = (
                    box[0] < frame.x0
                    or box[1] < frame.y0
                    or box[2] > frame.x1
                    or box[3] > frame.y1
                )
                cost = _overlap(box, others) + (1e9 if outside else 0.0)
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, artist, box, ring)
                else:
                    artist.remove()
                if best[0] == 0:
                    break
            if best[0] == 0:
                break
        _, artist, box, ring = best
        if ring > _RINGS_PT[0]:
            artist.remove()
            artist = ax.annotate(
                text,
                (x[i], y[i]),
                xytext=artist.get_position(),
                textcoords="offset points",
                ha=artist.get_ha(),
                va=artist.get_va(),
                fontsize=fontsize,
                arrowprops={
                    "arrowstyle": "-",
                    "lw": 0.5,
                    "color": "0.5",
                    "shrinkA": 0,
                    "shrinkB": marker_pt,
                },
            )
        placed.append(box)
        artists.append(artist)
    return artists


def label_overlaps(artists: Sequence, renderer=None) -> int:
    """Number of pairs of label boxes that overlap (0 for a readable figure)."""
    if not artists:
        return 0
    figure = artists[0].figure
    figure.canvas.draw()  # places every annotation's text where it will be shown
    renderer = renderer or figure.canvas.get_renderer()
    from matplotlib.text import Text

    boxes = [
        Text.get_window_extent(a, renderer) for a in artists
    ]  # the text only, no leader line
    return sum(
        boxes[i].overlaps(boxes[j])
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
    )
