"""An offline embedding explorer: a 2-D map of word vectors with search and full-space neighbours.

:func:`explorer_data` computes everything in Python (projections, neighbours); :func:`explorer_html`
draws it with a few dozen lines of plain JavaScript on an HTML canvas, inlined in the page, so it
works with no network and loads nothing from anywhere (no CDN, no library to serve).

Two views of the same rows:

- **raw**: the rows projected on the top two right-singular vectors of the *uncentred* matrix.
  When all rows share a common direction (anisotropy), the first axis is that direction and
  the points sit to one side of the origin (the cross the widget draws), in a narrow cone;
- **centred**: the mean row subtracted first, then PCA; the common direction is gone.

Neighbours are the ``k`` rows of highest cosine *in the full space* (all ``d`` dimensions), for
each view (raw or centred vectors), among the rows shown. Words close on the map need not be
neighbours, and neighbours need not be close on the map: the highlight shows both.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import torch

from .geometry import WordVectors
from .similarity import normalize_rows
from .figures import PALETTE
from .widgets import check_uid, script_json


GROUP_COLOURS = ("blue", "orange", "green")  # embedlib.figures.PALETTE names


@dataclass(frozen=True)
class ExplorerData:
    """What the page draws: words, two 2-D views, and full-space neighbours per view."""

    words: list[str]
    views: dict[str, torch.Tensor]  # name -> [n, 2] coordinates
    neighbours: dict[str, torch.Tensor]  # name -> [n, k] row indices, best first
    scores: dict[str, torch.Tensor]  # name -> [n, k] cosines
    groups: list[str] = field(default_factory=list)  # legend names; empty: one group
    group_of: list[int] = field(default_factory=list)  # each word's group, when groups

    def to_dict(self, digits: int = 3) -> dict:
        """Plain lists for the page (coordinates to ``digits`` decimals, cosines to 2)."""

        def rounded(t: torch.Tensor, places: int = digits) -> list:
            return [[round(float(v), places) for v in row] for row in t.tolist()]

        return {
            "words": self.words,
            "views": {name: rounded(xy) for name, xy in self.views.items()},
            "neighbours": {name: nb.tolist() for name, nb in self.neighbours.items()},
            "scores": {name: rounded(s, 2) for name, s in self.scores.items()},
            "groups": self.groups,
            "group_of": self.group_of,
        }

    def to_json(self, digits: int = 3) -> str:
        """:meth:`to_dict` as compact JSON."""
        return json.dumps(self.to_dict(digits), separators=(",", ":"), ensure_ascii=False)


def _top_two_axes(matrix: torch.Tensor) -> torch.Tensor:
    """Coordinates on the top two right-singular vectors of ``matrix`` [n, d] as given: [n, 2].

    Signs fixed so each axis's largest-magnitude loading is positive (reproducible plots).
    """
    _, _, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    axes = vh[:2]  # [2, d]
    signs = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)))  # [2, 1]
    return (matrix.double() @ (axes * signs).T).float()


def full_space_neighbours(
    matrix: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` rows of highest cosine with each row, itself excluded: ([n, k] ids, [n, k] cosines)."""
    if not 1 <= k < len(matrix):
        raise ValueError(
            f"k={k} neighbours among {len(matrix)} rows; use 1..{len(matrix) - 1}"
        )
    unit = normalize_rows(matrix.float())
    cos = unit @ unit.T  # [n, n]
    cos.fill_diagonal_(-torch.inf)
    top = cos.topk(k, dim=1)
    return top.indices, top.values


def explorer_data(
    vectors: WordVectors,
    words: list[str] | None = None,
    n: int = 2000,
    k: int = 8,
    groups: dict[str, list[str]] | None = None,
) -> ExplorerData:
    """Views and neighbours of ``words`` (default: the first ``n`` words of ``vectors``).

    For MiniLM's table (:func:`embedlib.geometry.minilm_word_vectors`) the first rows are in
    the tokenizer's id order, which for WordPiece roughly follows frequency. ``groups`` (legend
    name -> its words; instead of ``words``) draws each group in its own colour.
    """
    if groups is not None:
        if words is not None:
            raise ValueError("pass words or groups, not both: groups lists the words")
        words = [w for members in groups.values() for w in members]
    words = list(vectors.words[:n]) if words is None else list(words)
    if len(words) < 3:
        raise ValueError(f"{len(words)} words; the explorer needs at least 3")
    if groups is not None and len(groups) > len(GROUP_COLOURS):
        raise ValueError(
            f"{len(groups)} groups; the explorer colours at most {len(GROUP_COLOURS)}"
        )
    if groups is not None and len(set(words)) != len(words):
        raise ValueError("a word is in two groups (or twice in one); give each word once")
    rows = vectors.matrix[vectors.ids(words)]  # [n, d]
    centred = rows - rows.mean(dim=0)  # [n, d]
    views = {"raw": _top_two_axes(rows), "centred": _top_two_axes(centred)}
    neighbours, scores = {}, {}
    for name, matrix in (("raw", rows), ("centred", centred)):
        neighbours[name], scores[name] = full_space_neighbours(matrix, k)
    names = list(groups or {})
    group_of = [i for i, members in enumerate((groups or {}).values()) for _ in members]
    return ExplorerData(words, views, neighbours, scores, names, group_of)


_TEMPLATE = """<div class="embedding-explorer" id="{uid}" style="max-width:720px">
<div style="display:flex;gap:0.5em;flex-wrap:wrap;align-items:center;margin-bottom:0.4em">
<label>Find a word <input type="search" list="{uid}-words" aria-label="word to find"
 style="width:10em"></label>
<datalist id="{uid}-words"></datalist>
<label><input type="radio" name="{uid}-view" value="raw" checked> raw rows</label>
<label><input type="radio" name="{uid}-view" value="centred"> centred rows</label>
</div>
<canvas role="img" aria-label="{label}" style="width:100%;aspect-ratio:4/3;
 border:1px solid #6E6E6E;touch-action:pan-y"></canvas>
<div class="explorer-status" aria-live="polite" style="min-height:3em;font-size:0.9em"></div>
<script>
(function () {{
  const data = {data};
  const root = document.getElementById("{uid}");
  const canvas = root.querySelector("canvas");
  const input = root.querySelector("input[type=search]");
  const status = root.querySelector(".explorer-status");
  const list = root.querySelector("datalist");
  const index = new Map(data.words.map((w, i) => [w, i]));
  data.words.forEach(w => {{ const o = document.createElement("option"); o.value = w;
    list.appendChild(o); }});
  let view = "raw", selected = -1, hover = -1, origin = [0, 0];
  function layout() {{
    const xy = data.views[view];
    // the origin is always in the frame: a raw cloud that leans one way sits beside it
    let x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    for (const [x, y] of xy) {{ x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y); }}
    const w = canvas.clientWidth, h = canvas.clientHeight, pad = 12;
    const s = Math.min((w - 2 * pad) / (x1 - x0 || 1), (h - 2 * pad) / (y1 - y0 || 1));
    const ox = (w - (x1 - x0) * s) / 2, oy = (h - (y1 - y0) * s) / 2;  // centre the frame
    const at = ([x, y]) => [ox + (x - x0) * s, h - oy - (y - y0) * s];
    origin = at([0, 0]);
    return xy.map(at);
  }}
  function draw() {{
    const ratio = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * ratio; canvas.height = canvas.clientHeight * ratio;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const fg = getComputedStyle(root).color || "#222";
    const dark = document.documentElement.dataset.theme === "dark";
    const points = layout();
    // groups: Okabe-Ito blue / orange / green, darker or lighter with the theme
    const colours = {colours};
    if (dark) colours[0] = "{sky}";  // blue is too dark on the dark page
    ctx.globalAlpha = dark ? 0.5 : 0.35;
    points.forEach(([x, y], i) => {{ ctx.fillStyle = colours[(data.group_of[i] || 0) % 3];
      ctx.fillRect(x - 1.5, y - 1.5, 3, 3); }});
    ctx.globalAlpha = 1;
    data.groups.forEach((name, g) => {{  // the legend, top left
      ctx.fillStyle = colours[g % 3]; ctx.fillRect(8, 10 + 16 * g, 10, 10);
      ctx.fillStyle = fg; ctx.font = "12px sans-serif"; ctx.fillText(name, 24, 19 + 16 * g); }});
    ctx.strokeStyle = fg; ctx.lineWidth = 1.5; ctx.beginPath();  // the origin, a cross
    ctx.moveTo(origin[0] - 7, origin[1]); ctx.lineTo(origin[0] + 7, origin[1]);
    ctx.moveTo(origin[0], origin[1] - 7); ctx.lineTo(origin[0], origin[1] + 7); ctx.stroke();
    const mark = (i, colour, size, label) => {{  // a filled dot in an ink ring
      const [x, y] = points[i];
      ctx.fillStyle = colour; ctx.beginPath(); ctx.arc(x, y, size, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = fg; ctx.lineWidth = 1.5; ctx.stroke();
      if (label) {{ ctx.fillStyle = fg; ctx.font = "12px sans-serif";
        ctx.fillText(data.words[i], x + size + 2, y - size); }}
    }};
    if (selected >= 0) {{
      data.neighbours[view][selected].forEach(j => mark(j, "{neighbour}", 4, true));
      mark(selected, fg, 6, true);
    }}
    if (hover >= 0 && hover !== selected) mark(hover, fg, 3, true);
  }}
  function describe() {{
    if (selected < 0) {{ status.textContent = "Hover over a point, or type a word. The " +
      "cross marks the origin: rows that share a direction sit to one side of it."; return; }}
    const nb = data.neighbours[view][selected], sc = data.scores[view][selected];
    status.textContent = data.words[selected] + " (" + view + "): nearest in all dimensions: " +
      nb.map((j, r) => data.words[j] + " " + sc[r].toFixed(2)).join(", ");
  }}
  function nearest(ev) {{
    const r = canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
    let best = -1, bestD = 64;
    layout().forEach(([x, y], i) => {{ const d = (x - px) ** 2 + (y - py) ** 2;
      if (d < bestD) {{ best = i; bestD = d; }} }});
    return best;
  }}
  canvas.addEventListener("mousemove", ev => {{ hover = nearest(ev); draw(); }});
  canvas.addEventListener("click", ev => {{ const i = nearest(ev);
    if (i >= 0) {{ selected = i; input.value = data.words[i]; describe(); draw(); }} }});
  input.addEventListener("input", () => {{ const i = index.get(input.value.trim().toLowerCase());
    if (i !== undefined) {{ selected = i; describe(); draw(); }} }});
  root.querySelectorAll("input[type=radio]").forEach(r => r.addEventListener("change", () => {{
    view = r.value; describe(); draw(); }}));
  window.addEventListener("resize", draw);
  // the book's light/dark switch: redraw in the new theme's colours
  new MutationObserver(draw).observe(document.documentElement,
    {{attributes: true, attributeFilter: ["data-theme"]}});
  describe(); draw();
  root.explorer = {{  // for tests and for readers who like the console
    select: w => {{ input.value = w; input.dispatchEvent(new Event("input")); }},
    status: () => status.textContent,
    hovered: () => (hover >= 0 ? data.words[hover] : null),
    position: w => layout()[index.get(w)],
    origin: () => (layout(), origin),
  }};
}})();
</script>
</div>"""


def explorer_html(
    data: ExplorerData, uid: str = "embedding-explorer", label: str | None = None
) -> str:
    """A self-contained HTML block (inline data and script, no external request) drawing ``data``.

    ``uid`` must be unique on the page. In a notebook: ``IPython.display.HTML(explorer_html(d))``.
    """
    check_uid(uid)
    label = (
        label
        or f"Scatter plot of {len(data.words)} words; search a word to see its neighbours."
    )
    payload = script_json(data.to_dict())  # no word can close the script element
    return _TEMPLATE.format(
        uid=uid,
        label=html.escape(label, quote=True),
        data=payload,
        colours=json.dumps([PALETTE[c] for c in GROUP_COLOURS]),
        sky=PALETTE["sky"],
        neighbour=PALETTE["vermillion"],
    )
