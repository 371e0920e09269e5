"""embedlib.geometry against slow loops, scipy, scikit-learn and gensim's own evaluations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from embedlib.data import analogy_questions, dataset_path, word_pairs
from embedlib.geometry import (
    WordVectors,
    analogy,
    direction,
    evaluate_analogies,
    analogy_predictions,
    minilm_word_vectors,
    nearest_group_share,
    nearest_neighbours,
    pca,
    project,
    random_offset_cosines,
    rankdata,
    ranking_gaps,
    spearman,
    word_similarity_spearman,
)
from embedlib.similarity import cosine_similarity


@pytest.fixture(scope="module")
def minilm() -> WordVectors:
    return minilm_word_vectors()


def random_vectors(n: int = 60, d: int = 8, seed: int = 0) -> WordVectors:
    generator = torch.Generator().manual_seed(seed)
    words = [f"w{i}" for i in range(n)]
    return WordVectors(words, torch.randn(n, d, generator=generator) * torch.rand(n, 1, generator=generator) * 3)


def slow_analogy(vectors: WordVectors, a: str, b: str, c: str) -> str:
    """3CosAdd one candidate at a time."""
    target = sum(sign * vectors.vector(w) / vectors.vector(w).norm() for sign, w in ((-1, a), (1, b), (1, c)))
    best, best_score = None, -2.0
    for word in vectors.words:
        if word in (a, b, c):
            continue
        score = float(cosine_similarity(vectors.vector(word), target))
        if score > best_score:
            best, best_score = word, score
    return best


def test_minilm_rows_are_single_token_words(minilm):
    from embedlib import load_tokenizer

    tokenizer = load_tokenizer()
    assert len(minilm) == 21_745
    assert minilm.matrix.shape == (21_745, 384)
    for word in minilm.words[::997]:
        assert tokenizer.tokenize(word) == [word]
        assert torch.equal(minilm.vector(word), embedlib_row(word))


def embedlib_row(word: str) -> torch.Tensor:
    from embedlib import load_model, load_tokenizer

    return load_model().get_input_embeddings().weight.detach()[load_tokenizer().convert_tokens_to_ids(word)]


def test_unknown_word_names_it_and_close_matches(minilm):
    with pytest.raises(KeyError, match=r"'kingg' is not in the vocabulary.*close matches: king"):
        minilm.vector("kingg")
    with pytest.raises(KeyError, match="'zzzqqq'"):
        analogy(minilm, "man", "king", "zzzqqq")


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="does not fit 3 words"):
        WordVectors(["a", "b", "c"], torch.zeros(2, 4))


def test_king_minus_man_plus_woman_is_queen(minilm):
    answers = analogy(minilm, "man", "king", "woman", topn=5)
    assert answers[0][0] == "queen"
    assert not {"man", "king", "woman"} & {w for w, _ in answers}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_analogy_matches_slow_loop_and_gensim(seed):
    vectors = random_vectors(seed=seed)
    keyed = vectors.to_keyedvectors()
    for a, b, c in [("w0", "w1", "w2"), ("w5", "w9", "w33"), ("w59", "w3", "w10")]:
        ours = analogy(vectors, a, b, c, topn=5)
        assert ours[0][0] == slow_analogy(vectors, a, b, c)
        theirs = keyed.most_similar(positive=[b, c], negative=[a], topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_nearest_neighbours_match_gensim(minilm):
    keyed = minilm.to_keyedvectors()
    for word in ("king", "paris", "dog"):
        ours = nearest_neighbours(minilm, word, topn=10)
        theirs = keyed.most_similar(word, topn=10)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_nearest_neighbours_rejects_topn_zero(minilm):
    with pytest.raises(ValueError, match="topn=0"):
        nearest_neighbours(minilm, "king", topn=0)


def test_evaluate_analogies_matches_slow_loop():
    vectors = random_vectors(n=30, d=4)
    from embedlib.data import AnalogyQuestion

    generator = np.random.default_rng(0)
    questions = [
        AnalogyQuestion(f"s{i % 3}", *(f"w{j}" for j in generator.choice(30, 4, replace=False))) for i in range(90)
    ]
    questions.append(AnalogyQuestion("s0", "w0", "w1", "w2", "unknown"))
    report = evaluate_analogies(vectors, questions)
    assert report.skipped == 1 and report.answered == 90
    for section in ("s0", "s1", "s2"):
        answerable = [q for q in questions if q.section == section and q.d != "unknown"]
        expected = sum(slow_analogy(vectors, q.a, q.b, q.c) == q.d for q in answerable)
        assert report.correct.get(section, 0) == expected


def test_evaluate_analogies_agrees_with_gensim(minilm, tmp_path):
    """gensim scores one question at a time (minutes for the full set); 60 per section here."""
    by_section: dict[str, list] = {}
    for q in analogy_questions():
        if all(w in minilm for w in (q.a, q.b, q.c, q.d)):
            by_section.setdefault(q.section, []).append(q)
    chosen = [q for questions in by_section.values() for q in questions[:: max(1, len(questions) // 60)][:60]]
    lines = []
    for section in by_section:
        lines.append(f": {section}")
        lines += [f"{q.a} {q.b} {q.c} {q.d}" for q in chosen if q.section == section]
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(lines) + "\n")
    ours = evaluate_analogies(minilm, chosen)
    _, sections = minilm.to_keyedvectors().evaluate_word_analogies(str(path))
    theirs = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections}
    for section in by_section:
        assert (ours.correct.get(section, 0), ours.total[section]) == theirs[section], section
    assert ours.accuracy > 0.6  # a well-trained space; the full set gives about 0.75


@pytest.mark.parametrize(
    "values",
    [[3.0, 1.0, 2.0], [1.0, 1.0, 2.0, 2.0, 2.0, 0.5], [5.0] * 4, list(np.random.default_rng(1).integers(0, 5, 40))],
)
def test_rankdata_matches_scipy(values):
    np.testing.assert_allclose(rankdata(torch.tensor(values, dtype=torch.float64)).numpy(), scipy.stats.rankdata(values))


@pytest.mark.parametrize("seed", [0, 1])
def test_spearman_matches_scipy_with_ties(seed):
    generator = np.random.default_rng(seed)
    x = generator.integers(0, 6, 50).astype(float)
    y = x + generator.normal(0, 2, 50).round()
    assert spearman(torch.tensor(x), torch.tensor(y)) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_rejects_bad_shapes():
    with pytest.raises(ValueError, match="equal length"):
        spearman(torch.ones(3), torch.ones(4))


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_similarity_agrees_with_gensim(minilm, name):
    ours = word_similarity_spearman(minilm, word_pairs(name))
    _, theirs, oov_percent = minilm.to_keyedvectors().evaluate_word_pairs(str(dataset_path(name)))
    assert ours.spearman == pytest.approx(theirs.statistic, abs=1e-6)
    assert 100 * ours.skipped / (ours.used + ours.skipped) == pytest.approx(oov_percent)


def test_word_similarity_needs_known_pairs(minilm):
    with pytest.raises(ValueError, match="only 0 of 1 pairs"):
        word_similarity_spearman(minilm, [("zzzqqq", "king", 5.0)])


def test_direction_and_projection_match_a_loop(minilm):
    pairs = [("man", "woman"), ("king", "queen"), ("he", "she")]
    axis = direction(minilm, pairs)
    slow = sum(minilm.vector(b) / minilm.vector(b).norm() - minilm.vector(a) / minilm.vector(a).norm() for a, b in pairs)
    torch.testing.assert_close(axis, slow / slow.norm())
    words = ["boy", "girl", "actor", "actress"]
    got = project(minilm, words, axis)
    torch.testing.assert_close(got, torch.stack([cosine_similarity(minilm.vector(w), axis) for w in words]))
    assert got[1] > got[0] and got[3] > got[2]  # the female word of each pair lies further along


def test_direction_needs_pairs(minilm):
    with pytest.raises(ValueError, match="at least one"):
        direction(minilm, [])


@pytest.mark.parametrize("shape", [(30, 5), (8, 20)])
def test_pca_matches_scikit_learn(shape):
    from sklearn.decomposition import PCA

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    ours = pca(x, 2).numpy()
    theirs = PCA(2).fit_transform(x.numpy())
    np.testing.assert_allclose(ours, theirs, atol=1e-4)  # same axes and the same sign convention


def test_pca_rejects_too_many_axes():
    with pytest.raises(ValueError, match="k=6"):
        pca(torch.zeros(4, 5), 6)


def slow_baseline(vectors: WordVectors, a: str, b: str, c: str, method: str) -> str:
    """Linzen's baselines one candidate at a time: nearest to c, or to b + c, query words left out."""
    unit = {w: vectors.vector(w) / vectors.vector(w).norm() for w in (a, b, c)}
    target = unit[c] if method == "only-c" else unit[b] + unit[c]
    candidates = [w for w in vectors.words if w not in (a, b, c)]
    return max(candidates, key=lambda w: float(cosine_similarity(vectors.vector(w), target)))


@pytest.mark.parametrize("method", ["only-c", "ignore-a"])
def test_analogy_baselines_match_slow_loop(method):
    vectors = random_vectors(seed=3)
    rows = [(0, 1, 2), (5, 9, 11), (40, 3, 17), (8, 8, 20)]
    got = analogy_predictions(vectors, torch.tensor(rows), batch_size=2, method=method)
    for (a, b, c), answer in zip(rows, got.tolist()):
        words = [vectors.words[i] for i in (a, b, c)]
        assert vectors.words[answer] == slow_baseline(vectors, *words, method)


def test_only_c_is_the_nearest_neighbour_of_c(minilm):
    row = minilm.ids(["man", "king", "woman"])[None]
    answer = minilm.words[int(analogy_predictions(minilm, row, method="only-c")[0])]
    assert answer == nearest_neighbours(minilm, "woman", topn=1, exclude=("man", "king"))[0][0]


def test_analogy_method_and_shape_are_checked(minilm):
    with pytest.raises(ValueError, match="3cosadd"):
        analogy_predictions(minilm, torch.tensor([[0, 1, 2]]), method="3cosmul")
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        analogy_predictions(minilm, torch.tensor([0, 1, 2]))


def test_baselines_score_below_3cosadd_on_minilm(minilm):
    questions = [q for q in analogy_questions() if q.section == "family"]
    add = evaluate_analogies(minilm, questions).accuracy
    only_c = evaluate_analogies(minilm, questions, method="only-c").accuracy
    assert 0 < only_c < add


def test_random_offset_cosines_match_a_loop():
    vectors = random_vectors(n=30, d=5, seed=4)
    axis = torch.randn(5, generator=torch.Generator().manual_seed(1))
    got = random_offset_cosines(vectors, axis, n_pairs=50, seed=7)
    generator = torch.Generator().manual_seed(7)
    x = torch.randint(30, (50,), generator=generator)
    y = (x + torch.randint(1, 30, (50,), generator=generator)) % 30
    for k in range(50):
        assert x[k] != y[k]
        offset = vectors.vector(vectors.words[y[k]]) / vectors.vector(vectors.words[y[k]]).norm()
        offset = offset - vectors.vector(vectors.words[x[k]]) / vectors.vector(vectors.words[x[k]]).norm()
        assert float(got[k]) == pytest.approx(float(cosine_similarity(offset, axis)), abs=1e-5)


def test_random_offset_cosines_of_isotropic_vectors_have_sd_one_over_root_d():
    d = 64
    vectors = WordVectors([str(i) for i in range(4000)], torch.randn(4000, d, generator=torch.Generator().manual_seed(0)))
    cosines = random_offset_cosines(vectors, torch.ones(d), n_pairs=20_000)
    assert float(cosines.std()) == pytest.approx(d**-0.5, rel=0.05)
    with pytest.raises(ValueError, match="at least one"):
        random_offset_cosines(vectors, torch.ones(d), n_pairs=0)


def slow_group_share(matrix, labels, metric):
    hits = 0
    for i in range(len(labels)):
        others = [j for j in range(len(labels)) if j != i]
        if metric == "cosine":
            best = max(others, key=lambda j: float(cosine_similarity(matrix[i], matrix[j])))
        else:
            best = min(others, key=lambda j: float((matrix[i] - matrix[j]).norm()))
        hits += labels[i] == labels[best]
    return hits / len(labels)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_nearest_group_share_matches_a_loop(metric):
    matrix = torch.randn(25, 3, generator=torch.Generator().manual_seed(2))
    labels = [str(i % 3) for i in range(25)]
    assert nearest_group_share(matrix, labels, metric) == pytest.approx(slow_group_share(matrix, labels, metric))


def test_nearest_group_share_of_separate_groups_is_one():
    matrix = torch.tensor([[10.0, 0.1], [10.0, -0.1], [0.1, 10.0], [-0.1, 10.0]])
    assert nearest_group_share(matrix, ["a", "a", "b", "b"]) == 1.0
    with pytest.raises(ValueError, match="labels"):
        nearest_group_share(matrix, ["a", "b"])
    with pytest.raises(ValueError, match="metric"):
        nearest_group_share(matrix, ["a", "a", "b", "b"], metric="manhattan")


def test_ranking_gaps():
    assert ranking_gaps([("a", 0.9), ("b", 0.5), ("c", 0.5)]) == pytest.approx([0.4, 0.0])
    with pytest.raises(ValueError, match="sorted"):
        ranking_gaps([("a", 0.1), ("b", 0.5)])


def test_degenerate_questions_split_by_a_loop():
    from embedlib.data import AnalogyQuestion
    from embedlib.geometry import degenerate_questions

    questions = [
        AnalogyQuestion("s", "walk", "walk", "run", "run"),  # d == c
        AnalogyQuestion("s", "a", "b", "c", "b"),  # d == b
        AnalogyQuestion("s", "walk", "walk", "swim", "swam"),  # a == b, offset zero
        AnalogyQuestion("s", "man", "king", "woman", "queen"),
    ]
    split = degenerate_questions(questions)
    assert split["answer_in_query"] == questions[:2]
    assert split["repeated_query"] == [questions[2]]
    assert split["distinct"] == [questions[3]]
    assert degenerate_questions([]) == {"answer_in_query": [], "repeated_query": [], "distinct": []}


def test_unstemmed_analogy_set_has_no_degenerate_questions():
    from embedlib.geometry import degenerate_questions

    split = degenerate_questions(analogy_questions())
    assert not split["answer_in_query"] and not split["repeated_query"]


def test_word2vec_with_zero_epochs_returns_the_initial_vectors():
    from embedlib.word2vec import planted_corpus, train_word2vec

    corpus = planted_corpus(n_sentences=200, seed=0)
    untrained = train_word2vec(corpus, dim=8, epochs=0, min_count=1, seed=3, progress=False)
    trained = train_word2vec(corpus, dim=8, epochs=1, min_count=1, seed=3, progress=False)
    assert untrained.losses == [] and untrained.words_trained == 0
    assert torch.all(untrained.input_vectors.abs() <= 0.5 / 8)
    assert untrained.pairs_trained == 0 < trained.pairs_trained
    assert torch.equal(untrained.output_vectors, torch.zeros_like(untrained.output_vectors))
    assert not torch.equal(untrained.output_vectors, trained.output_vectors)
    with pytest.raises(ValueError, match="epochs"):
        train_word2vec(corpus, dim=8, epochs=-1, min_count=1, progress=False)


class _ByteBpeTokenizer:
    def get_vocab(self):
        return {"\u0120king": 3, "king": 0, "\u0120the": 1, "\u0120King": 4, "\u01201999": 2, "\u0120queen": 5}


class _Model:
    def __init__(self, rows: torch.Tensor):
        self.table = torch.nn.Embedding.from_pretrained(rows)

    def get_input_embeddings(self) -> torch.nn.Embedding:
        return self.table


def test_decoder_word_vectors_keeps_space_prefixed_words_in_id_order():
    from embedlib.geometry import decoder_word_vectors

    rows = torch.arange(12.0).reshape(6, 2)
    vectors = decoder_word_vectors(_Model(rows), _ByteBpeTokenizer())
    assert vectors.words == ["the", "king", "queen"]  # ids 1, 3, 5; no "King", "1999", bare "king"
    assert torch.equal(vectors.matrix, rows[[1, 3, 5]])
    with pytest.raises(ValueError, match="byte-level BPE"):
        decoder_word_vectors(_Model(rows), _ByteBpeTokenizer(), pattern=r"[A-Z]\d+")


def test_decoder_word_vectors_of_smollm2():
    from embedlib.geometry import decoder_word_vectors
    from embedlib.models import load_model, load_tokenizer

    vectors = decoder_word_vectors(load_model("smollm2"), load_tokenizer("smollm2"))
    assert vectors.matrix.shape[1] == 576 and len(vectors) > 10_000
    assert vectors.words.index("the") < vectors.words.index("king") < 20_000
