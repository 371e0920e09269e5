"""gensim's bundled evaluation data, parsed."""

from __future__ import annotations

import pytest

from embedlib import data


def test_analogy_questions_have_sections_and_four_words():
    questions = data.analogy_questions()
    assert len(questions) == 19544
    assert len({q.section for q in questions}) == 14
    first = questions[0]
    assert (first.section, first.a, first.b, first.c, first.d) == ("capital-common-countries", "athens", "greece", "baghdad", "iraq")


@pytest.mark.parametrize("name, count", [("wordsim353.tsv", 353), ("simlex999.txt", 999)])
def test_word_pairs_are_complete(name, count):
    pairs = data.word_pairs(name)
    assert len(pairs) == count
    assert all(0.0 <= score <= 10.0 for _, _, score in pairs)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="questions-words.txt"):
        data.dataset_path("imagenet")


def test_word_pairs_rejects_a_file_without_pairs():
    with pytest.raises(ValueError, match="no word pairs"):
        data.word_pairs("lee.cor")


def test_corpus_lines_are_documents():
    assert len(data.read_lines("lee_background.cor")) == 300


def test_a_file_that_is_not_utf8_is_read_as_latin1():
    text = data.read_text("lee.cor")
    assert "£" in text and "\ufffd" not in text
