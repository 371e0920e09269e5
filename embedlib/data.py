"""Real evaluation data that ships inside gensim's wheel (no download needed).

``gensim.test.utils.datapath`` points into ``gensim/test/test_data``. The files used here:

- ``questions-words.txt``: Mikolov et al.'s analogy set (arXiv:1301.3781), 14 sections;
- ``wordsim353.tsv``: WordSim-353 (Finkelstein et al., 2002), human relatedness 0-10;
- ``simlex999.txt``: SimLex-999 (Hill et al., 2015), human similarity 0-10;
- ``head500.noblanks.cor``: 500 Wikipedia articles, Porter-stemmed, stopwords removed;
- ``lee_background.cor`` / ``lee.cor``: news articles (Lee et al., 2005), plain English.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KNOWN_FILES = (
    "questions-words.txt",
    "wordsim353.tsv",
    "simlex999.txt",
    "head500.noblanks.cor",
    "lee_background.cor",
    "lee.cor",
)


def dataset_path(name: str) -> Path:
    """Absolute path of one of gensim's bundled data files."""
    if name not in KNOWN_FILES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(KNOWN_FILES)}")
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall gensim (`pip install gensim`).")
    return path


def read_text(name: str) -> str:
    """The whole file as text: UTF-8, or Latin-1 for a file that is not valid UTF-8.

    ``lee.cor`` holds one Latin-1 byte (a pound sign, 0xA3), so it is read as Latin-1.
    """
    raw = dataset_path(name).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_lines(name: str) -> list[str]:
    """Non-empty lines of a corpus file, one document per line, stripped."""
    return [line.strip() for line in read_text(name).splitlines() if line.strip()]


@dataclass(frozen=True)
class AnalogyQuestion:
    """``a : b :: c : d`` (for example ``man : king :: woman : queen``)."""

    section: str
    a: str
    b: str
    c: str
    d: str


def analogy_questions(lowercase: bool = True) -> list[AnalogyQuestion]:
    """All questions of ``questions-words.txt`` with their section names."""
    questions: list[AnalogyQuestion] = []
    section = ""
    for line in read_lines("questions-words.txt"):
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.lower().split() if lowercase else line.split()
        questions.append(AnalogyQuestion(section, *words))
    return questions


def word_pairs(name: str) -> list[tuple[str, str, float]]:
    """Word pairs with a human score from ``wordsim353.tsv`` or ``simlex999.txt``."""
    if name not in ("wordsim353.tsv", "simlex999.txt"):
        raise ValueError(f"{name!r} holds no word pairs; use 'wordsim353.tsv' or 'simlex999.txt'")
    pairs = []
    for line in read_lines(name):
        if line.startswith("#"):
            continue
        first, second, score = line.split("\t")
        pairs.append((first.lower(), second.lower(), float(score)))
    return pairs
