"""An interactive view of the Matryoshka funnel's trade-off: pick the shortlist size T, see both sides.

The funnel (Kusupati et al., 2022, "Matryoshka Representation Learning", section 4.3) scores
every row on a short prefix, keeps the best ``T`` per query and reranks those at full width.
``T`` is the one knob: a larger shortlist returns more of the exact top ``k`` (recall@k) and
costs more time. The figure puts the two halves side by side for the reader's ``T``:

- left, recall@10 against ``T`` on the vectors of chapter 5 (computed on the page by
  :func:`embedlib.retrieval.funnel_recall_curve`): how much the answer depends on the data;
- right, speed-up over exact search against recall@10 from the stored run of
  ``benchmarks/bench_retrieval.py`` (machine and date in the figure): what each ``T`` costs,
  for each precision of shortlist and rerank. Hovering over a point names its variant.

:func:`funnel_widget_data` gathers and checks the numbers; :func:`funnel_widget_html` draws
them. The page computes nothing.
"""

from __future__ import annotations

from .bench_results import funnel_families, variant
from .widgets import canvas_style, linear_ticks, log_ticks, widget_html


def funnel_widget_data(
    curves: dict[str, tuple[list[int], list[float]]], bench: dict
) -> dict:
    """The figure's numbers: ``curves`` maps a name to (shortlist sizes, recall@10 at each);
    ``bench`` is the stored benchmark (:func:`embedlib.bench_results.load_retrieval_benchmark`).
    """
    if not curves:
        raise ValueError(
            "no recall curves given; pass {name: (shortlist sizes, recalls)}"
        )
    recall = []
    for i, (name, (sizes, values)) in enumerate(curves.items()):
        sizes, values = [int(t) for t in sizes], [float(r) for r in values]
        if len(sizes) != len(values) or not sizes:
            raise ValueError(
                f"curve {name!r}: {len(sizes)} shortlist sizes for {len(values)} recalls"
            )
        if sizes != sorted(set(sizes)) or sizes[0] < 1:
            raise ValueError(
                f"curve {name!r}: shortlist sizes {sizes} must be positive and increasing"
            )
        if not all(0.0 <= r <= 1.0 for r in values):
            raise ValueError(f"curve {name!r}: a recall outside [0, 1] in {values}")
        recall.append(
            {"name": name, "points": list(zip(sizes, values)), **canvas_style(i)}
        )
    families = []
    for i, (label, rows) in enumerate(funnel_families(bench).items()):
        points = [
            {
                "T": r["T"],
                "recall": r["recall_at_10"],
                "speedup": r["speedup_vs_exact_fp32"],
                "ms": r["median_ms"],
                "variant": r["variant"],
            }
            for r in rows
        ]
        # styles 4, 5, 6, 3: not the left panel's first three (other data, other lines)
        families.append({"name": label, "points": points, **canvas_style((4, 5, 6, 3)[i])})
    exact = variant(bench, "exact fp32")
    sizes = sorted(
        {t for c in recall for t, _ in c["points"]}
        | {p["T"] for f in families for p in f["points"]}
    )
    return {
        "shortlists": sizes,
        "recall": recall,
        "families": families,
        "exact_ms": exact["median_ms"],
        "run": f"stored run of {bench['date_utc'][:10]}, {bench['machine']['cpu']}, "
        f"N = {bench['settings']['N']:,}, one thread",
    }


_CONTROLS = """<label>shortlist size T <input type="range" data-role="t" min="0" max="{last}"
 value="{start}" aria-label="shortlist size T" style="width:14em">
 <output data-for="t">{value}</output></label>"""

_SCRIPT = """
const left = root.querySelector("canvas[data-name=recall]");
const right = root.querySelector("canvas[data-name=speed]");
const status = root.querySelector(".widget-status");
const slider = root.querySelector("input[data-role=t]");
let pick = Number(slider.value), hover = null, targets = [];
const T = () => data.shortlists[pick];
const at = points => points.find(p => (p.T ?? p[0]) === T());
function drawRecall() {
  const s = surface(left), f = frame(s, data.recallAxes, legendHeight(data.recall, s.w));
  legend(s, data.recall);
  s.ctx.strokeStyle = INK; s.ctx.lineWidth = 1.5; s.ctx.setLineDash([4, 3]);
  s.ctx.beginPath(); s.ctx.moveTo(f.X(T()), f.top); s.ctx.lineTo(f.X(T()), f.bottom);
  s.ctx.stroke(); s.ctx.setLineDash([]);
  data.recall.forEach(c => {
    line(s, f, c.points, c);
    c.points.forEach(([t, r]) => marker(s.ctx, c.marker, f.X(t), f.Y(r), t === T() ? 6 : 3));
  });
}
function drawSpeed() {
  const s = surface(right), f = frame(s, data.speedAxes, legendHeight(data.families, s.w));
  legend(s, data.families);
  targets = [];
  data.families.forEach(fam => {
    line(s, f, fam.points.map(p => [p.recall, p.speedup]), fam);
    fam.points.forEach(p => {
      const x = f.X(p.recall), y = f.Y(p.speedup), chosen = p.T === T();
      s.ctx.fillStyle = fam.colour; marker(s.ctx, fam.marker, x, y, chosen ? 7 : 3.5);
      if (chosen) { s.ctx.strokeStyle = INK; s.ctx.lineWidth = 1.5; s.ctx.stroke(); }
      targets.push({x, y, p, fam});
    });
  });
  if (hover) { s.ctx.strokeStyle = INK; s.ctx.lineWidth = 2; s.ctx.beginPath();
    s.ctx.arc(hover.x, hover.y, 10, 0, 2 * Math.PI); s.ctx.stroke(); }
}
function describe() {
  const curves = data.recall.map(c => { const p = at(c.points);
    return `${c.name} ${p ? p[1].toFixed(3) : "not computed at this T"}`; });
  const runs = data.families.map(fam => { const p = at(fam.points);
    return p ? `${fam.name}: ${p.speedup.toFixed(1)}x at recall ${p.recall.toFixed(4)}`
      : `${fam.name}: not measured at this T`; });
  let text = `T = ${T()}. Recall@10 (left): ${curves.join("; ")}. ` +
    `Benchmark (right, ${data.run}): ${runs.join("; ")}.`;
  if (hover) text = `${hover.p.variant}: ${hover.p.ms.toFixed(0)} ms for the queries ` +
    `(exact fp32 search ${data.exact_ms.toFixed(0)} ms), ${hover.p.speedup.toFixed(1)}x, ` +
    `recall@10 ${hover.p.recall.toFixed(4)}. ` + text;
  status.textContent = text;
  announce(hover ? `${hover.p.variant}, ${hover.p.speedup.toFixed(1)}x` : `T = ${T()}`);
}
function draw() {
  root.querySelector("output[data-for=t]").textContent = T();
  slider.setAttribute("aria-valuetext", `T = ${T()}`);
  drawRecall(); drawSpeed(); describe();
}
slider.addEventListener("input", () => { pick = Number(slider.value); draw(); });
right.addEventListener("pointermove", ev => {  // a mouse, a pen or a finger's tap
  const i = nearest(right, ev, targets.map(t => [t.x, t.y]));
  const next = i >= 0 ? targets[i] : null;
  if (next?.p !== hover?.p) { hover = next; draw(); }
});
right.addEventListener("pointerleave", () => { if (hover) { hover = null; draw(); } });
root.widget = {  // for tests, and for readers who like the console
  setT: t => { pick = data.shortlists.indexOf(t); slider.value = pick; draw(); },
  position: name => { const t = targets.find(t => t.p.variant === name); return [t.x, t.y]; },
  hovered: () => (hover ? hover.p.variant : null),
  status: () => status.textContent,
};
"""


def funnel_widget_html(data: dict, uid: str = "funnel-widget", start: int = 100) -> str:
    """The figure as one self-contained HTML block (no request leaves the page)."""
    sizes = data["shortlists"]
    if start not in sizes:
        raise ValueError(f"start={start} is not a shortlist size of the data: {sizes}")
    recalls = [r for c in data["recall"] for _, r in c["points"]]
    points = [p for f in data["families"] for p in f["points"]]
    low = min(recalls + [p["recall"] for p in points])
    speeds = [p["speedup"] for p in points]
    payload = {
        **data,
        "recallAxes": {
            "x": {
                "min": sizes[0] / 1.3,
                "max": sizes[-1] * 1.3,
                "log": True,
                "ticks": log_ticks(sizes),
                "title": "shortlist size T (log scale)",
            },
            "y": {
                "min": low - 0.03,
                "max": 1.02,
                "ticks": linear_ticks(low, 1.0, 5),
                "title": "recall@10 vs exact search",
            },
        },
        "speedAxes": {
            "x": {
                "min": min(p["recall"] for p in points) - 0.003,
                "max": 1.002,
                "ticks": linear_ticks(min(p["recall"] for p in points), 1.0, 4),
                "title": "recall@10 vs exact fp32 search",
            },
            "y": {
                "min": min(speeds) / 1.25,
                "max": max(speeds) * 1.25,
                "log": True,
                "ticks": log_ticks(
                    [
                        v
                        for v in (2, 3, 5, 10, 15, 20, 30, 50, 100)
                        if min(speeds) / 1.25 <= v <= max(speeds) * 1.25
                    ],
                    suffix="x",
                ),
                "title": "speed-up over exact fp32 (log)",
            },
        },
    }
    canvases = {
        "recall": "Recall at 10 against the shortlist size T for "
        + ", ".join(c["name"] for c in data["recall"])
        + ", with the chosen T marked.",
        "speed": "Speed-up over exact search against recall at 10 in the stored benchmark, "
        "one line per precision of shortlist and rerank, the chosen T's points enlarged.",
    }
    controls = _CONTROLS.format(
        last=len(sizes) - 1, start=sizes.index(start), value=start
    )
    square = {"recall": "1 / 1", "speed": "1 / 1"}  # room for the legends
    return widget_html("funnel", uid, payload, controls, canvases, _SCRIPT, square)
