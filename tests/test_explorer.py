"""embedlib.explorer: the data against brute force, the page offline in headless Chromium."""

from __future__ import annotations

import json
import re

import pytest
import torch

from embedlib.explorer import explorer_data, explorer_html, full_space_neighbours
from embedlib.geometry import WordVectors, pca
from embedlib.similarity import cosine_similarity


def toy_vectors(
    n: int = 40, d: int = 6, seed: int = 0, offset: float = 3.0
) -> WordVectors:
    generator = torch.Generator().manual_seed(seed)
    matrix = (
        torch.randn(n, d, generator=generator) + offset
    )  # a common direction: anisotropic
    return WordVectors([f"w{i}" for i in range(n)], matrix)


def test_neighbours_match_a_loop():
    vectors = toy_vectors()
    ids, scores = full_space_neighbours(vectors.matrix, k=3)
    for i in range(len(vectors)):
        others = [j for j in range(len(vectors)) if j != i]
        cos = {
            j: float(cosine_similarity(vectors.matrix[i], vectors.matrix[j]))
            for j in others
        }
        best = sorted(others, key=lambda j: -cos[j])[:3]
        assert ids[i].tolist() == best
        assert scores[i].tolist() == pytest.approx([cos[j] for j in best], abs=1e-5)
    with pytest.raises(ValueError, match="neighbours"):
        full_space_neighbours(vectors.matrix, k=40)


def test_centred_view_is_pca_and_raw_view_shows_the_common_direction():
    vectors = toy_vectors()
    data = explorer_data(vectors, n=30, k=4)
    rows = vectors.matrix[:30]
    torch.testing.assert_close(
        data.views["centred"], pca(rows, 2), atol=1e-4, rtol=1e-4
    )
    raw_x = data.views["raw"][:, 0]
    assert (raw_x > 0).all(), (
        "with a common direction, every row is on one side of the origin"
    )
    assert abs(float(data.views["centred"][:, 0].mean())) < 1e-4
    centred_ids, _ = full_space_neighbours(rows - rows.mean(dim=0), 4)
    assert torch.equal(data.neighbours["centred"], centred_ids)


def test_chosen_words_and_errors():
    vectors = toy_vectors()
    data = explorer_data(vectors, words=["w3", "w1", "w7", "w9"], k=2)
    assert data.words == ["w3", "w1", "w7", "w9"]
    with pytest.raises(ValueError, match="at least 3"):
        explorer_data(vectors, words=["w1", "w2"])
    with pytest.raises(ValueError, match="uid"):
        explorer_html(data, uid="bad id")


def test_html_is_self_contained():
    vectors = WordVectors(["a", "b", "c", "</script>x"], toy_vectors(n=4).matrix)
    page = explorer_html(explorer_data(vectors, k=2), uid="t1")
    assert not re.search(r"\b(src|href)\s*=", page), "the explorer must load nothing"
    assert "http" not in page
    assert page.count("</script>") == 1, "a word must not close the script element"
    payload = re.search(r"const data = (\{.*?\});\n", page).group(1)
    assert json.loads(payload.replace("<\\/", "</"))["words"][3] == "</script>x"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from chromium import page_in_chromium

    page = explorer_html(explorer_data(toy_vectors(n=60), k=3), uid="ex")
    root, profile = tmp_path_factory.mktemp("explorer-site"), tmp_path_factory.mktemp("profile")
    with page_in_chromium(page, root, profile) as opened:
        yield opened


def test_explorer_draws_searches_hovers_and_toggles_offline(browser):
    chromium, log, url = browser
    assert log.exceptions == [] and log.failures == []
    assert [r for r in log.requests if not r.startswith(url)] == [], (
        "a request left the page"
    )
    explorer = "document.getElementById('ex').explorer"
    painted = chromium.evaluate(
        "(() => { const c = document.querySelector('#ex canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()"
    )
    assert painted > 100, "the canvas shows the points"
    chromium.evaluate(f"{explorer}.select('w5')")
    assert chromium.evaluate(f"{explorer}.status()").startswith(
        "w5 (raw): nearest in all dimensions: "
    )
    x, y = chromium.evaluate(f"{explorer}.position('w7')")
    chromium.evaluate(
        "(() => { const c = document.querySelector('#ex canvas'); const r = c.getBoundingClientRect();"
        f" c.dispatchEvent(new MouseEvent('mousemove', {{clientX: r.left + {x}, clientY: r.top + {y}}}));"
        " })()"
    )
    assert chromium.evaluate(f"{explorer}.hovered()") == "w7"
    chromium.evaluate("document.querySelector('#ex input[value=centred]').click()")
    assert chromium.evaluate(f"{explorer}.status()").startswith("w5 (centred)")


def test_explorer_marks_the_origin_and_raw_rows_lean_to_one_side(browser):
    """The toy rows share a direction: in the raw view every point lies right of the origin's
    cross; in the centred view the origin sits inside the cloud."""
    chromium, _, _ = browser
    explorer = "document.getElementById('ex').explorer"
    chromium.evaluate("document.querySelector('#ex input[value=raw]').click()")
    ox, _ = chromium.evaluate(f"{explorer}.origin()")
    xs = [chromium.evaluate(f"{explorer}.position('w{i}')")[0] for i in range(60)]
    assert min(xs) > ox, (ox, min(xs))
    chromium.evaluate("document.querySelector('#ex input[value=centred]').click()")
    ox, _ = chromium.evaluate(f"{explorer}.origin()")
    xs = [chromium.evaluate(f"{explorer}.position('w{i}')")[0] for i in range(60)]
    assert min(xs) < ox < max(xs), (ox, min(xs), max(xs))


def test_groups_colour_the_words_and_keep_their_order():
    vectors = toy_vectors(n=10)
    data = explorer_data(vectors, groups={"first": ["w0", "w1", "w2"], "last": ["w8", "w9"]}, k=2)
    assert data.words == ["w0", "w1", "w2", "w8", "w9"]
    assert data.groups == ["first", "last"] and data.group_of == [0, 0, 0, 1, 1]
    payload = json.loads(data.to_json())
    assert payload["groups"] == ["first", "last"] and payload["group_of"] == [0, 0, 0, 1, 1]
    assert json.loads(explorer_data(vectors, k=2).to_json())["groups"] == []
    with pytest.raises(ValueError, match="not both"):
        explorer_data(vectors, words=["w0", "w1", "w2"], groups={"a": ["w0", "w1", "w2"]})
    with pytest.raises(ValueError, match="at most 3"):
        explorer_data(vectors, groups={str(i): [f"w{i}"] for i in range(4)})
    with pytest.raises(ValueError, match="give each word once"):
        explorer_data(vectors, groups={"a": ["w0", "w1"], "b": ["w1", "w2"]})
