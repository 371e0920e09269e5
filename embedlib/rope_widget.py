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
    offset_spread: float  # largest max - min of S[m, n] over the pairs with one offset

    @property
    def positions(self) -> int:
        return self.query_turned.shape[0]

    def to_dict(self, digits: int = 4) -> dict:
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
            "spread": float(f"{self.offset_spread:.1e}"),
        }


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
    if positions < 2:
        raise ValueError(
            f"positions={positions}; the figure needs at least 2 positions"
        )
    if not 0.0 <= similarity <= 1.0:
        raise ValueError(f"similarity={similarity}; use a value in [0, 1]")
    half = dim // 2
    rope_frequencies(dim, base)  # validates dim and base with their own messages
    bad = [i for i in pairs if not 0 <= i < half]
    if not pairs or bad:
        raise ValueError(
            f"pairs {list(pairs)}: each must be in 0 .. {half - 1} for dim={dim}"
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
    along = [torch.diagonal(scores, offset=int(o)) for o in offsets]  # S[m, m + o]
    index = torch.tensor(pairs)

    def pair_coordinates(turned: torch.Tensor) -> torch.Tensor:
        return torch.stack((turned[:, index], turned[:, index + half]), dim=-1)

    theta = rope_frequencies(dim, base, dtype=torch.float64)
    return RopeWidgetData(
        dim=dim,
        base=base,
        pairs=list(pairs),
        wavelengths=(2 * torch.pi / theta[index]).tolist(),
        query_turned=pair_coordinates(turned_q),
        key_turned=pair_coordinates(turned_k),
        offsets=offsets,
        scores=torch.stack([d.mean() for d in along]),
        offset_spread=max(float(d.max() - d.min()) for d in along),
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
function between(i) {  // the angle from the query's pair to the key's, in (-pi, pi]
  let a = angleOf(data.key[n][i]) - angleOf(data.query[m][i]);
  while (a <= -Math.PI) a += 2 * Math.PI;
  while (a > Math.PI) a -= 2 * Math.PI;
  return a;
}
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
    ctx.fillText(`pair ${pair}: ${data.wavelengths[i].toLocaleString("en",
      {maximumFractionDigits: data.wavelengths[i] < 100 ? 1 : 0})} tokens a turn`,
      cx, cy - radius - 4);
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
    `${data.scores[i].toFixed(3)}. Every (m, n) with this offset gives this score: over all ` +
    `${(data.query.length ** 2).toLocaleString("en")} position pairs the score differs ` +
    `along an offset by at most ${data.spread.toExponential(0)}.`;
}
function draw() {
  slider("m").value = m; slider("n").value = n;
  root.querySelector("output[data-for=m]").textContent = m;
  root.querySelector("output[data-for=n]").textContent = n;
  root.querySelectorAll("button[data-shift]").forEach(b => {
    const d = Number(b.dataset.shift);
    b.disabled = Math.min(m, n) + d < 0 || Math.max(m, n) + d > last; });
  drawDials(); drawScores(); describe();
}
slider("m").addEventListener("input", e => { m = Number(e.target.value); draw(); });
slider("n").addEventListener("input", e => { n = Number(e.target.value); draw(); });
root.querySelectorAll("button[data-shift]").forEach(b => b.addEventListener("click", () => {
  const d = Number(b.dataset.shift); m += d; n += d; draw(); }));
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
        "scores": "The score of the query and the key against the offset n - m, with the "
        "current offset marked.",
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
