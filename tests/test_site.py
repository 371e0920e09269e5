"""The built website, checked from its files: every page, link, image, and the offline assets.

The site is built once per session (the ``built_site`` fixture in conftest.py) with warnings as
errors and nitpicky references. tests/test_site_browser.py then checks it in Chromium.
"""

from __future__ import annotations

import html.parser
import json
import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT
from site_pages import NOTEBOOK_PAGES, PAGES

pytestmark = pytest.mark.site


class _Links(html.parser.HTMLParser):
    """Collects ids and the targets of href/src attributes of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.targets: list[tuple[str, str]] = []  # (tag, url)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        for name in ("href", "src"):
            if attributes.get(name) is not None and tag in {"a", "img", "link", "script", "source", "iframe"}:
                self.targets.append((tag, attributes[name]))


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def parsed(built_site) -> dict[str, _Links]:
    """Every HTML page of the site (MathJax's own files excluded), parsed, by path relative to the site."""
    return {
        p.relative_to(built_site).as_posix(): _parse(p)
        for p in built_site.rglob("*.html") if "_static" not in p.relative_to(built_site).parts
    }


def test_every_toc_page_is_built(built_site):
    assert (built_site / "index.html").is_file()
    for page in PAGES:
        assert (built_site / page.html).is_file(), f"{page.docname} is in _toc.yml but was not built"


def test_internal_links_and_images_resolve(built_site, parsed):
    broken = []
    for path, links in parsed.items():
        for tag, url in links.targets:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or not (parts.path or parts.fragment):
                continue  # external (checked elsewhere: no page loads anything external), or "#"
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), unquote(parts.path))) if parts.path else path
            if not (built_site / target).is_file():
                broken.append(f"{path}: <{tag}> {url} (no file {target})")
            elif parts.fragment and target.endswith(".html") and target in parsed and unquote(parts.fragment) not in parsed[target].ids:
                broken.append(f"{path}: <{tag}> {url} (no id {parts.fragment!r} in {target})")
    assert not broken, "broken internal links or images:\n" + "\n".join(broken)


def test_no_page_loads_a_script_or_stylesheet_from_the_network(parsed):
    external = [
        f"{path}: <{tag}> {url}" for path, links in parsed.items() for tag, url in links.targets
        if tag in {"script", "img", "source", "iframe"} or (tag == "link" and url.endswith((".css", ".js", ".svg", ".png", ".ico")))
        if urlsplit(url).scheme in {"http", "https"} or url.startswith("//")
    ]
    assert not external, "pages fetch assets from the network (the site must work offline):\n" + "\n".join(external)


def test_mathjax_is_served_from_the_site(built_site, parsed):
    assert (built_site / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (built_site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    pages_with_math = [p for p, links in parsed.items() if any("mathjax/tex-mml-chtml.js" in url for _, url in links.targets)]
    assert "glossary.html" in pages_with_math, "the glossary uses math, so it must load the local MathJax"


def test_search_index_lists_every_page(built_site):
    index = (built_site / "searchindex.js").read_text()
    data = json.loads(re.fullmatch(r"Search\.setIndex\((.*)\)\s*", index, flags=re.DOTALL).group(1))
    assert set(data["docnames"]) >= {page.docname for page in PAGES}
    assert "embed" in data["terms"], "the index should know the course's main word (stemmed)"
    assert (built_site / "search.html").is_file()


def test_favicon_is_the_course_logo(built_site, parsed):
    icons = [a.get("href") for tag, a in parsed["intro.html"].tags if tag == "link" and a.get("rel") == "icon"]
    assert icons == ["_static/logo.svg"]
    assert (built_site / "_static" / "logo.svg").read_bytes() == (ROOT / "images" / "logo.svg").read_bytes()


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: p.docname)
def test_notebook_pages_have_colab_and_download_buttons(built_site, parsed, page):
    links = parsed[page.html]
    hrefs = [a.get("href", "") for tag, a in links.tags if tag == "a"]
    colab = [h for h in hrefs if "colab.research.google.com" in h]
    assert colab == [page.colab_url()], f"{page.docname}: Colab links {colab}, expected {page.colab_url()}"
    downloads = [a["href"] for tag, a in links.tags if tag == "a" and "btn-download-source-button" in a.get("class", "")]
    assert len(downloads) == 1, f"{page.docname}: expected one 'download .ipynb' button, found {downloads}"
    target = built_site / posixpath.normpath(posixpath.join(posixpath.dirname(page.html), downloads[0]))
    assert target.suffix == ".ipynb", f"{page.docname}: the download button serves {downloads[0]}"
    assert target.read_bytes() == page.learner_copy.read_bytes(), f"{page.docname}: the download is not learner/{page.source.name}"


def test_glued_numbers_are_rendered(built_site):
    page = (built_site / "chapters" / "00_getting_started.html").read_text()
    assert '<span class="pasted-text">30,522</span>' in page


# The primary sources the course rests on (by arXiv id); each must be in references.bib once.
PRIMARY_SOURCES = {
    "1301.3781", "1706.03762", "1810.04805", "2104.09864", "2108.12409", "2205.13147", "2403.05440",
    "2401.12143", "1710.04087", "2309.00071", "2306.15595", "2005.14165", "2407.21783", "1909.00512",
    "2104.08821", "1908.10084", "2002.10957",
}


def test_references_are_complete_and_unique():
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "references.bib")).entries  # raises on a repeated key
    arxiv = {}
    for key, entry in entries.items():
        missing = [f for f in ("title", "year") if f not in entry.fields] + ([] if entry.persons.get("author") else ["author"])
        assert not missing, f"references.bib: {key} lacks {missing}"
        text = " ".join(entry.fields.values())
        for arxiv_id in re.findall(r"arXiv:(\d{4}\.\d{4,5})", text):
            assert arxiv_id not in arxiv, f"arXiv:{arxiv_id} is in references.bib twice: {arxiv[arxiv_id]} and {key}"
            arxiv[arxiv_id] = key
    assert not PRIMARY_SOURCES - set(arxiv), f"primary sources missing from references.bib: {PRIMARY_SOURCES - set(arxiv)}"
    assert any(e.fields.get("title", "").startswith("Hubs in Space") for e in entries.values())
    assert any("Language Models are Unsupervised Multitask Learners" in e.fields.get("title", "") for e in entries.values())


def test_landing_page_maps_every_chapter_with_a_time():
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| \{doc\}`([^`]+)` \|.*\| (\d+ min) \|$", (ROOT / "intro.md").read_text(), re.MULTILINE)}
    chapters = [page.docname for page in PAGES if page.docname.startswith("chapters/")]
    missing = [name for name in chapters if name not in rows]
    assert not missing, f"intro.md's chapter map lacks a row (with a time) for {missing}"


GLOSSARY_TERMS = [
    "embedding table", "embedding dimension", "token id", "one-hot vector", "weight tying", "static embedding",
    "contextual embedding", "positional encoding", "RoPE", "ALiBi", "anisotropy", "whitening", "hubness", "CSLS",
    "Matryoshka representation learning", "KV cache", "grouped-query attention", "WordPiece",
]


def test_glossary_defines_the_course_terms(parsed):
    ids = parsed["glossary.html"].ids
    missing = [term for term in GLOSSARY_TERMS if "term-" + term.replace(" ", "-") not in ids]
    assert not missing, f"glossary.md lacks entries for {missing}"


SITE_BUDGET_BYTES = 20_000_000


def test_the_built_site_stays_within_budget(built_site):
    files = [p for p in built_site.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    biggest = sorted(files, key=lambda p: p.stat().st_size)[-5:]
    assert total <= SITE_BUDGET_BYTES, f"{total:,} bytes; biggest: {[p.relative_to(built_site).as_posix() for p in biggest]}"
    assert not [p for p in files if p.suffix == ".map"], "source maps are served"
    assert (built_site / "_static" / "scripts" / "fontawesome.js").stat().st_size < 50_000


def test_images_load_lazily_with_their_size(parsed):
    for name, page in parsed.items():
        for tag, attributes in page.tags:
            if tag == "img":
                assert attributes.get("loading") == "lazy", f"{name}: {attributes.get('src')} loads eagerly"
                assert attributes.get("width") and attributes.get("height"), f"{name}: {attributes.get('src')} has no size"


def test_bibliography_labels_are_author_year_and_link_the_papers(built_site):
    page = (built_site / "bibliography.html").read_text()
    labels = re.findall(r'<span class="label"><span class="fn-bracket">\[</span>(.*?)<span', page)
    assert labels and all(re.fullmatch(r"[^\d]+, (\d{4}[a-z]?|n\.d\.)", label) for label in labels), labels[:5]
    assert len(set(labels)) == len(labels)
    entries = re.findall(r'role="doc-biblioentry">(.*?)</div>', page, re.S)
    unlinked = [e[:80] for e in entries if 'class="reference external"' not in e]
    assert not unlinked, f"entries without a link to the paper: {unlinked}"


def test_footer_gives_the_licence_and_the_page_s_last_change(built_site):
    page = (built_site / "chapters" / "01_lookup.html").read_text()
    assert "MIT licence" in page
    assert re.search(r"Last updated on \d{4}-\d{2}-\d{2}", page)


def _css_dark_filter(rgb, amount: float, degrees: float):
    """What CSS ``invert(amount) hue-rotate(degrees)`` does to an sRGB colour (0-1), with the
    matrices of the Filter Effects spec (Chromium applies them in sRGB: measured equal)."""
    import math

    import numpy as np

    x = amount * (1 - np.asarray(rgb, dtype=float)) + (1 - amount) * np.asarray(rgb, dtype=float)
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    hue = np.array([
        [0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928],
        [0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283],
        [0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072],
    ])
    return np.clip(hue @ x, 0, 1)


def test_dark_mode_figures_keep_the_palette_hues_on_the_theme_background():
    """The dark-mode filter in course.css turns white into the book theme's dark background
    (#121212), keeps each Okabe-Ito hue within 6 degrees, and keeps the colours apart."""
    import colorsys
    import itertools

    import numpy as np

    from embedlib.figures import PALETTE

    css = (ROOT / "_ext" / "static" / "course.css").read_text()
    rule = re.search(r'html\[data-theme="dark"\] div\.cell_output img \{\s*filter: invert\(([\d.]+)\) '
                     r'hue-rotate\((\d+)deg\);', css)
    assert rule, "course.css lost its dark-mode rule for figures"
    amount, degrees = float(rule.group(1)), float(rule.group(2))
    background = _css_dark_filter([1, 1, 1], amount, degrees)
    assert np.abs(background * 255 - 0x12).max() <= 1, background * 255
    dark = {}
    for name, colour in PALETTE.items():
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        dark[name] = _css_dark_filter(rgb, amount, degrees)
        if name != "grey":
            before, after = colorsys.rgb_to_hls(*rgb)[0] * 360, colorsys.rgb_to_hls(*dark[name])[0] * 360
            shift = min(abs(before - after), 360 - abs(before - after))
            assert shift < 6, f"dark mode turns {name} {colour} by {shift:.0f} degrees of hue"
        assert np.linalg.norm(dark[name] - background) > 0.15, f"{name} vanishes into the dark background"
    for (a, ca), (b, cb) in itertools.combinations(dark.items(), 2):
        assert np.linalg.norm(ca - cb) > 0.1, f"in dark mode {a} and {b} look alike"


def test_icon_fonts_are_cut_to_the_glyphs_in_use_and_search_loads_only_on_its_page(built_site, parsed):
    """site_weight.py: Font Awesome's web fonts hold only the glyphs the CSS still draws as
    text (a few KB, no TrueType copies), and only search.html loads the search index."""
    webfonts = built_site / "_static" / "vendor" / "fontawesome" / "webfonts"
    fonts = {p.name: p.stat().st_size for p in webfonts.iterdir()}
    assert set(fonts) == {"fa-solid-900.woff", "fa-regular-400.woff", "fa-brands-400.woff"}, fonts
    assert all(size < 20_000 for size in fonts.values()), fonts
    css = (built_site / "_static" / "styles" / "pydata-sphinx-theme.css").read_text()
    assert "webfonts/fa-solid-900.woff)" in css and ".woff2" not in css and ".ttf" not in css
    from fontTools.ttLib import TTFont

    glyphs = TTFont(webfonts / "fa-solid-900.woff").getBestCmap()
    for name, code in {"info-circle (note)": 0xF05A, "lightbulb (tip)": 0xF0EB, "chevron": 0xF107}.items():
        assert code in glyphs, f"the solid icon font lost the {name} glyph"
    loading = [path for path, links in parsed.items() if any(url.endswith("searchindex.js") for _, url in links.targets)]
    assert loading == ["search.html"], loading
