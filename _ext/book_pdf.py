"""The whole book as one PDF: Sphinx's ``singlehtml`` page printed by headless Chromium.

``make pdf`` (or ``python _ext/book_pdf.py``) runs

1. ``jupyter-book build . --builder singlehtml``: every page of ``_toc.yml`` in one HTML page,
   with the same extensions as the website (local MathJax, the course CSS). It reuses the
   website's parsed pages (``_build/.doctrees``) when ``make site`` ran before, so it mostly
   writes;
2. Debian's ``chromium``, headless and with no network (tests/chromium.py), on that page served
   from 127.0.0.1: light theme, every lazy image loaded, solutions unfolded, MathJax's typesetting
   awaited, then DevTools' ``Page.printToPDF`` (A4, page numbers in the footer, bookmarks from
   the headings). The print rules in ``_static/course.css`` wrap long code lines, hide the
   site's chrome and the folded plotting code (cells tagged ``hide-input``).

Only registry packages and Debian's Chromium are used: no LaTeX. The output is
``_build/pdf/token-embeddings.pdf``. tests/test_pdf.py builds it and checks that it holds
every chapter and its figures.

As a Sphinx extension (loaded by ``course_site``) this module fixes one thing for the
``singlehtml`` builder: when an extension registers node visitors for ``singlehtml`` by name,
Sphinx stops falling back to those registered for ``html``, so myst-nb's ``HideCodeCellNode``
(cells tagged ``hide-input``) has no visitor and the build fails. The ``html`` visitors are
copied over where ``singlehtml`` has none.
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PDF_NAME = "token-embeddings.pdf"

# Runs in the single page before printing; returns what it found (the tests read it).
PREPARE = r"""
(async () => {
  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
  document.documentElement.dataset.theme = "light";
  document.documentElement.dataset.mode = "light";
  const images = [...document.images];
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  for (const solution of document.querySelectorAll("div.solution.dropdown")) {
    const button = solution.querySelector(".toggle-button");
    if (button && solution.classList.contains("toggle-hidden")) button.click();
  }
  const math = document.querySelectorAll(".math").length;
  if (math) {
    for (let i = 0; i < 800 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(25);
    await MathJax.startup.promise;
  }
  await sleep(200);
  return {math: math, typeset: document.querySelectorAll("mjx-container").length,
          images: images.length, broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).length};
})()
"""

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


def build_singlehtml(path_output: Path) -> Path:
    """Build the single-page HTML book under ``path_output/_build/singlehtml``; return its folder."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "--builder", "singlehtml",
               "--path-output", str(path_output), "-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"the single-page book did not build:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return path_output / "_build" / "singlehtml"


def root_page() -> str:
    """The single page's file: the root of _toc.yml (index.html only redirects to it)."""
    import yaml

    return yaml.safe_load((ROOT / "_toc.yml").read_text())["root"] + ".html"


def print_pdf(folder: Path, pdf: Path, timeout: float = 240.0) -> dict:
    """Print the single page in ``folder`` to ``pdf`` with headless Chromium; return what it held."""
    sys.path.insert(0, str(ROOT / "tests"))
    from chromium import Chromium, SiteServer, chromium_executable

    executable = chromium_executable()
    if executable is None:
        raise RuntimeError("the PDF is printed by Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile, SiteServer(folder) as server, \
            Chromium(executable, Path(profile), timeout=timeout) as chromium:
        chromium.call("Emulation.setEmulatedMedia", {"media": "print"})
        log = chromium.open(server.url + root_page())
        facts = chromium.evaluate(PREPARE)
        data = chromium.call("Page.printToPDF", {
            "paperWidth": 8.27, "paperHeight": 11.69,  # A4, in inches
            "marginTop": 0.6, "marginBottom": 0.7, "marginLeft": 0.6, "marginRight": 0.6,
            "printBackground": True, "displayHeaderFooter": True,
            "headerTemplate": "<div></div>", "footerTemplate": FOOTER,
            "generateDocumentOutline": True,  # bookmarks from the headings (tests read them)
        })["data"]
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(base64.b64decode(data))
    offsite = [u for u in log.requests if not u.startswith((server.url, "data:", "blob:", "about:"))]
    # the single page links the theme's search script, whose index singlehtml does not write
    failures = [f for f in log.failures if not f.endswith("/searchindex.js")]
    return {**facts, "offsite": offsite, "failures": failures, "exceptions": log.exceptions}


def build_pdf(path_output: Path = ROOT, pdf: Path | None = None) -> tuple[Path, dict]:
    pdf = pdf or path_output / "_build" / "pdf" / PDF_NAME
    facts = print_pdf(build_singlehtml(path_output), pdf)
    if facts["broken"] or facts["offsite"] or facts["failures"] or facts["typeset"] < facts["math"]:
        raise RuntimeError(f"the printed page is incomplete: {facts}")
    return pdf, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path-output", type=Path, default=ROOT, help="where _build/ goes (default: the book)")
    parser.add_argument("--output", type=Path, default=None, help=f"the PDF (default: _build/pdf/{PDF_NAME})")
    args = parser.parse_args(argv)
    pdf, facts = build_pdf(args.path_output, args.output)
    print(f"PDF: {pdf} ({pdf.stat().st_size / 1e6:.1f} MB; {facts['images']} images, {facts['typeset']} formulas)")
    return 0


# -- the Sphinx side -------------------------------------------------------------------------


def _share_html_visitors(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    if "singlehtml" in handlers:
        for node, visitors in handlers.get("html", {}).items():
            handlers["singlehtml"].setdefault(node, visitors)


def setup(app) -> dict:
    app.connect("builder-inited", _share_html_visitors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    raise SystemExit(main())
