"""embedlib.labels: labels of crowded scatter plots do not overlap and stay in the axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from embedlib.labels import label_overlaps, place_labels  # noqa: E402


def crowded_points(n: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, -0.5]])
    xy = centres[np.arange(n) % 3] + rng.normal(scale=0.12, size=(n, 2))
    return xy[:, 0], xy[:, 1], [f"word{i}" for i in range(n)]


def slow_overlaps(artists):
    artists[0].figure.canvas.draw()
    renderer = artists[0].figure.canvas.get_renderer()
    boxes = [Text.get_window_extent(a, renderer) for a in artists]
    count = 0
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            count += a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1
    return count


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_do_not_overlap_and_stay_inside(seed):
    x, y, texts = crowded_points(seed=seed)
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    ax.scatter(x, y, s=40)
    ax.margins(0.2)
    artists = place_labels(ax, x, y, texts)
    assert [a.get_text() for a in artists] == texts
    assert label_overlaps(artists) == slow_overlaps(artists) == 0
    frame = ax.get_window_extent()
    renderer = fig.canvas.get_renderer()
    for artist in artists:
        box = Text.get_window_extent(artist, renderer)
        assert (
            frame.x0 <= box.x0
            and box.x1 <= frame.x1
            and frame.y0 <= box.y0
            and box.y1 <= frame.y1
        )
    plt.close(fig)


def test_naive_labels_would_overlap():
    """The test case is crowded enough that labels at a fixed offset collide."""
    x, y, texts = crowded_points()
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    ax.scatter(x, y, s=40)
    ax.margins(0.2)
    artists = [
        ax.annotate(t, (a, b), xytext=(4, 3), textcoords="offset points", fontsize=8)
        for t, a, b in zip(texts, x, y)
    ]
    fig.canvas.draw()
    assert slow_overlaps(artists) > 0
    plt.close(fig)


def test_placement_is_deterministic():
    x, y, texts = crowded_points(seed=3)
    positions = []
    for _ in range(2):
        fig, ax = plt.subplots()
        ax.scatter(x, y)
        positions.append([a.get_position() for a in place_labels(ax, x, y, texts)])
        plt.close(fig)
    assert positions[0] == positions[1]


def test_lengths_must_match():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one of each"):
        place_labels(ax, [0, 1], [0, 1], ["a"])
    plt.close(fig)
