"""An interactive view of RoPE: drag the query's and the key's positions, watch the pairs turn.

RoPE turns pair ``i`` of a query at position ``m`` by ``m theta_i`` and of a key at position ``n``
by ``n theta_i``, ``theta_i = base^(-2i/d)`` (Su et al., 2021, "RoFormer", eq. 34). Because a
rotation's transpose is the rotation back,

    <R_m q, R_n k> = q^T R_(n-m) k,

the score depends on the positions only through the offset ``n - m``. :func:`rope_widget_data`
computes everything the figure shows with :func:`embedlib.positional.apply_rope`: the rotated
coordinates of a few pairs at every position, the full matrix of scores ``S[m, n]`` for all
positions, its value along each offset, and the largest spread of ``S`` along any offset (the
check that the identity holds in these numbers, not only on paper). :func:`rope_widget_html`
draws one dial per pair and the score against the offset; the page computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .positional import apply_rope, rope_frequencies
from .widgets import PALETTE, linear_ticks, widget_html


@dataclass(frozen=True)
class RopeWidgetData:
    """What the RoPE figure draws, all computed by :func:`rope_widget_data`."""

    dim: int
    base: float
    pairs: list[int]  # the pairs shown as dials
    wavelengths: list[float]  # tokens per full turn of each shown pair, 2 pi / theta_i
    query_turned: torch.Tensor  # [positions, pairs, 2]: pair coordinates of R_m q
    key_turned: torch.Tensor  # [positions, pairs, 2]: pair coordinates of R_n k
    offsets: torch.Tensor  # [2 positions - 1]: n - m, from -(positions - 1) up
    scores: torch.Tensor  # [2 positions - 1]: <R_m q, R_n k> at each offset
    angles: torch.Tensor  # [2 positions - 1, pairs]: angle from q's pair to k's, in (-pi, pi]
    offset_spread: float  # largest max - min of S[m, n] over the pairs with one offset

    @property
    def positions(self) -> int:
        return self.query_turned.shape[0]

    def to_dict(self, digits: int = 5) -> dict:
        """Plain lists for the page (coordinates and scores rounded to ``digits`` decimals)."""

        def rounded(t: torch.Tensor) -> list:
            return torch.round(t.double(), decimals=digits).tolist()

        return {
            "dim": self.dim,
            "base": self.base,
            "pairs": self.pairs,
            "wavelengths": [round(w, 1) for w in self.wavelengths],
            "query": rounded(self.query_turned),
            "key": rounded(self.key_turned),
            "offsets": self.offsets.tolist(),
            "scores": rounded(self.scores),
            "angles": rounded(self.angles),
        }


MAX_POSITIONS = 1024  # S[m, n] is positions^2 float64 numbers: 8 MB at this size


def offset_spread(scores: torch.Tensor) -> float:
    """Largest ``max - min`` of ``scores[m, n]`` [P, P] over the entries with one offset ``n - m``.

    Zero exactly when every diagonal of the matrix is constant (a Toeplitz matrix), which is
    what RoPE's identity <R_m q, R_n k> = q^T R_(n-m) k predicts for the score matrix.
    """
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square [P, P] matrix, got {tuple(scores.shape)}")
    size = scores.shape[0]
    along = [torch.diagonal(scores, offset=o) for o in range(-(size - 1), size)]
    return max(float(d.max() - d.min()) for d in along)


def rope_widget_data(
    dim: int = 64,
    base: float = 10000.0,
    positions: int = 128,
    pairs: tuple[int, ...] = (0, 6, 12, 31),
    similarity: float = 0.8,
    seed: int = 0,
) -> RopeWidgetData:
    """Rotate one query and one key at every position ``0 .. positions - 1`` and score all pairs.

    ``q`` is a Gaussian vector of width ``dim``; ``k = similarity * q + sqrt(1 - similarity^2) * z``
    with ``z`` another one, so the key resembles the query and the score is highest near offset 0.
    Pairs use the "half" layout (coordinate ``i`` with ``i + dim/2``, as in Hugging Face's LLaMA).
    Scores are computed in float64, so the spread along an offset is rounding (~1e-13), not
    an approximation.
    """
    if not 2 <= positions <= MAX_POSITIONS:
        raise ValueError(
            f"positions={positions}; use 2 .. {MAX_POSITIONS} (the score matrix grows as "
            "positions squared)"
        )
    if not 0.0 <= similarity <= 1.0:
        raise ValueError(f"similarity={similarity}; use a value in [0, 1]")
    half = dim // 2
    rope_frequencies(dim, base)  # validates dim and base with their own messages
    bad = [i for i in pairs if not isinstance(i, int) or not 0 <= i < half]
    if not pairs or bad:
        raise ValueError(
            f"pairs {list(pairs)}: each must be a whole number in 0 .. {half - 1} "
            f"for dim={dim}"
        )
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(dim, generator=generator, dtype=torch.float64)
    z = torch.randn(dim, generator=generator, dtype=torch.float64)
    k = similarity * q + (1 - similarity**2) ** 0.5 * z  # [dim]
    at = torch.arange(positions)
    turned_q = apply_rope(q.expand(positions, dim), at, base)  # [positions, dim]: R_m q
    turned_k = apply_rope(k.expand(positions, dim), at, base)  # [positions, dim]: R_n k
    scores = turned_q @ turned_k.T  # [m, n]
    offsets = torch.arange(-(positions - 1), positions)
    means = torch.stack([torch.diagonal(scores, offset=int(o)).mean() for o in offsets])
    index = torch.tensor(pairs)

    def pair_coordinates(turned: torch.Tensor) -> torch.Tensor:
        return torch.stack((turned[:, index], turned[:, index + half]), dim=-1)

    query, key = pair_coordinates(turned_q), pair_coordinates(turned_k)  # [P, pairs, 2]
    m = (-offsets).clamp(min=0)  # one (m, n = m + o) per offset
    start = torch.atan2(query[m, :, 1], query[m, :, 0])
    gap = torch.atan2(key[m + offsets, :, 1], key[m + offsets, :, 0]) - start
    angles = torch.remainder(gap + torch.pi, 2 * torch.pi) - torch.pi  # [offsets, pairs]
    theta = rope_frequencies(dim, base, dtype=torch.float64)
    return RopeWidgetData(
        dim=dim,
        base=base,
        pairs=list(pairs),
        wavelengths=(2 * torch.pi / theta[index]).tolist(),
        query_turned=query,
        key_turned=key,
        offsets=offsets,
        scores=means,
        angles=angles,
        offset_spread=offset_spread(scores),
    )


_CONTROLS = """<div style="display:flex;flex-wrap:wrap;gap:0.3em 1.2em;align-items:center">
<label>query position m <input type="range" data-role="m" min="0" max="{last}" value="1"
 aria-label="query position m"> <output data-for="m">1</output></label>
<label>key position n <input type="range" data-role="n" min="0" max="{last}" value="3"
 aria-label="key position n"> <output data-for="n">3</output></label>
<span><button type="button" data-shift="-{step}">both &minus;{step}</button>
<button type="button" data-shift="{step}">both +{step}</button></span>
</div>"""

_SCRIPT = """
const dials = root.querySelector("canvas[data-name=dials]");
const curve = root.querySelector("canvas[data-name=scores]");
const status = root.querySelector(".widget-status");
const slider = role => root.querySelector(`input[data-role=${role}]`);
const last = data.query.length - 1, Q = data.colours.query, K = data.colours.key;
let m = 1, n = 3;
function angleOf([x, y]) { return Math.atan2(y, x); }
// the angle from the query's pair to the key's, computed in Python for each offset
const between = i => data.angles[data.offsets.indexOf(n - m)][i];
function arrow(ctx, cx, cy, [x, y], scale, colour, dash) {
  const tx = cx + x * scale, ty = cy - y * scale, a = Math.atan2(cy - ty, tx - cx);
  ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = 2.5;
  ctx.setLineDash(dash); ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(tx, ty); ctx.stroke();
  ctx.setLineDash([]); ctx.beginPath(); ctx.moveTo(tx, ty);
  ctx.lineTo(tx - 9 * Math.cos(a - 0.4), ty + 9 * Math.sin(a - 0.4));
  ctx.lineTo(tx - 9 * Math.cos(a + 0.4), ty + 9 * Math.sin(a + 0.4)); ctx.fill();
}
function drawDials() {
  const s = surface(dials), ctx = s.ctx, count = data.pairs.length;
  const columns = Math.min(2, count), rows = Math.ceil(count / columns);
  const cellW = s.w / columns, cellH = (s.h - 24) / rows;
  const radius = Math.min(cellW - 8, cellH - 44) / 2;
  data.pairs.forEach((pair, i) => {
    const cx = cellW * (i % columns) + cellW / 2;
    const cy = cellH * Math.floor(i / columns) + 22 + radius;
    ctx.strokeStyle = FAINT; ctx.lineWidth = 1; ctx.beginPath();
    ctx.arc(cx, cy, radius, 0, 2 * Math.PI); ctx.stroke();
    const longest = Math.max(Math.hypot(...data.query[0][i]), Math.hypot(...data.key[0][i]));
    const scale = radius / longest, a = angleOf(data.query[m][i]), b = a + between(i);
    ctx.strokeStyle = INK; ctx.lineWidth = 1.5; ctx.beginPath();
    ctx.arc(cx, cy, radius * 0.3, -a, -b, b > a); ctx.stroke();
    arrow(ctx, cx, cy, data.query[m][i], scale, Q, []);
    arrow(ctx, cx, cy, data.key[n][i], scale, K, [5, 3]);
    ctx.fillStyle = INK; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    const title = `pair ${pair}: ${data.wavelengths[i].toLocaleString("en",
      {maximumFractionDigits: data.wavelengths[i] < 100 ? 1 : 0})} tokens a turn`;
    const size = Math.min(12, Math.floor(12 * (cellW - 6) / ctx.measureText(title).width));
    ctx.font = `${size}px sans-serif`; ctx.fillText(title, cx, cy - radius - 4);
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "top";
    ctx.fillText(`angle k - q: ${between(i).toFixed(2)} rad`, cx, cy + radius + 4);
  });
  ctx.textAlign = "left"; ctx.textBaseline = "bottom";
  ctx.fillStyle = Q; ctx.fillText("\\u2014 R_m q (query)", 4, s.h - 2);
  ctx.fillStyle = K; ctx.fillText("- - R_n k (key)", 130, s.h - 2);
}
function drawScores() {
  const s = surface(curve), offsets = data.offsets, scores = data.scores;
  const f = frame(s, data.axes);
  line(s, f, offsets.map((o, i) => [o, scores[i]]), data.curveStyle);
  const i = offsets.indexOf(n - m);
  s.ctx.fillStyle = K; marker(s.ctx, "o", f.X(n - m), f.Y(scores[i]), 6);
  s.ctx.strokeStyle = INK; s.ctx.lineWidth = 1.5; s.ctx.stroke();
}
function describe() {
  const i = data.offsets.indexOf(n - m);
  status.textContent = `m = ${m}, n = ${n}: offset n - m = ${n - m}, score ` +
    `${data.scores[i].toFixed(3)}, the same for every (m, n) with this offset ` +
    `(checked in Python over all ${(data.query.length ** 2).toLocaleString("en")} ` +
    "position pairs).";
  announce(`offset ${n - m}, score ${data.scores[i].toFixed(1)}`);
}
function draw() {
  slider("m").value = m; slider("n").value = n;
  root.querySelector("output[data-for=m]").textContent = m;
  root.querySelector("output[data-for=n]").textContent = n;
  root.querySelectorAll("button[data-shift]").forEach(b => {  // aria-disabled keeps focus
    b.setAttribute("aria-disabled", String(!canShift(Number(b.dataset.shift))));
    b.style.opacity = canShift(Number(b.dataset.shift)) ? "1" : "0.45"; });
  drawDials(); drawScores(); describe();
}
slider("m").addEventListener("input", e => { m = Number(e.target.value); draw(); });
slider("n").addEventListener("input", e => { n = Number(e.target.value); draw(); });
const canShift = d => Math.min(m, n) + d >= 0 && Math.max(m, n) + d <= last;
root.querySelectorAll("button[data-shift]").forEach(b => b.addEventListener("click", () => {
  const d = Number(b.dataset.shift);
  if (canShift(d)) { m += d; n += d; draw(); } }));
root.widget = {  // for tests, and for readers who like the console
  set: (query, key) => { m = query; n = key; draw(); },
  shift: d => root.querySelector(`button[data-shift="${d}"]`).click(),
  positions: () => [m, n],
  angles: () => data.pairs.map((_, i) => between(i)),
  status: () => status.textContent,
};
"""


def rope_widget_html(
    data: RopeWidgetData, uid: str = "rope-widget", step: int = 25
) -> str:
    """The figure as one self-contained HTML block (no request leaves the page)."""
    if not 1 <= step < data.positions:
        raise ValueError(f"step={step}; use 1 .. {data.positions - 1}")
    payload = data.to_dict()
    low, high = float(data.scores.min()), float(data.scores.max())
    margin = 0.05 * (high - low)
    last = data.positions - 1
    payload["axes"] = {
        "x": {
            "min": -last,
            "max": last,
            "ticks": linear_ticks(-last, last, 5),
            "title": "offset n - m (tokens)",
        },
        "y": {
            "min": low - margin,
            "max": high + margin,
            "ticks": linear_ticks(low, high, 5),
            "title": "score <R_m q, R_n k>",
        },
    }
    payload["curveStyle"] = {"colour": PALETTE["blue"], "dash": []}
    payload["colours"] = {"query": PALETTE["blue"], "key": PALETTE["vermillion"]}
    canvases = {
        "dials": f"Dials for pairs {', '.join(map(str, data.pairs))}: the query's and the "
        "key's pair as arrows, turned by their positions, and the angle between them.",
        "scores": "Line chart of the score of the query and the key against the offset "
        "n - m, highest near offset 0 and lower with ripples further out; the current "
        "offset is marked and its score is given in the text below.",
    }
    return widget_html(
        "rope",
        uid,
        payload,
        _CONTROLS.format(last=last, step=step),
        canvases,
        _SCRIPT,
        aspects={"dials": "1 / 1"},
    )
