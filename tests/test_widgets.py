"""The interactive figures: their numbers against slow obvious code, their pages offline in Chromium."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from embedlib.bench_results import (
    FUNNEL_FAMILIES,
    funnel_families,
    load_retrieval_benchmark,
)
from embedlib.figures import series_style
from embedlib.funnel_widget import funnel_widget_data, funnel_widget_html
from embedlib.positional import rope_frequencies
from embedlib.rope_widget import offset_spread, rope_widget_data, rope_widget_html
from embedlib.widgets import (
    canvas_style,
    check_uid,
    linear_ticks,
    log_ticks,
    script_json,
    widget_html,
)

SIZES = (10, 20, 50, 100, 200, 400, 1000)
CURVES = {
    "steep": (SIZES, [0.7, 0.85, 0.95, 0.99, 0.998, 1.0, 1.0]),
    "flat": (SIZES, [0.2, 0.3, 0.45, 0.55, 0.67, 0.78, 0.9]),
    "small": (SIZES[:-1], [0.6, 0.8, 0.93, 0.98, 1.0, 1.0]),
}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (-127, 127, [-100, -50, 0, 50, 100]),
        (0.213, 0.997, [0.4, 0.6, 0.8]),
        (12.0, 68.7, [20, 40, 60]),
    ],
)
def test_linear_ticks_are_round_and_inside(low, high, expected):
    ticks = linear_ticks(low, high, 5)
    values = [v for v, _ in ticks]
    assert values == pytest.approx(expected)
    assert all(low <= v <= high for v in values)


def test_tick_labels_read_as_numbers():
    assert linear_ticks(0, 1, 5)[1] == [0.2, "0.2"]
    assert linear_ticks(0, 20_000, 3)[1] == [10_000, "10,000"]
    assert log_ticks([10, 20], suffix="x") == [[10, "10x"], [20, "20x"]]


@pytest.mark.parametrize("low, high", [(1.0, 1.0), (2.0, 1.0), (0.0, math.inf)])
def test_ticks_refuse_an_empty_or_infinite_range(low, high):
    with pytest.raises(ValueError, match="finite low < high"):
        linear_ticks(low, high)


def test_log_ticks_refuse_non_positive_values():
    with pytest.raises(ValueError, match="positive"):
        log_ticks([0, 10])


@pytest.mark.parametrize("index", range(9))
def test_canvas_style_is_the_figures_style(index):
    mpl, canvas = series_style(index), canvas_style(index)
    assert canvas["colour"] == mpl["color"] and canvas["marker"] == mpl["marker"]
    assert (canvas["dash"] == []) == (mpl["linestyle"] == "-")


def test_uids_and_script_payloads_are_safe():
    assert check_uid("rope-widget_2") == "rope-widget_2"
    for bad in ("", "two words", "a'b", "<x>"):
        with pytest.raises(ValueError, match="letters, digits"):
            check_uid(bad)
    text = script_json({"word": "</script><b>"})
    assert "</" not in text and json.loads(text) == {"word": "</script><b>"}
    with pytest.raises(ValueError):
        script_json(
            {"x": math.nan}
        )  # NaN is not JSON: refuse rather than break the page


def test_widget_html_is_self_contained():
    page = widget_html(
        "demo",
        "w1",
        {"a": "</script>"},
        "<p>controls</p>",
        {"main": "alt"},
        "function draw() {}",
    )
    assert not re.search(r"\b(src|href)\s*=", page), "a widget must load nothing"
    assert "http" not in page and page.count("</script>") == 1
    assert 'aria-label="alt"' in page and 'role="img"' in page
    with pytest.raises(ValueError, match="at least one canvas"):
        widget_html("demo", "w1", {}, "", {}, "function draw() {}")
    with pytest.raises(ValueError, match="do not exist"):
        widget_html(
            "demo", "w1", {}, "", {"main": "alt"}, "", aspects={"other": "1 / 1"}
        )


def _turn(pair: torch.Tensor, angle: float) -> torch.Tensor:
    """A 2-D rotation written out: (x cos a - y sin a, x sin a + y cos a)."""
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([c * pair[0] - s * pair[1], s * pair[0] + c * pair[1]])


def test_rope_dials_are_the_pairs_turned_by_position():
    data = rope_widget_data(dim=16, positions=20, pairs=(0, 3, 7), seed=3)
    theta = rope_frequencies(16, dtype=torch.float64)
    for p in (0, 1, 7, 19):
        for j, i in enumerate(data.pairs):
            start = data.query_turned[0, j]
            assert torch.allclose(
                data.query_turned[p, j], _turn(start, p * float(theta[i])), atol=1e-12
            )
    assert data.wavelengths == pytest.approx((2 * math.pi / theta[[0, 3, 7]]).tolist())


def test_rope_scores_depend_on_the_offset_only():
    """Score at offset o = sum over pairs of q_i . (k_i turned by o theta_i), by hand."""
    dim, positions = 8, 12
    data = rope_widget_data(dim=dim, positions=positions, pairs=tuple(range(dim // 2)))
    theta = rope_frequencies(dim, dtype=torch.float64)
    q, k = data.query_turned[0], data.key_turned[0]  # [pairs, 2] at position 0
    for offset in (-11, -3, 0, 1, 11):
        by_hand = sum(
            float(q[i] @ _turn(k[i], offset * float(theta[i]))) for i in range(4)
        )
        index = int((data.offsets == offset).nonzero())
        assert float(data.scores[index]) == pytest.approx(by_hand, abs=1e-10)
    assert data.offset_spread < 1e-12
    assert len(data.offsets) == 2 * positions - 1 and data.positions == positions


def test_offset_spread_measures_the_diagonals():
    toeplitz = torch.tensor([[1.0, 2.0, 3.0], [4.0, 1.0, 2.0], [5.0, 4.0, 1.0]])
    assert offset_spread(toeplitz) == 0.0
    bumped = toeplitz.clone()
    bumped[2, 2] = 1.25  # the main diagonal now spans 1 .. 1.25
    assert offset_spread(bumped) == pytest.approx(0.25)
    bumped[0, 1] = 2.5  # and the first upper diagonal 2 .. 2.5
    assert offset_spread(bumped) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="square"):
        offset_spread(torch.zeros(2, 3))


def test_rope_scores_by_hand_for_every_position_pair():
    """S[m, n] written out pair by pair, for all m, n: the widget's score at n - m, and the
    angle between the pairs, equal it whatever m is."""
    dim, positions = 8, 6
    data = rope_widget_data(dim=dim, positions=positions, pairs=tuple(range(dim // 2)))
    theta = rope_frequencies(dim, dtype=torch.float64)
    q, k = data.query_turned[0], data.key_turned[0]  # [pairs, 2] at position 0
    for m in range(positions):
        for n in range(positions):
            by_hand = sum(
                float(_turn(q[i], m * float(theta[i])) @ _turn(k[i], n * float(theta[i])))
                for i in range(dim // 2)
            )
            index = int((data.offsets == n - m).nonzero())
            assert float(data.scores[index]) == pytest.approx(by_hand, abs=1e-10)
            turned = [_turn(k[i], (n - m) * float(theta[i])) for i in range(dim // 2)]
            expected = [
                math.remainder(math.atan2(t[1], t[0]) - math.atan2(q[i][1], q[i][0]), 2 * math.pi)
                for i, t in enumerate(turned)
            ]
            assert data.angles[index].tolist() == pytest.approx(expected, abs=1e-9)


def test_rope_key_resembles_the_query_as_asked():
    near = rope_widget_data(similarity=1.0, positions=4)
    assert torch.allclose(near.query_turned, near.key_turned)
    middle = int((near.offsets == 0).nonzero())
    assert float(near.scores[middle]) == pytest.approx(float(near.scores.max()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positions": 1}, "2 .. 1024"),
        ({"similarity": 1.5}, r"\[0, 1\]"),
        ({"pairs": (0, 32)}, "0 .. 31"),
        ({"pairs": ()}, "0 .. 31"),
        ({"pairs": (1.5,)}, "whole number"),
        ({"positions": 5000}, "2 .. 1024"),
        ({"dim": 7}, "even"),
    ],
)
def test_rope_widget_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rope_widget_data(**kwargs)


def test_rope_widget_refuses_a_shift_it_cannot_make():
    with pytest.raises(ValueError, match="step"):
        rope_widget_html(rope_widget_data(positions=10), step=10)


def test_funnel_data_gathers_both_halves():
    bench = load_retrieval_benchmark()
    data = funnel_widget_data(CURVES, bench)
    assert data["shortlists"] == sorted(
        set(SIZES) | {r["T"] for rs in funnel_families(bench).values() for r in rs}
    )
    assert [f["name"] for f in data["families"]] == list(FUNNEL_FAMILIES)
    fp32 = data["families"][0]["points"]
    assert [p["T"] for p in fp32] == sorted(p["T"] for p in fp32)
    row = next(
        r for r in bench["variants"] if r["variant"] == "fast funnel fp32, T=100"
    )
    assert (
        next(p for p in fp32 if p["T"] == 100)["speedup"]
        == row["speedup_vs_exact_fp32"]
    )
    assert data["recall"][2]["points"][-1] == (400, 1.0)


def test_funnel_widget_refuses_bad_input():
    bench = load_retrieval_benchmark()
    with pytest.raises(ValueError, match="no recall curves"):
        funnel_widget_data({}, bench)
    with pytest.raises(ValueError, match="3 shortlist sizes for 2 recalls"):
        funnel_widget_data({"x": ([1, 2, 3], [0.1, 0.2])}, bench)
    with pytest.raises(KeyError, match="re-run bench_retrieval"):
        funnel_families({"variants": []})
    with pytest.raises(ValueError, match="not a shortlist size"):
        funnel_widget_html(funnel_widget_data(CURVES, bench), start=7)
    with pytest.raises(ValueError, match="positive and increasing"):
        funnel_widget_data({"x": ([20, 10], [0.5, 0.4])}, bench)
    with pytest.raises(ValueError, match="outside"):
        funnel_widget_data({"x": ([10, 20], [0.5, 1.5])}, bench)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from chromium import page_in_chromium

    rope = rope_widget_html(rope_widget_data(positions=128), uid="rope")
    funnel = funnel_widget_html(
        funnel_widget_data(CURVES, load_retrieval_benchmark()), uid="fun"
    )
    root, profile = tmp_path_factory.mktemp("widget-site"), tmp_path_factory.mktemp("profile")
    again = rope_widget_html(rope_widget_data(positions=16, seed=1), uid="rope", step=5)
    with page_in_chromium(rope + funnel + again, root, profile) as opened:
        yield opened


PAINTED = (
    "[...document.querySelectorAll('#{uid} canvas')].map(c => {{"
    " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }})"
)


def test_widgets_draw_offline_without_errors(browser):
    chromium, log, url = browser
    assert log.exceptions == [] and log.failures == []
    assert [r for r in log.requests if not r.startswith(url)] == [], (
        "a request left the page"
    )
    for uid in ("rope", "fun"):
        painted = chromium.evaluate(PAINTED.format(uid=uid))
        assert len(painted) == {"rope": 4, "fun": 2}[uid], (uid, painted)  # two ropes
        assert min(painted) > 1000, (uid, painted)


def test_rope_angles_follow_the_offset_not_the_positions(browser):
    chromium, _, _ = browser
    widget = "document.getElementById('rope').widget"
    chromium.evaluate(f"{widget}.set(1, 3)")
    near = chromium.evaluate(f"{widget}.angles()")
    status = chromium.evaluate(f"{widget}.status()")
    assert status.startswith("m = 1, n = 3: offset n - m = 2, score ")
    chromium.evaluate(f"{widget}.shift(25)")
    assert chromium.evaluate(f"{widget}.positions()") == [26, 28]
    assert chromium.evaluate(f"{widget}.angles()") == pytest.approx(near, abs=2e-3)
    assert (
        chromium.evaluate(f"{widget}.status()").split(":", 1)[1]
        == status.split(":", 1)[1]
    )
    chromium.evaluate(
        f"{widget}.set(1, 4)"
    )  # another offset: the fast pair's angle moves
    assert abs(chromium.evaluate(f"{widget}.angles()")[0] - near[0]) > 0.5


def test_rope_shift_buttons_stop_at_the_ends(browser):
    chromium, _, _ = browser
    widget = "document.getElementById('rope').widget"
    chromium.evaluate(f"{widget}.set(10, 120)")
    states = "[...document.querySelectorAll('#rope')[0].querySelectorAll('button')].map(b => b.ariaDisabled)"
    assert chromium.evaluate(states) == ["true", "true"]  # 10 - 25 < 0, 120 + 25 > 127
    chromium.evaluate("document.querySelector('#rope button').click()")
    assert chromium.evaluate(f"{widget}.positions()") == [10, 120], "a blocked shift moved"
    chromium.evaluate(f"{widget}.set(30, 40)")
    assert chromium.evaluate(states) == ["false", "false"]


def test_funnel_slider_and_hover(browser):
    chromium, _, _ = browser
    widget = "document.getElementById('fun').widget"
    chromium.evaluate(f"{widget}.setT(200)")
    status = chromium.evaluate(f"{widget}.status()")
    assert status.startswith(
        "T = 200. Recall@10 (left): steep 0.998; flat 0.670; small 1.000."
    )
    assert (
        "int8 prefix, fp32 rerank: " in status
        and "not measured" not in status.split("bf16 prefix, bf16")[0]
    )
    chromium.evaluate(f"{widget}.setT(1000)")
    assert "small not computed at this T" in chromium.evaluate(f"{widget}.status()")
    assert "fp32 prefix, fp32 rerank: not measured at this T" in chromium.evaluate(
        f"{widget}.status()"
    )
    x, y = chromium.evaluate(f"{widget}.position('fast funnel fp32, T=100')")
    chromium.evaluate(
        "(() => { const c = document.querySelector('#fun canvas[data-name=speed]');"
        " const r = c.getBoundingClientRect();"
        f" c.dispatchEvent(new PointerEvent('pointermove', {{clientX: r.left + {x}, clientY: r.top + {y}}}));"
        " })()"
    )
    assert chromium.evaluate(f"{widget}.hovered()") == "fast funnel fp32, T=100"
    assert chromium.evaluate(f"{widget}.status()").startswith(
        "fast funnel fp32, T=100: "
    )
    chromium.evaluate(
        "document.querySelector('#fun canvas[data-name=speed]')"
        ".dispatchEvent(new PointerEvent('pointerleave'))"
    )
    assert chromium.evaluate(f"{widget}.hovered()") is None
    assert chromium.evaluate(f"{widget}.status()").startswith("T = 1000.")


def test_screen_readers_hear_a_short_line_once_the_change_settles(browser):
    chromium, _, _ = browser
    widget = "document.getElementById('fun').widget"
    chromium.evaluate(f"{widget}.setT(50)")
    live = "document.querySelector('#fun .widget-live')"
    chromium.evaluate("new Promise(r => setTimeout(r, 700))")
    assert chromium.evaluate(f"{live}.textContent") == "T = 50"
    assert chromium.evaluate(f"{live}.getAttribute('aria-live')") == "polite"
    slider = "document.querySelector('#fun input[type=range]')"
    assert chromium.evaluate(f"{slider}.getAttribute('aria-valuetext')") == "T = 50"


def test_two_widgets_with_one_id_each_drive_their_own_canvas(browser):
    chromium, _, _ = browser
    first, second = "document.querySelectorAll('#rope')[0]", "document.querySelectorAll('#rope')[1]"
    chromium.evaluate(f"{first}.widget.set(1, 3)")
    chromium.evaluate(f"{second}.widget.set(2, 9)")
    assert chromium.evaluate(f"{first}.widget.status()").startswith("m = 1, n = 3:")
    assert chromium.evaluate(f"{second}.widget.status()").startswith("m = 2, n = 9:")
