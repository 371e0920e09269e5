"""Interactive figures that work offline: data from Python, a canvas and a little inline JavaScript.

The course's interactive figures (RoPE's rotation in chapter 4, the funnel's speed-recall
trade-off in chapter 5) compute every number in Python and hand it to the page as JSON; the
JavaScript only draws it and reacts to sliders and the mouse. Nothing is loaded from anywhere:
no library, no CDN, no font, so a page works with no network, in Jupyter, Colab and on the site.

This module holds what those figures share: :func:`widget_html` (the HTML block, with the data
inlined safely), :func:`canvas_style` (the course style of :mod:`embedlib.figures` in the terms
a canvas uses), :func:`linear_ticks` / :func:`log_ticks` (tick positions and labels, computed
here so the drawing code need not), and ``CHART_JS``, the few drawing functions (axes, lines,
markers, legends, hit-testing) the figures call. Canvases are drawn in the light style; in the site's
dark mode ``course.css`` inverts them as it inverts the static figures.
"""

from __future__ import annotations

import html
import json
import math

from .figures import LINESTYLES, MARKERS, PALETTE, SERIES_COLOURS

# matplotlib line styles as canvas setLineDash patterns (in units of the line width)
_DASHES = {
    "-": [],
    "--": [6, 3],
    "-.": [6, 3, 1, 3],
    ":": [1, 2],
    (0, (5, 1)): [5, 1],
    (0, (3, 1, 1, 1, 1, 1)): [3, 1, 1, 1, 1, 1],
    (0, (1, 1)): [1, 1],
}


def canvas_style(index: int) -> dict[str, object]:
    """The ``index``-th series of :func:`embedlib.figures.series_style` for a canvas:
    ``{"colour": "#0072B2", "dash": [6, 3], "marker": "s"}``."""
    i = index % len(SERIES_COLOURS)
    return {
        "colour": PALETTE[SERIES_COLOURS[i]],
        "dash": _DASHES[LINESTYLES[i]],
        "marker": MARKERS[i],
    }


def check_uid(uid: str) -> str:
    """``uid`` if it can be an HTML id used in CSS selectors, else a ValueError naming the fix."""
    if not uid or not uid.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"uid={uid!r}; use letters, digits, '-' and '_' only")
    return uid


def script_json(data: object) -> str:
    """``data`` as compact JSON that is safe inside a ``<script>`` element.

    ``"</"`` is written ``"<\\/"`` (the same string to JSON), so no value can close the element.
    """
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/")


def linear_ticks(low: float, high: float, count: int = 5) -> list[list]:
    """About ``count`` round tick values covering [low, high], as ``[value, label]`` pairs.

    The step is 1, 2 or 5 times a power of ten, whichever is nearest (on a log scale) to
    ``(high - low) / (count - 1)`` (the usual "nice numbers" rule).
    """
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        raise ValueError(f"ticks need finite low < high, got {low}, {high}")
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda v: abs(math.log(v / raw)))
    first = math.ceil(low / step - 1e-9)
    values = [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
    places = max(0, -math.floor(math.log10(step) + 1e-9))
    return [[round(v, places + 1), f"{v:,.{places}f}"] for v in values]


def log_ticks(values: list[float], suffix: str = "", places: int = 0) -> list[list]:
    """Ticks at the given values (for a log axis) as ``[value, label]``, labels like ``"10x"``."""
    if any(v <= 0 for v in values):
        raise ValueError(f"a log axis needs positive tick values, got {values}")
    return [[v, f"{v:,.{places}f}{suffix}"] for v in values]


CHART_JS = r"""
const INK = "#222222", FAINT = "#BBBBBB";
function surface(canvas) {  // a crisp 2-D context in CSS pixels, cleared
  const ratio = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0); ctx.clearRect(0, 0, w, h);
  ctx.font = "12px sans-serif"; ctx.lineJoin = "round";
  return {ctx, w, h};
}
function frame(s, axes, below = 0) {  // below: room under the x-axis title (a legend)
  const pad = {l: 52, r: 12, t: 12, b: 40 + below};
  // axes.x / axes.y: {min, max, log, ticks: [[value, label]], title}; returns value -> pixel
  const unit = a => a.log
    ? v => (Math.log(v) - Math.log(a.min)) / (Math.log(a.max) - Math.log(a.min))
    : v => (v - a.min) / (a.max - a.min);
  const ux = unit(axes.x), uy = unit(axes.y);
  const f = {left: pad.l, right: s.w - pad.r, top: pad.t, bottom: s.h - pad.b};
  f.X = v => f.left + ux(v) * (f.right - f.left);
  f.Y = v => f.bottom - uy(v) * (f.bottom - f.top);
  const ctx = s.ctx;
  ctx.lineWidth = 1; ctx.setLineDash([]); ctx.fillStyle = INK;
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const [v, label] of axes.x.ticks) {
    const x = f.X(v); ctx.strokeStyle = FAINT; ctx.beginPath();
    ctx.moveTo(x, f.top); ctx.lineTo(x, f.bottom); ctx.stroke();
    ctx.fillText(label, x, f.bottom + 4);
  }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const [v, label] of axes.y.ticks) {
    const y = f.Y(v); ctx.strokeStyle = FAINT; ctx.beginPath();
    ctx.moveTo(f.left, y); ctx.lineTo(f.right, y); ctx.stroke();
    ctx.fillText(label, f.left - 4, y);
  }
  ctx.strokeStyle = INK; ctx.strokeRect(f.left, f.top, f.right - f.left, f.bottom - f.top);
  ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText(axes.x.title, (f.left + f.right) / 2, s.h - 2 - below);
  ctx.save(); ctx.translate(12, (f.top + f.bottom) / 2); ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle"; ctx.fillText(axes.y.title, 0, 0); ctx.restore();
  return f;
}
function marker(ctx, shape, x, y, r) {  // the matplotlib markers the course uses
  ctx.beginPath(); ctx.setLineDash([]);
  if (shape === "s") ctx.rect(x - r, y - r, 2 * r, 2 * r);
  else if (shape === "^" || shape === "v") { const d = shape === "^" ? 1 : -1;
    ctx.moveTo(x, y - d * r * 1.2); ctx.lineTo(x + r, y + d * r * 0.8);
    ctx.lineTo(x - r, y + d * r * 0.8); ctx.closePath(); }
  else if (shape === "D") { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r, y);
    ctx.lineTo(x, y + r * 1.2); ctx.lineTo(x - r, y); ctx.closePath(); }
  else if (shape === "P" || shape === "X") { const a = shape === "X" ? Math.PI / 4 : 0;
    for (const t of [a, a + Math.PI / 2]) { ctx.moveTo(x - r * Math.cos(t), y - r * Math.sin(t));
      ctx.lineTo(x + r * Math.cos(t), y + r * Math.sin(t)); }
    ctx.lineWidth = 2.5; ctx.stroke(); return; }
  else ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fill();
}
function line(s, f, points, style, width = 2) {  // points: [[x, y]] in data units
  const ctx = s.ctx;
  ctx.strokeStyle = style.colour; ctx.fillStyle = style.colour; ctx.lineWidth = width;
  ctx.setLineDash(style.dash.map(d => d * width)); ctx.beginPath();
  points.forEach(([x, y], i) => i ? ctx.lineTo(f.X(x), f.Y(y)) : ctx.moveTo(f.X(x), f.Y(y)));
  ctx.stroke(); ctx.setLineDash([]);
}
const columnsFor = w => (w < 340 ? 1 : 2);
function legendHeight(items, w) { return Math.ceil(items.length / columnsFor(w)) * 16 + 6; }
function legend(s, items) {  // under the plot: a line sample, the marker, the name
  const columns = columnsFor(s.w), top = s.h - legendHeight(items, s.w), column = s.w / columns;
  const ctx = s.ctx;
  ctx.font = "11px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
  items.forEach((item, i) => {
    const x = 4 + (i % columns) * column, y = top + Math.floor(i / columns) * 16 + 10;
    ctx.strokeStyle = item.colour; ctx.fillStyle = item.colour; ctx.lineWidth = 2;
    ctx.setLineDash(item.dash.map(d => d * 2)); ctx.beginPath();
    ctx.moveTo(x, y); ctx.lineTo(x + 24, y); ctx.stroke();
    marker(ctx, item.marker, x + 12, y, 3.5);
    ctx.fillStyle = INK; ctx.fillText(item.name, x + 30, y);
  });
  ctx.font = "12px sans-serif";
}
function nearest(canvas, ev, points, reach = 14) {  // index of the point under the pointer
  const box = canvas.getBoundingClientRect(), px = ev.clientX - box.left, py = ev.clientY - box.top;
  let best = -1, bestD = reach * reach;
  points.forEach(([x, y], i) => { const d = (x - px) ** 2 + (y - py) ** 2;
    if (d < bestD) { best = i; bestD = d; } });
  return best;
}
"""

_TEMPLATE = """<div class="course-widget" id="{uid}" data-widget="{kind}" style="max-width:760px">
{controls}
<div style="display:flex;flex-wrap:wrap;gap:0.5em">
{canvases}
</div>
<div class="widget-status" style="min-height:3.2em;font-size:0.9em"></div>
<div class="widget-live" aria-live="polite" style="position:absolute;width:1px;height:1px;
 overflow:hidden;clip-path:inset(50%)"></div>
<script>
(function () {{
const data = {data};
// the block this script sits in (ids can repeat when a notebook shows a widget twice)
const root = document.currentScript?.closest(".course-widget") ||
  document.getElementById("{uid}");
const live = root.querySelector(".widget-live");
let quiet = 0;
function announce(text) {{  // screen readers hear the status once a change has settled
  clearTimeout(quiet); quiet = setTimeout(() => {{ live.textContent = text; }}, 500);
}}
{library}
{script}
// draw once the canvases have a size (not while a folded cell or a hidden tab hides them),
// and again whenever the widget's width changes
const redraw = () => {{ if (root.querySelector("canvas").clientWidth > 0) draw(); }};
new ResizeObserver(redraw).observe(root);
redraw();
}})();
</script>
</div>"""


def widget_html(
    kind: str,
    uid: str,
    data: object,
    controls: str,
    canvases: dict[str, str],
    script: str,
    aspects: dict[str, str] | None = None,
) -> str:
    """One self-contained interactive figure: controls, canvases, a status line and a script.

    ``canvases`` maps each canvas's name (its ``data-name``) to its alt text. ``script``
    must define ``draw()``, called once and whenever the widget's size changes (never while
    the canvases have no size); it may use ``data``, ``root``, ``announce(text)`` (the
    screen-reader line) and the functions of ``CHART_JS``. ``aspects`` gives a canvas
    another shape than 4 / 3 (e.g. ``{"dials": "1 / 1"}``). In a notebook:
    ``IPython.display.HTML(widget_html(...))``.
    """
    check_uid(uid)
    if not canvases:
        raise ValueError("a widget needs at least one canvas to draw on")
    aspects = aspects or {}
    unknown = set(aspects) - set(canvases)
    if unknown:
        raise ValueError(f"aspects for canvases that do not exist: {sorted(unknown)}")
    boxes = "\n".join(
        f'<canvas data-name="{html.escape(name, quote=True)}" role="img" '
        f'aria-label="{html.escape(label, quote=True)}" style="flex:1 1 320px;'
        f'min-width:0;aspect-ratio:{aspects.get(name, "4 / 3")};touch-action:pan-y"></canvas>'
        for name, label in canvases.items()
    )
    return _TEMPLATE.format(
        uid=uid,
        kind=html.escape(kind, quote=True),
        controls=controls,
        canvases=boxes,
        data=script_json(data),
        library=CHART_JS.strip(),
        script=script.strip(),
    )
