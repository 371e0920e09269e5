"""The bibliography's list labels match the text's author-year citations, and entries link.

sphinxcontrib-bibtex cites in the text as "Ainslie et al., 2023" (``bibtex_reference_style:
author_year``) but labels the bibliography list with pybtex's ``alpha`` style ("[ALTdJ+23]"),
so a reader cannot match the two. This registers the pybtex formatting style ``course``
(``bibtex_default_style: course`` in ``_config.yml``): labels "Ainslie et al., 2023", and each
entry ends with a link to the paper, from its ``doi``, ``url``, or an arXiv id in its fields.
"""

from __future__ import annotations

import re

from pybtex.plugin import register_plugin
from pybtex.richtext import HRef, Text
from pybtex.style.formatting import FormattedEntry
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

ARXIV = re.compile(r"arXiv:\s*(\d{4}\.\d{4,5})", re.I)


def author_year(entry) -> str:
    """"Surname, year", "A and B, year" or "A et al., year", as the text cites the entry."""
    people = entry.persons.get("author", []) or entry.persons.get("editor", [])
    surnames = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
    if len(surnames) > 2 or "others" in surnames:
        who = f"{surnames[0]} et al."
    else:
        who = " and ".join(surnames) or entry.fields.get("title", entry.key)
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def paper_url(entry) -> str | None:
    """Where to read the paper: its DOI, its URL, or its arXiv page (None if none is known)."""
    fields = entry.fields
    if "doi" in fields:
        return f"https://doi.org/{fields['doi']}"
    if "url" in fields:
        return fields["url"]
    arxiv = ARXIV.search(" ".join(fields.get(f, "") for f in ("eprint", "note", "journal")))
    return f"https://arxiv.org/abs/{arxiv.group(1)}" if arxiv else None


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels; entries that share one get a, b, c in list order (2013a, 2013b)."""

    def format_labels(self, sorted_entries):
        labels = [author_year(entry) for entry in sorted_entries]
        seen: dict[str, int] = {}
        for label in labels:
            if labels.count(label) > 1:
                seen[label] = seen.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class CourseStyle(UnsrtStyle):
    default_label_style = "course_author_year"
    default_sorting_style = "author_year_title"

    def format_entry(self, label, entry, bib_data=None):
        formatted = super().format_entry(label, entry, bib_data=bib_data)
        url = paper_url(entry)
        if url is None or "url" in entry.fields or "doi" in entry.fields:
            return formatted  # unsrt already links a DOI or URL field
        text = Text(formatted.text, " ", HRef(url, Text(url.removeprefix("https://"))))
        return FormattedEntry(formatted.key, text, formatted.label)


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.labels", "course_author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "course", CourseStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
