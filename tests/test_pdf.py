"""The whole book as a PDF (``make pdf``: _ext/book_pdf.py): it builds, with every chapter,
its figures and its math.

The single-page build reuses the website's parsed pages (the ``built_site`` fixture's
doctrees), so this adds the single page's writing and Chromium's printing to the site build.
The PDF is checked from its bookmarks (Chromium writes one per heading) and its embedded
images, read with pypdf, rather than by extracting all of its text, which takes far longer.
"""

from __future__ import annotations

import re
import sys

import pytest

from chromium import chromium_executable
from conftest import ROOT
from site_pages import PAGES

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def book_pdf(built_site):
    if chromium_executable() is None:
        pytest.skip("the PDF is printed by headless Chromium (apt-get install chromium)")
    sys.path.insert(0, str(ROOT / "_ext"))
    import book_pdf

    path_output = built_site.parent.parent  # the html build's _build/ holds the doctrees
    return book_pdf.build_pdf(path_output, path_output / "_build" / "pdf" / book_pdf.PDF_NAME)


def _outline_titles(outline) -> list[str]:
    titles = []
    for item in outline:
        if isinstance(item, list):
            titles.extend(_outline_titles(item))
        else:
            # Chromium drops the space at a heading's line break: compare without spaces
            titles.append(re.sub(r"[#¶\s]", "", item.title))
    return titles


def _image_count(reader) -> int:
    count = 0
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        count += sum(1 for x in xobjects.values() if x.get_object().get("/Subtype") == "/Image")
    return count


def test_the_pdf_holds_every_chapter_its_figures_and_its_math(book_pdf):
    from pypdf import PdfReader

    pdf, facts = book_pdf
    assert not facts["exceptions"], facts["exceptions"]
    assert facts["broken"] == 0 and facts["math"] > 50 and facts["typeset"] >= facts["math"], facts
    reader = PdfReader(str(pdf))
    titles = _outline_titles(reader.outline)
    missing = [page.title() for page in PAGES if not any(re.sub(r"\s", "", page.title()) in t for t in titles)]
    assert not missing, f"{pdf.name} has no bookmark (heading) for {missing}; it has {titles[:12]}"
    figures = sum(page.image_outputs() for page in PAGES)
    assert _image_count(reader) >= figures, f"{pdf.name} embeds {_image_count(reader)} images, the book shows {figures}"
    assert len(reader.pages) >= 3 * len(PAGES), f"{len(reader.pages)} pages"
