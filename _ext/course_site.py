"""Local Sphinx extension for the course's website: offline MathJax, tidy page chrome.

1. Serve MathJax 3 from the built site itself, so pages typeset math with no network.

Where MathJax comes from: the pinned PyPI package ``django-static-mathjax`` (listed in
``requirements.txt``, so ``make site`` installs it with everything else) vendors the MathJax
3.2.2 distribution under ``mathjax/static/mathjax/es5/``. This extension copies that ``es5``
folder into the output as ``_static/mathjax/`` after the HTML build, and ``_config.yml`` sets
``mathjax_path: mathjax/tex-mml-chtml.js``, which Sphinx resolves relative to ``_static/``.
MathJax then loads its fonts and lazily loaded extensions relative to that file, from the
same site.

Why not a ``_static/`` folder in the repository: Jupyter Book adds every ``.js`` file found
there to every page, which would load all of MathJax's components everywhere. Copying from the
installed package also keeps 24 MB of third-party files out of the repository.

2. Drop duplicated inline scripts from each page. In this stack (Jupyter Book 1.0.4,
sphinx-thebe 0.3.1) sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``)
ends up twice in every page's head, and the second copy throws "Identifier 'THEBE_JS_URL' has
already been declared" in the browser. The website test fails on any JavaScript error, so the
duplicate is removed here rather than tolerated there.

3. No second search bar. With sphinx-book-theme 1.3 / pydata-sphinx-theme 0.17 the pages get a
full-width top bar holding only a search field, a duplicate of the one in the sidebar (the
article header keeps a search icon on narrow screens). Emptying pydata's ``navbar_persistent``
removes that bar. This is set here rather than under ``sphinx.config`` in ``_config.yml``,
where an ``html_theme_options`` key would replace Jupyter Book's theme options (launch and
repository buttons) instead of adding to them.

4. The Colab and download buttons of a chapter open its learner's copy, ``learner/NN.ipynb``
(plain Jupyter Markdown, no MyST roles: see ``scripts/learner_notebooks.py``), not the book
source. The copies are served from the site's ``learner/`` folder.

5. Each page's footer says when its source last changed, from git (``git log -1``), not
when the site was built; without git (an exported tarball) it says nothing.

Also loaded from here: ``bibliography_style`` (author-year list labels, linked entries) and
``site_weight`` (a Font Awesome subset, lazy images, no source maps), ``book_pdf`` (the
``singlehtml`` build that ``make pdf`` prints), and ``course.css``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PACKAGE = "django-static-mathjax"
TARGET = "mathjax"  # folder under the output's _static/
STAMP = ".copied-from"  # records which MathJax copy the output holds


def mathjax_es5_dir() -> Path:
    """The ``es5`` folder of the installed MathJax distribution (raise if it is missing)."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"MathJax is not installed: the package {PACKAGE} is missing from this environment. "
            "Fix: `pip install -r requirements.txt` (make site does it for you)."
        )
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise ExtensionError(
            f"{es5} does not hold MathJax's tex-mml-chtml.js; reinstall {PACKAGE} from requirements.txt."
        )
    return es5


def _configure(app: Sphinx, config) -> None:
    config.html_theme_options = {**config.html_theme_options, "navbar_persistent": []}
    expected = f"{TARGET}/tex-mml-chtml.js"
    if config.mathjax_path != expected:
        raise ExtensionError(
            f"mathjax_path is {config.mathjax_path!r}; set it to {expected!r} under sphinx.config in "
            "_config.yml so that pages load the local MathJax copy instead of a CDN."
        )
    mathjax_es5_dir()  # fail early, before reading any page


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_es5_dir()
    target = Path(app.outdir) / "_static" / TARGET
    stamp, origin = target / STAMP, f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"
    if stamp.is_file() and stamp.read_text() == origin:
        return  # an incremental rebuild: the copy is already there
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=_unused_mathjax)
    stamp.write_text(origin)


def _unused_mathjax(folder: str, names: list[str]) -> list[str]:
    """What the pages never load: every combined build but tex-mml-chtml.js (latest.js would
    even fetch MathJax from a CDN), node-main.js, and the SVG output (pages use CommonHTML).
    Kept: input extensions, fonts, the menu, accessibility and its speech rules, all of which
    MathJax loads lazily from beside the main file."""
    if Path(folder) == mathjax_es5_dir():
        return [n for n in names if n.endswith(".js") and n != "tex-mml-chtml.js"]
    if Path(folder).name == "output":
        return [n for n in names if n.startswith("svg")]
    return []


def _git_date(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    source = app.env.doc2path(pagename) if pagename in app.env.all_docs else None
    if source is None:
        return
    try:
        date = subprocess.run(
            ["git", "log", "-1", "--format=%cs", "--", str(source)],
            cwd=app.srcdir, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        date = ""
    context["last_updated"] = date or None


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # The same inline script is registered once with filename None and once with "".
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


LEARNER = "learner"  # the learner notebooks' folder, in the repository and in the site


def _learner_buttons(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Chapters: Colab and the one download open the learner copy. Other pages: no download of
    a source the site does not serve (``html_copy_source`` is off)."""
    stem = pagename.removeprefix("chapters/") if pagename.startswith("chapters/") else None
    if stem is not None and not (Path(app.srcdir) / LEARNER / f"{stem}.ipynb").is_file():
        raise ExtensionError(f"{LEARNER}/{stem}.ipynb is missing: run `make learner` and commit it.")
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            kept = [b for b in group["buttons"] if b.get("label") == "download-pdf-button"]
            if stem is not None:
                kept.insert(0, {
                    "type": "link", "url": context["pathto"](f"{LEARNER}/{stem}.ipynb", 1),
                    "text": ".ipynb", "tooltip": "Download the notebook (plain Jupyter)",
                    "icon": "fas fa-file", "label": "download-source-button",
                })
            group["buttons"] = kept
        for button in group.get("buttons", [group]):
            url = button.get("url", "")
            if stem is not None and "colab.research.google.com" in url:
                button["url"] = url.replace(f"/{pagename}.ipynb", f"/{LEARNER}/{stem}.ipynb")


def _copy_learner_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / LEARNER
    target.mkdir(exist_ok=True)
    for notebook in sorted((Path(app.srcdir) / LEARNER).glob("*.ipynb")):
        shutil.copyfile(notebook, target / notebook.name)


def setup(app: Sphinx) -> dict:
    app.setup_extension("bibliography_style")
    app.setup_extension("site_weight")
    app.setup_extension("book_pdf")
    app.config.html_static_path.append(str(Path(__file__).with_name("static")))
    app.add_css_file("course.css")
    app.connect("html-page-context", _git_date)
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.connect("html-page-context", _learner_buttons, priority=900)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _copy_learner_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
