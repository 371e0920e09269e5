"""The website as a reader sees it: every page loaded in headless Chromium, with no network.

The built site is served on 127.0.0.1 and every page of _toc.yml is opened once in Debian's
``chromium``, driven over the DevTools protocol (tests/chromium.py). Any host other than the
local server fails to resolve, so the math is typeset by the site's own MathJax copy or not at
all. Screenshots of two pages are kept in test-artifacts/ (not committed).

Without Chromium the tests are skipped locally (``apt-get install chromium`` enables them);
in CI (the ``CI`` environment variable set) a missing Chromium is a failure.
"""

from __future__ import annotations

import os

import pytest

from chromium import Chromium, PageLog, SiteServer, chromium_executable
from conftest import ROOT
from site_pages import NOTEBOOK_PAGES, PAGES

pytestmark = pytest.mark.site
ARTIFACTS = ROOT / "test-artifacts"

# Runs in the page after its load event: waits for MathJax where the page has math, then
# reports what a reader would see. Solutions are expanded by clicking their toggle button.
PAGE_FACTS = r"""
(async () => {
  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const mathSpans = [...document.querySelectorAll(".math")];
  if (mathSpans.length) {
    for (let i = 0; i < 400 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(25);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  }
  // What a first visit transferred, before the lazy images below the fold are forced to load
  // (every image must load: the checks below look at all of them).
  const firstVisit = [performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
    .reduce((sum, entry) => sum + (entry.encodedBodySize || 0), 0);
  const images = [...document.images];
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  const solutions = [];
  for (const solution of document.querySelectorAll("div.solution")) {
    const button = solution.querySelector(".toggle-button");
    const body = [...solution.children].filter(child => !child.classList.contains("admonition-title"));
    const before = body.some(shown);
    if (button) { button.click(); await sleep(50); }
    solutions.push({id: solution.id, dropdown: solution.classList.contains("dropdown"), button: !!button,
                    hiddenAtFirst: !before, shownAfterClick: body.some(shown)});
  }
  const h1 = document.querySelector("article h1, main h1, h1");
  return {
    title: document.title,
    h1: h1 ? h1.textContent.replace(/[#¶]/g, "").trim() : "",
    math: mathSpans.length,
    mathRendered: document.querySelectorAll("mjx-container").length,
    mathUntypeset: mathSpans.filter(el => !el.querySelector("mjx-container")).map(el => el.textContent.slice(0, 60)),
    mathErrors: document.querySelectorAll("mjx-merror").length,
    brokenImages: [...document.images].filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute("src")),
    figures: [...document.querySelectorAll("article.bd-article img")].filter(img => img.naturalWidth > 0).length,
    exercises: [...document.querySelectorAll("div.exercise")].map(e => e.querySelector(".admonition-title")?.textContent.trim() || ""),
    solutions: solutions,
    colab: [...document.querySelectorAll("a[href*='colab.research.google.com']")].map(a => a.href),
    bytes: firstVisit,
    iconsDrawn: document.querySelectorAll("svg.svg-inline--fa").length,
    iconsLeft: document.querySelectorAll("i.fa-solid, i.fa-brands, i.fa-regular").length,
    downloads: [...document.querySelectorAll("a.btn-download-source-button")].map(a => a.href),
    widgets: [...document.querySelectorAll(".course-widget, .embedding-explorer")].map(w => ({
      id: w.id,
      painted: [...w.querySelectorAll("canvas")].map(c => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }),
    })),
  };
})()
"""

SEARCH_RESULTS = r"""
(async () => {
  // Sphinx's search writes its final status ("Search finished, found ..." or "... did not
  // match ...") once every result is listed.
  for (let i = 0; i < 400; i++) {
    const status = document.querySelector("#search-results .search-summary")?.textContent || "";
    if (status.includes("finished") || status.includes("did not match")) break;
    await new Promise(resolve => setTimeout(resolve, 25));
  }
  return [...document.querySelectorAll("#search-results ul.search li a")].map(a => a.getAttribute("href"));
})()
"""


@pytest.fixture(scope="module")
def browser(built_site, tmp_path_factory):
    executable = chromium_executable()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI must run the browser checks (.ci/run installs it)")
        pytest.skip("headless Chromium is not installed (apt-get install chromium); the browser checks need it")
    with SiteServer(built_site) as server, Chromium(executable, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield server.url, chromium


@pytest.fixture(scope="module")
def rendered(browser) -> dict[str, tuple[dict, PageLog]]:
    """Every page of _toc.yml, opened once: what the page showed, and what it requested."""
    url, chromium = browser
    results = {}
    for page in PAGES:
        log = chromium.open(url + page.html)
        results[page.docname] = (chromium.evaluate(PAGE_FACTS), log)
    return results


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.docname)
def test_page_loads_with_its_title_and_no_errors(rendered, browser, page):
    facts, log = rendered[page.docname]
    url, _ = browser
    assert not log.failures, f"{page.html}: failed loads {log.failures}"
    offsite = [u for u in log.requests if not u.startswith((url, "data:", "blob:", "about:"))]
    assert not offsite, f"{page.html} tried to load from the network: {offsite}"
    assert not log.exceptions, f"{page.html}: JavaScript errors {log.exceptions}"
    assert facts["h1"] == page.title(), f"{page.html} shows heading {facts['h1']!r}, its source says {page.title()!r}"
    assert facts["title"].startswith(page.title()), f"{page.html}: browser title {facts['title']!r}"
    assert not facts["brokenImages"], f"{page.html}: images that did not load {facts['brokenImages']}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.docname)
def test_math_is_typeset_offline(rendered, page):
    facts, _ = rendered[page.docname]
    assert not facts["mathUntypeset"], f"{page.html}: math left as TeX (MathJax did not run): {facts['mathUntypeset'][:3]}"
    assert facts["mathRendered"] >= facts["math"], f"{page.html}: {facts['math']} formulas, {facts['mathRendered']} typeset"
    assert facts["mathErrors"] == 0, f"{page.html}: MathJax reported {facts['mathErrors']} TeX errors"


def test_some_page_has_math_so_the_math_check_means_something(rendered):
    assert rendered["glossary"][0]["mathRendered"] > 0


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.docname)
def test_figures_are_shown(rendered, page):
    facts, _ = rendered[page.docname]
    assert facts["figures"] >= page.image_outputs(), (
        f"{page.html} shows {facts['figures']} figures, the notebook stores {page.image_outputs()} to show"
    )
    if page.is_chapter:
        assert facts["figures"] >= 1, f"{page.html} is a chapter page without a single figure"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.docname)
def test_exercises_render_with_hidden_solutions(rendered, page):
    facts, _ = rendered[page.docname]
    assert len(facts["exercises"]) == page.count("exercise-start") + page.count("exercise"), f"{page.html}: {facts['exercises']}"
    assert all(title.startswith("Exercise") for title in facts["exercises"]), facts["exercises"]
    assert len(facts["solutions"]) == page.count("solution-start") + page.count("solution")
    for solution in facts["solutions"]:
        assert solution["dropdown"] and solution["button"], f"{page.html}: solution {solution['id']} is not a dropdown"
        assert solution["hiddenAtFirst"], f"{page.html}: solution {solution['id']} is visible before a click"
        assert solution["shownAfterClick"], f"{page.html}: solution {solution['id']} does not open on click"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: p.docname)
def test_notebook_page_links_to_colab_and_offers_the_download(rendered, browser, page):
    facts, _ = rendered[page.docname]
    url, _ = browser
    assert facts["colab"] == [page.colab_url()], f"{page.html}: Colab links {facts['colab']}"
    assert facts["downloads"] == [f"{url}learner/{page.learner_copy.name}"], f"{page.html}: {facts['downloads']}"


FIRST_VISIT_BUDGET_BYTES = 2_500_000


@pytest.mark.parametrize("page", [p for p in PAGES if p.is_chapter], ids=lambda p: p.docname)
def test_a_chapter_first_visit_stays_within_budget(rendered, page):
    """Everything the page loaded up to now (HTML, scripts, styles, fonts, the images in view;
    the others load lazily), uncompressed: a server's compression only lowers it."""
    facts, _ = rendered[page.docname]
    assert facts["bytes"] <= FIRST_VISIT_BUDGET_BYTES, f"{page.html}: {facts['bytes']:,} bytes on first visit"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.docname)
def test_icons_are_drawn_by_the_small_icon_script(rendered, page):
    facts, _ = rendered[page.docname]
    assert facts["iconsDrawn"] >= 3 and facts["iconsLeft"] == 0, (page.html, facts["iconsDrawn"], facts["iconsLeft"])


def test_search_finds_pages(browser):
    url, chromium = browser
    log = chromium.open(url + "search.html?q=embedding")
    hits = chromium.evaluate(SEARCH_RESULTS)
    assert hits, "the search page returned no results for 'embedding'"
    assert any(hit.split("?")[0].split("#")[0] == "intro.html" for hit in hits), hits
    assert not log.exceptions and not log.failures, (log.exceptions, log.failures)


def test_screenshots_are_kept(browser, rendered):
    """The landing page and the first chapter with figures, as PNGs in test-artifacts/; in
    dark mode the chapter's first figure must read dark (no bright panel), in light mode light."""
    url, chromium = browser
    with_figures = [p for p in PAGES if p.is_chapter and rendered[p.docname][0]["figures"]] or NOTEBOOK_PAGES
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    views = [("", 1280, "light"), ("__phone", 390, "light"), ("__dark", 1280, "dark"), ("__phone_dark", 390, "dark")]
    for page in [PAGES[0], with_figures[0]]:
        for suffix, width, theme in views:
            shot = ARTIFACTS / f"{page.docname.replace('/', '__')}{suffix}.png"
            chromium.call("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": width < 600})
            chromium.open(url + page.html)
            chromium.evaluate(f'(async () => {{ document.documentElement.dataset.theme = "{theme}"; '
                              f'await {PAGE_FACTS.strip()}; '
                              'document.querySelector(".cell_output img")?.scrollIntoView({block: "center"}); })()')
            chromium.screenshot(shot)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000, shot
            if page is not PAGES[0]:
                luminance, css_filter = _figure_luminance(chromium, shot.with_suffix(".figure.png"))
                if theme == "dark":
                    assert luminance < 0.25 and "invert" in css_filter, (
                        f"{page.html} at {width} px, dark mode: a figure reads as a bright panel "
                        f"(mean luminance {luminance:.2f}, filter {css_filter!r})"
                    )
                else:
                    assert luminance > 0.7 and css_filter == "none", (page.html, width, luminance, css_filter)
    chromium.call("Emulation.clearDeviceMetricsOverride")


FIGURE_BOX = r"""
(() => {
  const img = document.querySelector(".cell_output img");
  const box = img.getBoundingClientRect();
  return {x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width,
          height: box.height, filter: getComputedStyle(img).filter};
})()
"""


def _figure_luminance(chromium: Chromium, path) -> tuple[float, str]:
    """Mean relative luminance (0 black, 1 white) of the first figure as drawn, and its filter."""
    box = chromium.evaluate(FIGURE_BOX)
    css_filter = box.pop("filter")
    chromium.screenshot(path, clip=box)
    return _luminance(path), css_filter


def _luminance(path) -> float:
    """Mean relative luminance (0 black, 1 white) of a screenshot (WCAG's formula)."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float((linear @ [0.2126, 0.7152, 0.0722]).mean())


# The interactive figures of the course: page -> the ids of the widgets it must show
WIDGET_PAGES = {
    "chapters/02_geometry": ["geometry-explorer"],
    "chapters/04_positional": ["rope-widget"],
    "chapters/05_matryoshka": ["funnel-widget"],
    "chapters/06_pitfalls": ["decoder-explorer"],
}


@pytest.mark.parametrize("docname", sorted(WIDGET_PAGES))
def test_interactive_figures_draw_on_the_site(rendered, docname):
    facts, _ = rendered[docname]
    assert [w["id"] for w in facts["widgets"]] == WIDGET_PAGES[docname], facts["widgets"]
    for widget in facts["widgets"]:
        assert widget["painted"] and min(widget["painted"]) > 1000, (
            f"{docname}: widget {widget['id']} left a canvas blank: {widget['painted']}"
        )


INTERACTIONS = {  # what a reader does, and the start of what the widget then says
    "chapters/02_geometry": ("geometry-explorer", "explorer.select('king')", "explorer.status()", "king (raw): nearest in all dimensions: "),
    "chapters/04_positional": ("rope-widget", "widget.set(5, 9)", "widget.status()", "m = 5, n = 9: offset n - m = 4, score "),
    "chapters/05_matryoshka": ("funnel-widget", "widget.setT(200)", "widget.status()", "T = 200. Recall@10 (left): "),
    "chapters/06_pitfalls": ("decoder-explorer", "explorer.select('water')", "explorer.status()", "water (raw): nearest in all dimensions: "),
}


@pytest.mark.parametrize("docname", sorted(INTERACTIONS))
def test_interactive_figures_respond_and_read_in_dark_mode(browser, docname, tmp_path):
    """A reader's action changes what the widget says; in dark mode the widget reads dark
    (no light panel behind it), in light mode light."""
    url, chromium = browser
    uid, action, read, expected = INTERACTIONS[docname]
    chromium.call("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    try:
        for theme in ("light", "dark"):
            log = chromium.open(url + docname + ".html")
            chromium.evaluate(f'document.documentElement.dataset.theme = "{theme}"')
            element = f"document.getElementById('{uid}')"
            chromium.evaluate(f"{element}.{action}")
            assert chromium.evaluate(f"{element}.{read}").startswith(expected)
            assert not log.exceptions, log.exceptions
            box = chromium.evaluate(
                f"(() => {{ const c = {element}.querySelector('canvas'); c.scrollIntoView({{block: 'center'}});"
                " const b = c.getBoundingClientRect();"
                " return {x: b.left + scrollX, y: b.top + scrollY, width: b.width, height: b.height}; })()"
            )
            shot = tmp_path / f"{uid}-{theme}.png"
            chromium.screenshot(shot, clip=box)
            luminance = _luminance(shot)
            if theme == "dark":
                assert luminance < 0.25, f"{docname}: {uid} reads as a bright panel in dark mode ({luminance:.2f})"
            else:
                assert luminance > 0.7, f"{docname}: {uid} reads dark in light mode ({luminance:.2f})"
            if docname == "chapters/04_positional":
                ARTIFACTS.mkdir(exist_ok=True)
                (ARTIFACTS / f"widget__{uid}__phone_{theme}.png").write_bytes(shot.read_bytes())
    finally:
        chromium.call("Emulation.clearDeviceMetricsOverride")
